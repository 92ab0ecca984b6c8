"""Device profiles: YAML data saying which OIDs a device family answers and what they mean.

A profile (collectors/profiles/*.yml) is read strictly, like the inventory
(file, line and key in every error; collectors/profile_load.py). `select()`
picks profiles for a device from its sysObjectID, sysDescr and a few probe
OIDs; `measure()` turns the values an agent returned into readings and
`evaluate()` into Samples. No vendor logic lives in Python: scale, unit,
index labels, lookups, enumerations, per-row divisors, validity columns and
type columns are all data (collectors/README.md lists the keys).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from dcops.types import Sample

from .profile_load import PROFILES_DIR, load_profile, load_profiles
from .profile_model import DBM_FLOOR, SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME, Kind, Match, Profile, Reading
from .snmp import Value

__all__ = ["PROFILES_DIR", "SYS_DESCR", "SYS_OBJECT_ID", "SYS_UPTIME", "Kind", "Match", "Measured", "Profile",
           "Reading", "detection_oids", "evaluate", "load_profile", "load_profiles", "measure", "probe_prefixes",
           "select"]

NUMBER_RE = re.compile(r"-?\d*\.?\d+")


@dataclass(frozen=True)
class Measured:
    """One reading as the probe shows it: the Sample plus what kind of thing it is and where it came from."""

    sample: Sample
    cls: str
    reading: str
    profile: str
    name: str
    raw: Value


def detection_oids(profiles: Sequence[Profile]) -> list[str]:
    oids = [SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME]
    for p in profiles:
        oids += [o for o in p.has_oid if o not in oids]
    return oids


def probe_prefixes(profiles: Sequence[Profile], facts: Mapping[str, Value]) -> list[str]:
    """The has_oid_prefix subtrees worth walking: those of matches whose other conditions already hold
    (a PDU is not walked for a Liebert PDU table), so detection costs one GET and a few walks."""

    def worth_walking(m: Match) -> bool:
        rest = replace(m, has_oid_prefix=())
        return not rest or rest.fits(facts, set())

    return list(dict.fromkeys(p for c in profiles for m in c.match if m.has_oid_prefix and worth_walking(m)
                              for p in m.has_oid_prefix))


def select(profiles: Sequence[Profile], facts: Mapping[str, Value], prefixes: set[str]) -> list[Profile]:
    """The profiles whose match fits; a profile that `extends` another stands in for it."""
    chosen = [p for p in profiles if p.matches(facts, prefixes)]
    replaced = {name for p in chosen for name in p.replaces}
    return [p for p in chosen if p.name not in replaced]


def _number(value: Value, parse: bool = False) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            num = float(value.strip())
        except ValueError:
            if not parse or not (m := NUMBER_RE.search(value)):
                return None
            num = float(m.group())
        return num if math.isfinite(num) else None
    return None


def _index_labels(reading: Reading, index: str) -> tuple[tuple[str, str], ...]:
    if not reading.index:
        return ()
    parts = index.split(".")
    if len(reading.index) == 1 or len(parts) < len(reading.index):
        return ((reading.index[0], index),)
    head = list(zip(reading.index[:-1], parts, strict=False))
    return (*head, (reading.index[-1], ".".join(parts[len(reading.index) - 1:])))


class _Row:
    """Looks up a row's helper values: in walked columns (tables) or fetched instances (scalars)."""

    def __init__(self, scalars: Mapping[str, Value], walked: Mapping[str, Sequence[tuple[str, Value]]]):
        self.scalars = scalars
        self.walked = walked
        self._columns: dict[str, dict[str, Value]] = {}

    def column(self, root: str) -> dict[str, Value]:
        if root not in self._columns:
            n = len(root) + 1
            self._columns[root] = {oid[n:]: v for oid, v in self.walked.get(root, ())}
        return self._columns[root]

    def get(self, rd: Reading, oid: str, index: str) -> Value:
        return self.column(oid).get(index) if rd.table else self.scalars.get(oid)


