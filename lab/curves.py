"""Deterministic shapes the room model is built from: seeded numbers, noise, the daily curve.

Nothing here is random: every number is derived from names (rack, device) and
the time, so a given `now` always gives the same room and a test can inject it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, tzinfo

DAY = 86400.0
OMEGA = 2 * math.pi / DAY
NOISE_KNOT = 300.0  # seconds between the knots of the smooth noise
LOW_HOUR = 3.0  # the daily curve is lowest at 03:00 and highest twelve hours later


def unit(*parts: object) -> float:
    """A number in [0, 1) derived from `parts`: the lab's only source of variety."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def spread(*parts: object) -> float:
    """Like `unit`, centred: a number in [-1, 1)."""
    return unit(*parts) * 2 - 1


def noise(key: str, now: float, knot: float = NOISE_KNOT) -> float:
    """Smooth noise in [-1, 1]: seeded knots every `knot` seconds, eased in between."""
    k = math.floor(now / knot)
    f = now / knot - k
    f = f * f * (3 - 2 * f)
    a, b = spread(key, k), spread(key, k + 1)
    return a + (b - a) * f


def utc_offset(tz: tzinfo, now: float) -> float:
    offset = datetime.fromtimestamp(now, tz).utcoffset()
    return offset.total_seconds() if offset is not None else 0.0


def local_hour(tz: tzinfo, now: float) -> float:
    return ((now + utc_offset(tz, now)) / 3600.0) % 24.0


def daily_curve(hour: float, shift: float = 0.0) -> float:
    """0 at 03:00 (+shift), 1 at 15:00 (+shift): office hours high, the small hours low."""
    return 0.5 - 0.5 * math.cos(2 * math.pi * (hour - LOW_HOUR - shift) / 24.0)


def daily_curve_integral(t0: float, t1: float, offset: float, shift: float = 0.0) -> float:
    """∫ daily_curve dt over [t0, t1] in seconds, with a constant UTC offset.

    Closed form, so energy counters follow from `now` alone and never decrease.
    """
    phase = 2 * math.pi * (LOW_HOUR + shift) / 24.0
    s1 = math.sin(OMEGA * (t1 + offset) - phase)
    s0 = math.sin(OMEGA * (t0 + offset) - phase)
    return 0.5 * (t1 - t0) - 0.5 / OMEGA * (s1 - s0)


@dataclass(frozen=True)
class RackProfile:
    """How one rack's IT load moves through the day (seeded from the rack's name)."""

    name: str
    peak_kw: float
    night_ratio: float  # load at the low point as a share of the peak
    shift_h: float  # the rack's curve runs this many hours late
    inlet_offset_c: float  # where the rack stands in the cold aisle
    humidity_base: float  # percent RH

    @classmethod
    def seeded(cls, name: str, budget_kw: float) -> RackProfile:
        return cls(
            name=name,
            peak_kw=budget_kw * (0.42 + 0.28 * unit(name, "peak")),
            night_ratio=0.62 + 0.12 * unit(name, "night"),
            shift_h=spread(name, "shift"),
            inlet_offset_c=0.7 * spread(name, "inlet"),
            humidity_base=47.0 + 3.0 * spread(name, "rh"),
        )

    def load_kw(self, tz: tzinfo, now: float) -> float:
        curve = daily_curve(local_hour(tz, now), self.shift_h)
        base = self.peak_kw * (self.night_ratio + (1 - self.night_ratio) * curve)
        return base * (1 + 0.02 * noise(self.name + "/load", now))

    def energy_kwh(self, tz: tzinfo, since: float, now: float) -> float:
        """Energy drawn from `since` to `now` (without the noise, which averages out)."""
        if now <= since:
            return 0.0
        offset = utc_offset(tz, now)
        seconds = self.night_ratio * (now - since) + (1 - self.night_ratio) * daily_curve_integral(
            since, now, offset, self.shift_h
        )
        return self.peak_kw * seconds / 3600.0
