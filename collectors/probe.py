"""`dcops snmp probe`: detect one device, poll it once, and present its readings.

The poller publishes Samples in base units (a percentage is a ratio 0–1,
energy is joules); a person reading a probe expects percent and kWh.
`present()` is the one place that converts, by the table `PRESENTATION`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .profile import SYS_DESCR, SYS_OBJECT_ID, Measured, Profile, detection_oids, measure, probe_prefixes, select
from .snmp import SnmpError, SnmpTransport, Target, Value

# Sample unit → (unit shown by the probe, factor). Power factor stays a ratio (it is not a percentage).
PRESENTATION: Mapping[str, tuple[str, float]] = {
    "ratio": ("percent", 100.0),
    "joules": ("kilowatthours", 1 / 3.6e6),
}
KEEP_RATIO = frozenset({"power_factor"})


class UnknownDevice(SnmpError):
    """The device answered, but no profile matches it."""


@dataclass(frozen=True)
class ProbeResult:
    sysobjectid: str
    sysdescr: str
    profiles: tuple[str, ...]
    readings: tuple[Measured, ...]
    duration: float


def present(m: Measured) -> dict[str, Any]:
    """One reading as the probe prints it (and as `--json` emits it)."""
    s = m.sample
    unit, value = s.unit, s.value
    if unit in PRESENTATION and m.cls not in KEEP_RATIO:
        unit, factor = PRESENTATION[unit]
        value = round(value * factor, 9)
    out: dict[str, Any] = {"class": m.cls, "name": m.name, "oid": s.oid, "value": value, "unit": unit,
                           "profile": m.profile, "metric": s.metric, "labels": dict(s.labels)}
    if unit == "state":
        out["value"] = int(s.value)
        out["text"] = s.text
    return out


async def _prefixes(transport: SnmpTransport, target: Target, profiles: Sequence[Profile],
                    facts: Mapping[str, Value]) -> set[str]:
    return {p for p in probe_prefixes(profiles, facts) if await transport.walk(target, p)}


async def collect(
    transport: SnmpTransport, target: Target, profiles: Sequence[Profile]
) -> tuple[dict[str, Value], dict[str, list[tuple[str, Value]]]]:
    """GET every profile's scalars and walk its tables, once."""
    scalars = list(dict.fromkeys(o for p in profiles for o in p.scalars))
    walks = list(dict.fromkeys(w for p in profiles for w in p.walks))
    values = await transport.get(target, scalars) if scalars else {}
    walked = {root: await transport.walk(target, root) for root in walks}
    return values, walked


async def probe(
    transport: SnmpTransport, target: Target, profiles: Sequence[Profile], *, device: str = "",
    clock: Any = time.time,
) -> ProbeResult:
    """Detect the device's profiles, poll it once, return its readings; SnmpError when it cannot."""
    started = time.monotonic()
    facts = await transport.get(target, detection_oids(profiles))
    if facts.get(SYS_OBJECT_ID) is None and facts.get(SYS_DESCR) is None:
        raise SnmpError(f"{target.host}:{target.port} answered without sysObjectID or sysDescr")
    chosen = select(profiles, facts, await _prefixes(transport, target, profiles, facts))
    oid = str(facts.get(SYS_OBJECT_ID) or "").strip(".")
    descr = str(facts.get(SYS_DESCR) or "")
    if not chosen:
        raise UnknownDevice(f"no profile matches sysObjectID {oid or '-'} ({descr[:60]!r})")
    scalars, walked = await collect(transport, target, chosen)
    ts = clock()
    readings = [m for p in chosen for m in measure(p, device or target.host, scalars, walked, ts)]
    return ProbeResult(oid, descr, tuple(p.name for p in chosen), tuple(readings), time.monotonic() - started)
