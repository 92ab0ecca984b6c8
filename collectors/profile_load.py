"""Strict loading of device profiles (collectors/profiles/*.yml): file, line and key in every error."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from dcops.types import UNITS
from inventory.strict import TAG_BOOL, TAG_INT, TAG_STR, InventoryError, LoadError, Reader

from .profile_model import Exponent, Kind, KindsBy, Lookup, Match, Profile, Reading, ScaleBy, When

PROFILES_DIR = Path(__file__).parent / "profiles"
OID_RE = re.compile(r"^[0-9]+(\.[0-9]+)+$")
METRIC_RE = re.compile(r"^[a-z_][a-z0-9_]*$")

KIND_KEYS = {"class", "metric", "unit", "scale", "offset"}
READING_KEYS = {"name", "class", "metric", "oid", "table", "index", "scale", "offset", "unit", "enum", "lookup",
                "kinds_by", "exponent", "scale_by", "when", "parse", "counter", "text", "decibels"}
MATCH_KEYS = {"sysobjectid", "sysdescr", "has_oid", "has_oid_prefix"}
# `anchors` holds YAML anchors that readings share (&name … *name); it is not read otherwise.
PROFILE_KEYS = {"name", "description", "match", "readings", "extends", "rescale", "anchors"}


def _oid(r: Reader, node: yaml.Node, path: str) -> str | None:
    raw = node.value if isinstance(node, yaml.ScalarNode) else None
    if raw is None or not OID_RE.match(str(raw).strip(".")):
        r.error(node, path, f"{raw!r} is not a numeric OID")
        return None
    return str(raw).strip(".")


def _oids(r: Reader, node: yaml.Node, path: str) -> tuple[str, ...]:
    return tuple(o for i, n in enumerate(r.sequence(node, path)) if (o := _oid(r, n, f"{path}[{i}]")))


def _bool(r: Reader, node: yaml.Node, path: str) -> bool:
    if not (isinstance(node, yaml.ScalarNode) and node.tag == TAG_BOOL):
        r.error(node, path, "expected true or false")
        return False
    return str(node.value).lower() == "true"


def _kind(r: Reader, m: dict[str, yaml.Node], path: str, default_unit: str = "state") -> Kind | None:
    cls = r.name(m["class"], f"{path}.class") if "class" in m else None
    metric = r.string(m["metric"], f"{path}.metric", pattern=METRIC_RE) if "metric" in m else None
    unit = r.string(m["unit"], f"{path}.unit", choices=sorted(UNITS)) if "unit" in m else default_unit
    scale = r.number(m["scale"], f"{path}.scale", -1e12, 1e12) if "scale" in m else 1.0
    offset = r.number(m["offset"], f"{path}.offset", -1e9, 1e9) if "offset" in m else 0.0
    if cls and metric and unit and scale is not None and offset is not None:
        return Kind(cls, metric, unit, scale, offset)
    return None


def _listed(node: yaml.Node) -> list[yaml.Node]:
    """A key that takes one mapping or a list of them."""
    return list(node.value) if isinstance(node, yaml.SequenceNode) else [node]


def _lookups(r: Reader, node: yaml.Node, path: str) -> tuple[Lookup, ...]:
    out = []
    for i, n in enumerate(_listed(node)):
        p = f"{path}[{i}]" if isinstance(node, yaml.SequenceNode) else path
        lm = r.mapping(n, p, {"label", "oid", "prefix", "scalar"}, {"label", "oid"})
        if lm and "label" in lm and "oid" in lm:
            label = r.name(lm["label"], f"{p}.label")
            oid = _oid(r, lm["oid"], f"{p}.oid")
            prefix = r.integer(lm["prefix"], f"{p}.prefix", 1, 32) if "prefix" in lm else 0
            scalar = _bool(r, lm["scalar"], f"{p}.scalar") if "scalar" in lm else False
            if label and oid and prefix is not None:
                out.append(Lookup(label, oid, prefix, scalar))
    return tuple(out)


def _kinds_by(r: Reader, node: yaml.Node, path: str) -> KindsBy | None:
    m = r.mapping(node, path, {"column", "index", "scalar", "kinds", "default"}, {"kinds"})
    if m is None:
        return None
    column = _oid(r, m["column"], f"{path}.column") if "column" in m else ""
    index = r.integer(m["index"], f"{path}.index", -32, 31) if "index" in m else None
    scalar = _oid(r, m["scalar"], f"{path}.scalar") if "scalar" in m else ""
    if sum(k in m for k in ("column", "index", "scalar")) != 1:
        r.error(node, path, "give exactly one of column, index or scalar")
    default: int | str | None = None
    if "default" in m and isinstance(m["default"], yaml.ScalarNode):
        dn = m["default"]
        default = int(dn.value) if dn.tag == TAG_INT else str(dn.value)
    kinds: dict[int | str, Kind] = {}
    if "kinds" in m and isinstance(m["kinds"], yaml.MappingNode):
        for k, v in m["kinds"].value:
            kp = f"{path}.kinds.{k.value}"
            km = r.mapping(v, kp, KIND_KEYS, {"class", "metric"})
            kk = _kind(r, km, kp) if km else None
            key: int | str | None = None
            if isinstance(k, yaml.ScalarNode) and k.tag == TAG_INT:
                key = int(k.value)
            elif isinstance(k, yaml.ScalarNode) and k.tag == TAG_STR:
                key = str(k.value)
            else:
                r.error(k, kp, "a kind's key is a type code (integer) or a unit text (string)")
            if kk and key is not None:
                kinds[key] = kk
    elif "kinds" in m:
        r.error(m["kinds"], f"{path}.kinds", "expected a mapping of type value: kind")
    if default is not None and default not in kinds:
        r.error(m["default"], f"{path}.default", f"{default!r} is not one of the kinds")
    return KindsBy(kinds=kinds, column=column or "", index=index, scalar=scalar or "", default=default)


def _exponents(r: Reader, node: yaml.Node, path: str) -> tuple[Exponent, ...]:
    out = []
    for i, n in enumerate(_listed(node)):
        p = f"{path}[{i}]" if isinstance(node, yaml.SequenceNode) else path
        m = r.mapping(n, p, {"column", "times", "offset", "default"}, {"column"})
        if not m or "column" not in m:
            continue
        column = _oid(r, m["column"], f"{p}.column")
        times = r.number(m["times"], f"{p}.times", -12, 12) if "times" in m else 1.0
        offset = r.number(m["offset"], f"{p}.offset", -1e6, 1e6) if "offset" in m else 0.0
        default = r.number(m["default"], f"{p}.default", -1e6, 1e6) if "default" in m else 0.0
        if column and times is not None and offset is not None and default is not None:
            out.append(Exponent(column, times, offset, default))
    return tuple(out)


def _scale_by(r: Reader, node: yaml.Node, path: str) -> tuple[ScaleBy, ...]:
    out = []
    for i, n in enumerate(_listed(node)):
        p = f"{path}[{i}]" if isinstance(node, yaml.SequenceNode) else path
        m = r.mapping(n, p, {"column", "mode"}, {"column"})
        if not m or "column" not in m:
            continue
        column = _oid(r, m["column"], f"{p}.column")
        mode = r.string(m["mode"], f"{p}.mode", choices=["divide", "multiply", "signed"]) if "mode" in m else "divide"
        if column and mode:
            out.append(ScaleBy(column, mode))
    return tuple(out)


def _numbers(r: Reader, node: yaml.Node, path: str) -> frozenset[float]:
    vals = [r.number(n, f"{path}[{i}]", -1e12, 1e12) for i, n in enumerate(r.sequence(node, path))]
    return frozenset(v for v in vals if v is not None)


def _when(r: Reader, node: yaml.Node, path: str) -> tuple[When, ...]:
    out = []
    for i, n in enumerate(_listed(node)):
        p = f"{path}[{i}]" if isinstance(node, yaml.SequenceNode) else path
        m = r.mapping(n, p, {"column", "in", "not_in"}, {"column"})
        if not m or "column" not in m:
            continue
        if ("in" in m) == ("not_in" in m):
            r.error(n, p, "give exactly one of in or not_in")
            continue
        column = _oid(r, m["column"], f"{p}.column")
        values = _numbers(r, m["in"], f"{p}.in") if "in" in m else frozenset()
        not_values = _numbers(r, m["not_in"], f"{p}.not_in") if "not_in" in m else frozenset()
        if column:
            out.append(When(column, values, not_values))
    return tuple(out)


def _enum(r: Reader, node: yaml.Node, path: str) -> dict[int, str]:
    enum: dict[int, str] = {}
    if not isinstance(node, yaml.MappingNode):
        r.error(node, path, "expected a mapping of integer: name")
        return enum
    for k, v in node.value:
        if not (isinstance(k, yaml.ScalarNode) and k.tag == TAG_INT):
            r.error(k, f"{path}.{k.value}", "enumeration keys are integers")
            continue
        text = r.string(v, f"{path}.{k.value}")
        if text:
            enum[int(k.value)] = text
    return enum


def _reading(r: Reader, node: yaml.Node, path: str) -> Reading | None:
    m = r.mapping(node, path, READING_KEYS, {"name", "class", "metric", "oid"})
    if m is None:
        return None
    name = r.name(m["name"], f"{path}.name") if "name" in m else None
    if name:
        path = f"{path} ({name})"
    kind = _kind(r, {k: v for k, v in m.items() if k in ("class", "metric", "unit")}, path)
    oid = _oid(r, m["oid"], f"{path}.oid") if "oid" in m else None
    table = _bool(r, m["table"], f"{path}.table") if "table" in m else False
    index = tuple(x for i, n in enumerate(r.sequence(m["index"], f"{path}.index"))
                  if (x := r.name(n, f"{path}.index[{i}]"))) if "index" in m else ()
    if table and not index:
        r.error(node, f"{path}.index", "a table reading needs index labels")
    scale = r.number(m["scale"], f"{path}.scale", -1e12, 1e12) if "scale" in m else 1.0
    offset = r.number(m["offset"], f"{path}.offset", -1e9, 1e9) if "offset" in m else 0.0
    enum = _enum(r, m["enum"], f"{path}.enum") if "enum" in m else {}
    lookups = _lookups(r, m["lookup"], f"{path}.lookup") if "lookup" in m else ()
    kinds_by = _kinds_by(r, m["kinds_by"], f"{path}.kinds_by") if "kinds_by" in m else None
    exponents = _exponents(r, m["exponent"], f"{path}.exponent") if "exponent" in m else ()
    when = _when(r, m["when"], f"{path}.when") if "when" in m else ()
    scale_by = _scale_by(r, m["scale_by"], f"{path}.scale_by") if "scale_by" in m else ()
    text = (_oid(r, m["text"], f"{path}.text") or "") if "text" in m else ""
    parse = _bool(r, m["parse"], f"{path}.parse") if "parse" in m else False
    counter = _bool(r, m["counter"], f"{path}.counter") if "counter" in m else False
    decibels = _bool(r, m["decibels"], f"{path}.decibels") if "decibels" in m else False
    if enum and kind and kind.unit != "state" and kinds_by is None:
        r.error(node, f"{path}.unit", "a reading with an enumeration is a state (leave unit out)")
    if kinds_by and kinds_by.index is not None and not table:
        r.error(node, f"{path}.kinds_by.index", "only a table reading has an index")
    if counter and kind and not kind.metric.endswith("_total"):
        r.error(node, f"{path}.metric", "a counter's metric name ends in _total")
    if name and kind and oid and scale is not None and offset is not None:
        return Reading(name=name, kind=kind, oid=oid, table=table, index=index, scale=scale, offset=offset,
                       enum=enum, lookups=lookups, kinds_by=kinds_by, exponents=exponents, when=when,
                       parse=parse, counter=counter, scale_by=scale_by, text=text, decibels=decibels)
    return None


def _match(r: Reader, node: yaml.Node, path: str) -> Match:
    m = r.mapping(node, path, MATCH_KEYS) or {}
    if not m:
        r.error(node, path, f"a match needs one of: {', '.join(sorted(MATCH_KEYS))}")
    sysdescr: list[re.Pattern[str]] = []
    for i, n in enumerate(r.sequence(m["sysdescr"], f"{path}.sysdescr") if "sysdescr" in m else []):
        text = r.string(n, f"{path}.sysdescr[{i}]")
        try:
            sysdescr.append(re.compile(text or ""))
        except re.error as exc:
            r.error(n, f"{path}.sysdescr[{i}]", f"bad regular expression: {exc}")
    return Match(
        sysobjectid=_oids(r, m["sysobjectid"], f"{path}.sysobjectid") if "sysobjectid" in m else (),
        sysdescr=tuple(sysdescr),
        has_oid=_oids(r, m["has_oid"], f"{path}.has_oid") if "has_oid" in m else (),
        has_oid_prefix=_oids(r, m["has_oid_prefix"], f"{path}.has_oid_prefix") if "has_oid_prefix" in m else (),
    )


@dataclass(frozen=True)
class _Draft:
    profile: Profile
    extends: str = ""
    rescale: tuple[tuple[str, float], ...] = ()
    line: int = 1


def load_profile(path: Path, errors: list[LoadError]) -> _Draft | None:
    r = Reader(path, errors)
    root = r.compose(path.read_text(encoding="utf-8"))
    if root is None:
        return None
    m = r.mapping(root, "", PROFILE_KEYS, {"name", "match", "readings"})
    if m is None:
        return None
    name = r.name(m["name"], "name") if "name" in m else None
    descr = r.string(m["description"], "description") if "description" in m else ""
    matches: list[Match] = []
    if "match" in m:
        node = m["match"]
        many = isinstance(node, yaml.SequenceNode)
        matches = [_match(r, n, f"match[{i}]" if many else "match") for i, n in enumerate(_listed(node))]
    readings = [x for i, n in enumerate(r.sequence(m["readings"], "readings") if "readings" in m else [])
                if (x := _reading(r, n, f"readings[{i}]"))]
    names = [x.name for x in readings]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        r.error(m["readings"], "readings", f"duplicate reading name {dup!r}")
    extends = (r.name(m["extends"], "extends") or "") if "extends" in m else ""
    rescale: list[tuple[str, float]] = []
    if "rescale" in m:
        if not extends:
            r.error(m["rescale"], "rescale", "rescale changes the readings of the profile named by extends")
        node = m["rescale"]
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                factor = r.number(v, f"rescale.{k.value}", -1e12, 1e12)
                if factor is not None:
                    rescale.append((str(k.value), factor))
        else:
            r.error(node, "rescale", "expected a mapping of reading name: factor")
    if not name:
        return None
    profile = Profile(name=name, description=descr or "", readings=tuple(readings), match=tuple(matches),
                      replaces=(extends,) if extends else ())
    return _Draft(profile, extends, tuple(rescale), root.start_mark.line + 1)


def _resolve(draft: _Draft, base: Profile, path: str, errors: list[LoadError]) -> Profile:
    """A profile that extends another: the base's readings (rescaled as it says), then its own."""
    factors = dict(draft.rescale)
    for unknown in sorted(set(factors) - {x.name for x in base.readings}):
        errors.append(LoadError(path, draft.line, f"rescale.{unknown}", f"{base.name} has no reading {unknown!r}"))
    inherited = tuple(replace(x, scale=x.scale * factors[x.name]) if x.name in factors else x
                      for x in base.readings)
    own = {x.name for x in draft.profile.readings}
    return replace(draft.profile, readings=tuple(x for x in inherited if x.name not in own) + draft.profile.readings)


def load_profiles(directory: Path = PROFILES_DIR) -> dict[str, Profile]:
    """Every profile in a directory; InventoryError lists every problem."""
    errors: list[LoadError] = []
    drafts: dict[str, tuple[Path, _Draft]] = {}
    for path in sorted(directory.glob("*.yml")):
        d = load_profile(path, errors)
        if d is None:
            continue
        if d.profile.name in drafts:
            errors.append(LoadError(str(path), 1, "name", f"duplicate profile name {d.profile.name!r}"))
        drafts[d.profile.name] = (path, d)
    profiles: dict[str, Profile] = {}
    for name, (path, d) in drafts.items():
        if not d.extends:
            profiles[name] = d.profile
        elif d.extends not in drafts or drafts[d.extends][1].extends:
            errors.append(LoadError(str(path), d.line, "extends",
                                    f"{d.extends!r} is not a profile that extends none"))
        else:
            profiles[name] = _resolve(d, drafts[d.extends][1].profile, str(path), errors)
    if errors:
        raise InventoryError(errors)
    return profiles
