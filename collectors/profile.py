"""Device profiles: YAML data saying which OIDs a device family answers and what they mean.

A profile (collectors/profiles/*.yml) is read strictly, like the inventory
(file, line and key in every error). `select()` picks profiles for a device
from its sysObjectID, sysDescr and a few probe OIDs; `evaluate()` turns the
values an agent returned into Samples. No vendor logic lives in Python:
scale, unit, index labels, lookups and enumerations are all data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dcops.types import UNITS, Sample
from inventory.strict import InventoryError, LoadError, Reader

from .snmp import Value

PROFILES_DIR = Path(__file__).parent / "profiles"
OID_RE = re.compile(r"^[0-9]+(\.[0-9]+)+$")
METRIC_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
# entPhySensorTable columns (RFC 3433)
ENT_TYPE, ENT_SCALE, ENT_PRECISION, ENT_VALUE, ENT_STATUS = (f"1.3.6.1.2.1.99.1.1.1.{i}" for i in range(1, 6))


@dataclass(frozen=True)
class Kind:
    """What a reading is: class (temperature, state, …), metric name, unit, extra scale."""

    cls: str
    metric: str
    unit: str
    scale: float = 1.0


@dataclass(frozen=True)
class Reading:
    name: str
    kind: Kind
    oid: str
    table: bool = False
    index: tuple[str, ...] = ()
    scale: float = 1.0
    enum: Mapping[int, str] = field(default_factory=dict)
    lookup_label: str = ""
    lookup_oid: str = ""
    entity_types: Mapping[int, Kind] = field(default_factory=dict)

    def walks(self) -> list[str]:
        """The subtrees this reading needs walked (none for a scalar)."""
        if not self.table:
            return []
        roots = [self.oid] + ([self.lookup_oid] if self.lookup_oid else [])
        if self.entity_types:
            roots += [ENT_TYPE, ENT_SCALE, ENT_PRECISION, ENT_STATUS]
        return roots


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    readings: tuple[Reading, ...]
    sysobjectid: tuple[str, ...] = ()
    sysdescr: tuple[re.Pattern[str], ...] = ()
    has_oid: tuple[str, ...] = ()
    has_oid_prefix: tuple[str, ...] = ()

    @property
    def scalars(self) -> list[str]:
        return [r.oid for r in self.readings if not r.table]

    @property
    def walks(self) -> list[str]:
        roots: list[str] = []
        for r in self.readings:
            roots += [w for w in r.walks() if w not in roots]
        return roots

    def matches(self, facts: Mapping[str, Value], prefixes_present: set[str]) -> bool:
        """Do the detection facts (sysObjectID, sysDescr, probe OIDs) fit this profile?"""
        if not (self.sysobjectid or self.sysdescr or self.has_oid or self.has_oid_prefix):
            return False
        oid = str(facts.get(SYS_OBJECT_ID) or "").strip(".")
        if self.sysobjectid and not any(oid == p or oid.startswith(p + ".") for p in self.sysobjectid):
            return False
        descr = str(facts.get(SYS_DESCR) or "")
        if self.sysdescr and not any(rx.search(descr) for rx in self.sysdescr):
            return False
        if any(facts.get(o) is None for o in self.has_oid):
            return False
        return all(p in prefixes_present for p in self.has_oid_prefix)


# ------------------------------------------------------------------ loading

def _oid(r: Reader, node: yaml.Node, path: str) -> str | None:
    raw = node.value if isinstance(node, yaml.ScalarNode) else None
    if raw is None or not OID_RE.match(str(raw).strip(".")):
        r.error(node, path, f"{raw!r} is not a numeric OID")
        return None
    return str(raw).strip(".")


def _oids(r: Reader, node: yaml.Node, path: str) -> tuple[str, ...]:
    return tuple(o for i, n in enumerate(r.sequence(node, path)) if (o := _oid(r, n, f"{path}[{i}]")))


def _kind(r: Reader, m: dict[str, yaml.Node], path: str) -> Kind | None:
    cls = r.name(m["class"], f"{path}.class") if "class" in m else None
    metric = r.string(m["metric"], f"{path}.metric", pattern=METRIC_RE) if "metric" in m else None
    unit = r.string(m["unit"], f"{path}.unit", choices=sorted(UNITS)) if "unit" in m else "state"
    scale = r.number(m["scale"], f"{path}.scale", -1e9, 1e9) if "scale" in m else 1.0
    if cls and metric and unit and scale is not None:
        return Kind(cls, metric, unit, scale)
    return None


READING_KEYS = {"name", "class", "metric", "oid", "table", "index", "scale", "unit", "enum", "lookup",
                "entity_sensor"}


def _reading(r: Reader, node: yaml.Node, path: str) -> Reading | None:
    m = r.mapping(node, path, READING_KEYS, {"name", "class", "metric", "oid"})
    if m is None:
        return None
    name = r.name(m["name"], f"{path}.name") if "name" in m else None
    if name:
        path = f"{path} ({name})"
    kind = _kind(r, {k: v for k, v in m.items() if k in ("class", "metric", "unit")}, path)
    oid = _oid(r, m["oid"], f"{path}.oid") if "oid" in m else None
    table = False
    if "table" in m:
        tnode = m["table"]
        if not (isinstance(tnode, yaml.ScalarNode) and tnode.tag.endswith(":bool")):
            r.error(tnode, f"{path}.table", "expected true or false")
        else:
            table = tnode.value.lower() == "true"
    index = tuple(x for i, n in enumerate(r.sequence(m["index"], f"{path}.index"))
                  if (x := r.name(n, f"{path}.index[{i}]"))) if "index" in m else ()
    if table and not index:
        r.error(node, f"{path}.index", "a table reading needs index labels")
    scale = r.number(m["scale"], f"{path}.scale", -1e9, 1e9) if "scale" in m else 1.0
    enum: dict[int, str] = {}
    if "enum" in m and isinstance(m["enum"], yaml.MappingNode):
        for k, v in m["enum"].value:
            if not (k.tag.endswith(":int")):
                r.error(k, f"{path}.enum.{k.value}", "enumeration keys are integers")
                continue
            text = r.string(v, f"{path}.enum.{k.value}")
            if text:
                enum[int(k.value)] = text
    elif "enum" in m:
        r.error(m["enum"], f"{path}.enum", "expected a mapping of integer: name")
    lookup_label = lookup_oid = ""
    if "lookup" in m:
        lm = r.mapping(m["lookup"], f"{path}.lookup", {"label", "oid"}, {"label", "oid"})
        if lm and "label" in lm and "oid" in lm:
            lookup_label = r.name(lm["label"], f"{path}.lookup.label") or ""
            lookup_oid = _oid(r, lm["oid"], f"{path}.lookup.oid") or ""
    entity: dict[int, Kind] = {}
    if "entity_sensor" in m:
        em = m["entity_sensor"]
        if not isinstance(em, yaml.MappingNode):
            r.error(em, f"{path}.entity_sensor", "expected a mapping of sensor type: kind")
        else:
            for k, v in em.value:
                kp = f"{path}.entity_sensor.{k.value}"
                km = r.mapping(v, kp, {"class", "metric", "unit", "scale"}, {"class", "metric", "unit"})
                kk = _kind(r, km, kp) if km else None
                if kk and k.tag.endswith(":int"):
                    entity[int(k.value)] = kk
    if enum and kind and kind.unit != "state":
        r.error(node, f"{path}.unit", "a reading with an enumeration is a state (leave unit out)")
    if name and kind and oid and scale is not None:
        return Reading(name=name, kind=kind, oid=oid, table=table, index=index, scale=scale, enum=enum,
                       lookup_label=lookup_label, lookup_oid=lookup_oid, entity_types=entity)
    return None


def load_profile(path: Path, errors: list[LoadError]) -> Profile | None:
    r = Reader(path, errors)
    root = r.compose(path.read_text(encoding="utf-8"))
    if root is None:
        return None
    m = r.mapping(root, "", {"name", "description", "match", "readings"}, {"name", "match", "readings"})
    if m is None:
        return None
    name = r.name(m["name"], "name") if "name" in m else None
    descr = r.string(m["description"], "description") if "description" in m else ""
    match: dict[str, yaml.Node] = {}
    if "match" in m:
        match = r.mapping(m["match"], "match", {"sysobjectid", "sysdescr", "has_oid", "has_oid_prefix"}) or {}
    sysdescr: list[re.Pattern[str]] = []
    for i, n in enumerate(r.sequence(match["sysdescr"], "match.sysdescr") if "sysdescr" in match else []):
        text = r.string(n, f"match.sysdescr[{i}]")
        try:
            sysdescr.append(re.compile(text or ""))
        except re.error as exc:
            r.error(n, f"match.sysdescr[{i}]", f"bad regular expression: {exc}")
    readings = [x for i, n in enumerate(r.sequence(m["readings"], "readings") if "readings" in m else [])
                if (x := _reading(r, n, f"readings[{i}]"))]
    if not name:
        return None
    return Profile(
        name=name, description=descr or "", readings=tuple(readings),
        sysobjectid=_oids(r, match["sysobjectid"], "match.sysobjectid") if "sysobjectid" in match else (),
        sysdescr=tuple(sysdescr),
        has_oid=_oids(r, match["has_oid"], "match.has_oid") if "has_oid" in match else (),
        has_oid_prefix=_oids(r, match["has_oid_prefix"], "match.has_oid_prefix")
        if "has_oid_prefix" in match else (),
    )


def load_profiles(directory: Path = PROFILES_DIR) -> dict[str, Profile]:
    """Every profile in a directory; InventoryError lists every problem."""
    errors: list[LoadError] = []
    profiles: dict[str, Profile] = {}
    for path in sorted(directory.glob("*.yml")):
        p = load_profile(path, errors)
        if p is None:
            continue
        if p.name in profiles:
            errors.append(LoadError(str(path), 1, "name", f"duplicate profile name {p.name!r}"))
        profiles[p.name] = p
    if errors:
        raise InventoryError(errors)
    return profiles


# ------------------------------------------------------------------ evaluation

def detection_oids(profiles: Sequence[Profile]) -> list[str]:
    oids = [SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME]
    for p in profiles:
        oids += [o for o in p.has_oid if o not in oids]
    return oids


def select(profiles: Sequence[Profile], facts: Mapping[str, Value], prefixes: set[str]) -> list[Profile]:
    return [p for p in profiles if p.matches(facts, prefixes)]


def _number(value: Value) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _index_labels(reading: Reading, index: str) -> tuple[tuple[str, str], ...]:
    parts = index.split(".")
    if len(reading.index) == 1 or len(parts) < len(reading.index):
        return ((reading.index[0], index),)
    head = list(zip(reading.index[:-1], parts, strict=False))
    return (*head, (reading.index[-1], ".".join(parts[len(reading.index) - 1:])))


def evaluate(
    profile: Profile,
    device: str,
    scalars: Mapping[str, Value],
    walked: Mapping[str, Sequence[tuple[str, Value]]],
    ts: float,
) -> list[Sample]:
    """Turn what the agent answered into Samples; absent or non-numeric values give none."""
    out: list[Sample] = []

    def column(root: str) -> dict[str, Value]:
        n = len(root) + 1
        return {oid[n:]: v for oid, v in walked.get(root, ())}

    for rd in profile.readings:
        if not rd.table:
            raw = scalars.get(rd.oid)
            num = _number(raw)
            if num is not None:
                out.append(_sample(rd, rd.kind, device, num, ts, (), rd.oid))
            continue
        names = column(rd.lookup_oid) if rd.lookup_oid else {}
        entity = ({k: column(c) for k, c in (("type", ENT_TYPE), ("scale", ENT_SCALE),
                                               ("precision", ENT_PRECISION), ("status", ENT_STATUS))}
                  if rd.entity_types else {})
        for index, raw in column(rd.oid).items():
            num = _number(raw)
            if num is None:
                continue
            labels = _index_labels(rd, index)
            if rd.lookup_label and index in names:
                labels = (*labels, (rd.lookup_label, str(names[index]).strip()))
            kind = rd.kind
            if entity:
                etype = _number(entity["type"].get(index))
                if etype is None or int(etype) not in rd.entity_types:
                    continue
                if _number(entity["status"].get(index)) not in (None, 1.0):
                    continue
                kind = rd.entity_types[int(etype)]
                exp = 3 * (int(_number(entity["scale"].get(index)) or 9) - 9)
                exp -= int(_number(entity["precision"].get(index)) or 0)
                num = num * (10.0 ** exp)
            out.append(_sample(rd, kind, device, num, ts, labels, f"{rd.oid}.{index}"))
    return out


def _sample(rd: Reading, kind: Kind, device: str, num: float, ts: float,
            labels: tuple[tuple[str, str], ...], oid: str) -> Sample:
    if rd.enum:
        return Sample(device=device, metric=kind.metric, value=num, ts=ts, unit="state", labels=labels,
                      oid=oid, text=rd.enum.get(int(num), str(int(num))))
    value = num * rd.scale * kind.scale
    return Sample(device=device, metric=kind.metric, value=round(value, 9), ts=ts, unit=kind.unit,
                  labels=labels, oid=oid)