def _kind(rd: Reading, rows: _Row, index: str) -> Kind | None:
    kb = rd.kinds_by
    if kb is None:
        return rd.kind
    if kb.scalar:
        raw = rows.scalars.get(kb.scalar)
    elif kb.column:
        raw = rows.get(rd, kb.column, index)
    else:
        parts = index.split(".")
        assert kb.index is not None
        raw = parts[kb.index] if -len(parts) <= kb.index < len(parts) else None
    if raw is None and kb.default is not None:
        return kb.kinds[kb.default]
    code = _number(raw)
    if code is not None and code.is_integer() and int(code) in kb.kinds:
        return kb.kinds[int(code)]
    return kb.kinds.get(raw.strip()) if isinstance(raw, str) else None


def _value(rd: Reading, raw: Value) -> float | None:
    num = _number(raw, rd.parse)
    if num is None and rd.enum and isinstance(raw, str):
        by_text = {t.lower(): k for k, t in rd.enum.items()}
        num = float(by_text[raw.strip().lower()]) if raw.strip().lower() in by_text else None
    return num


def _one(rd: Reading, profile: str, device: str, rows: _Row, index: str, raw: Value, ts: float) -> Measured | None:
    if rd.when and not all(w.allows(_number(rows.get(rd, w.column, index))) for w in rd.when):
        return None
    kind = _kind(rd, rows, index)
    num = _value(rd, raw)
    if kind is None or num is None:
        return None
    oid = f"{rd.oid}.{index}" if rd.table else rd.oid
    labels = _index_labels(rd, index) if rd.table else ()
    texts = []
    for lk in rd.lookups:
        key = ".".join(index.split(".")[: lk.prefix]) if lk.prefix else index
        text = rows.column(lk.oid).get(key) if rd.table and not lk.scalar else rows.scalars.get(lk.oid)
        if text is not None and str(text).strip():
            labels = (*labels, (lk.label, str(text).strip()))
            texts.append(str(text).strip())
    name = " ".join([rd.name, *(texts or ([index] if rd.table else []))])
    if kind.unit == "state":
        text = rd.enum.get(int(num), str(int(num))) if rd.enum else ""
        if rd.text and (said := rows.get(rd, rd.text, index)) is not None:
            text = str(said).strip()
        sample = Sample(device=device, metric=kind.metric, value=num, ts=ts, unit="state", labels=labels, oid=oid,
                        text=text)
        return Measured(sample, kind.cls, rd.name, profile, name, raw)
    exp = 0.0
    for e in rd.exponents:
        got = _number(rows.get(rd, e.column, index))
        exp += e.times * ((e.default if got is None else got) + e.offset)
    for b in rd.scale_by:
        num *= b.factor(_number(rows.get(rd, b.column, index)))
    value = num * (10.0 ** exp) * rd.scale * kind.scale + kind.offset + rd.offset
    if rd.decibels:
        value = 10 * math.log10(value) if value > 0 else DBM_FLOOR
    sample = Sample(device=device, metric=kind.metric, value=round(value, 9), ts=ts, unit=kind.unit,
                    labels=labels, oid=oid)
    return Measured(sample, kind.cls, rd.name, profile, name, raw)


def measure(
    profile: Profile,
    device: str,
    scalars: Mapping[str, Value],
    walked: Mapping[str, Sequence[tuple[str, Value]]],
    ts: float,
) -> list[Measured]:
    """Turn what the agent answered into readings; absent or non-numeric values give none."""
    rows = _Row(scalars, walked)
    out: list[Measured] = []
    for rd in profile.readings:
        items = rows.column(rd.oid).items() if rd.table else [("", scalars.get(rd.oid))]
        for index, raw in items:
            m = _one(rd, profile.name, device, rows, index, raw, ts)
            if m is not None:
                out.append(m)
    return out


def evaluate(
    profile: Profile,
    device: str,
    scalars: Mapping[str, Value],
    walked: Mapping[str, Sequence[tuple[str, Value]]],
    ts: float,
) -> list[Sample]:
    """The Samples of `measure()`: what the poller publishes."""
    return [m.sample for m in measure(profile, device, scalars, walked, ts)]
