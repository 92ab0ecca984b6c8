"""Load alert rules (alerts/rules/*.yml) strictly: every error names file, line and rule.

A rule that fails is left out and the others keep working: `load_rules()`
returns the good rules and the errors together, and `dcops alerts check`
exits 2 when there is any error. Keys (one condition per rule):

    name, category, severity, summary, description     what and how bad
    metric, match {label: value | [values]}             which readings
    above | below | equals | imbalance | stale | event  the condition
    clear                                               hysteresis (above/below/imbalance)
    of_rating                                           thresholds are fractions of the device rating
    across                                              imbalance: the label compared (phase, line)
    aggregate: all, by: [labels]                        one alert when every matched series meets it
    resolve_after                                       event: when it ends if no `cleared` trap comes
    for, latch, when                                    duration, stay until acked, time of week
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dcops.types import DEVICE_CLASSES
from inventory.strict import TAG_BOOL, LoadError, Reader

from . import template
from .model import (
    ABOVE,
    BELOW,
    CATEGORIES,
    DEVICE_LABELS,
    EQUALS,
    EVENT,
    IMBALANCE,
    KINDS,
    SEVERITIES,
    STALE,
    UP_METRIC,
    WHENS,
    Rule,
)

RULES_DIR = Path(__file__).parent / "rules"
KEYS = ("name", "category", "severity", "summary", "description", "metric", "match", "clear", "of_rating",
        "across", "aggregate", "by", "resolve_after", "for", "latch", "when", *KINDS)
DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
EVENT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
BIG = 1e12


def parse_duration(text: str) -> float | None:
    m = DURATION_RE.match(text.strip())
    return float(m.group(1)) * UNIT_SECONDS[m.group(2)] if m else None


def known_metrics() -> dict[str, set[str]]:
    """Every metric the profiles produce, with its index labels; plus `up` from poll reports."""
    from collectors.profile import load_profiles

    known: dict[str, set[str]] = {UP_METRIC: set()}
    for profile in load_profiles().values():
        for rd in profile.readings:
            labels = {*rd.index, *(lk.label for lk in rd.lookups)}
            kinds = [rd.kind, *(rd.kinds_by.kinds.values() if rd.kinds_by else ())]
            for kind in kinds:
                known.setdefault(kind.metric, set()).update(labels)
    return known


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)

    def by_name(self) -> dict[str, Rule]:
        return {r.name: r for r in self.rules}


class _RuleReader:
    def __init__(self, reader: Reader, known: Mapping[str, set[str]]) -> None:
        self.r = reader
        self.known = known

    def duration(self, node: yaml.Node, path: str) -> float | None:
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":int"):
            return self.r.number(node, path, 0, BIG)
        text = self.r.string(node, path)
        if text is None:
            return None
        seconds = parse_duration(text)
        if seconds is None:
            self.r.error(node, path, f"{text!r} is not a duration (like 30s, 5m, 1h)")
        return seconds

    def boolean(self, node: yaml.Node, path: str) -> bool | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != TAG_BOOL:
            self.r.error(node, path, "expected true or false")
            return None
        return bool(yaml.safe_load(node.value))

    def strings(self, node: yaml.Node, path: str) -> tuple[str, ...] | None:
        items = self.r.sequence(node, path) if isinstance(node, yaml.SequenceNode) else [node]
        out = [self.r.string(n, path) for n in items]
        if any(v is None for v in out) or not out:
            if not out:
                self.r.error(node, path, "an empty list matches nothing")
            return None
        return tuple(v for v in out if v is not None)

    def rule(self, node: yaml.Node, where: str) -> Rule | None:
        r = self.r
        before = len(r.errors)
        m = r.mapping(node, where, KEYS, ("name", "category", "severity", "summary"))
        if m is None:
            return None
        name = r.name(m["name"], f"{where}.name") if "name" in m else None
        category = r.string(m["category"], f"{where}.category", choices=CATEGORIES) if "category" in m else None
        severity = r.string(m["severity"], f"{where}.severity", choices=SEVERITIES) if "severity" in m else None
        kinds = [k for k in KINDS if k in m]
        if len(kinds) != 1:
            r.error(node, where, f"give exactly one condition of: {', '.join(KINDS)}"
                    + (f" (found {', '.join(kinds)})" if kinds else ""))
            return None
        kind = kinds[0]
        metric = ""
        if "metric" in m:
            metric = r.string(m["metric"], f"{where}.metric") or ""
            if metric and metric not in self.known:
                r.error(m["metric"], f"{where}.metric", f"unknown metric {metric!r} (no profile produces it)")
                return None
        elif kind not in (STALE, EVENT):
            r.error(node, f"{where}.metric", "missing required key")
            return None
        labels = {*DEVICE_LABELS, *self.known.get(metric, set())}
        if kind == EVENT:
            labels = set(DEVICE_LABELS)
        match = self._match(m.get("match"), f"{where}.match", labels)
        fields: dict[str, object] = {}
        getattr(self, f"_{kind}")(m, where, metric, labels, fields)
        if "for" in m:
            fields["for_"] = self.duration(m["for"], f"{where}.for")
        if "latch" in m:
            fields["latch"] = self.boolean(m["latch"], f"{where}.latch")
        if "when" in m:
            fields["when"] = r.string(m["when"], f"{where}.when", choices=WHENS)
        if "description" in m:
            fields["description"] = r.string(m["description"], f"{where}.description")
        if "aggregate" in m:
            self._aggregate(m, where, kind, labels, fields)
            labels = set(fields.get("by") or ())  # type: ignore[call-overload]
        else:
            labels = {*labels, "metric"}
            if "by" in m:
                r.error(m["by"], f"{where}.by", "`by` goes with `aggregate: all`")
        summary = r.string(m["summary"], f"{where}.summary") if "summary" in m else None
        if summary is not None and (problem := template.check(summary, labels)):
            r.error(m["summary"], f"{where}.summary", problem)
        if len(r.errors) > before or name is None or category is None or severity is None or summary is None:
            return None
        if match is None:
            return None
        return Rule(name=name, file=r.file, line=node.start_mark.line + 1, category=category, severity=severity,
                    kind=kind, summary=summary, metric=metric, match=match,
                    **{k: v for k, v in fields.items() if v is not None})  # type: ignore[arg-type]

    def _match(self, node: yaml.Node | None, path: str, labels: set[str]) -> dict[str, tuple[str, ...]] | None:
        if node is None:
            return {}
        m = self.r.mapping(node, path, sorted(labels), noun="label")
        if m is None:
            return None
        out: dict[str, tuple[str, ...]] = {}
        for key, vnode in m.items():
            values = self.strings(vnode, f"{path}.{key}")
            if values is None:
                continue
            if key == "class" and (bad := [v for v in values if v not in DEVICE_CLASSES]):
                self.r.error(vnode, f"{path}.class", f"unknown device class {bad[0]!r} "
                             f"(known: {', '.join(sorted(DEVICE_CLASSES))})")
                continue
            out[key] = values
        return out

    def _threshold(self, m: dict[str, yaml.Node], where: str, metric: str, kind: str,
                   fields: dict[str, object]) -> None:
        r = self.r
        ratio = metric.endswith("_ratio") or "of_rating" in m or kind == IMBALANCE
        value = r.number(m[kind], f"{where}.{kind}", -BIG if kind != IMBALANCE else 0, BIG)
        if value is not None and ratio and abs(value) > 1.5:
            r.error(m[kind], f"{where}.{kind}", f"{value:g} is not a ratio (write 0.6 for 60%)")
            return
        clear = r.number(m["clear"], f"{where}.clear", -BIG, BIG) if "clear" in m else value
        if value is None or clear is None:
            return
        if kind in (ABOVE, IMBALANCE) and clear > value:
            r.error(m["clear"], f"{where}.clear",
                    f"clear threshold {clear:g} must be at or below the firing threshold {value:g}")
        if kind == BELOW and clear < value:
            r.error(m["clear"], f"{where}.clear",
                    f"clear threshold {clear:g} must be at or above the firing threshold {value:g}")
        fields.update(threshold=value, clear=clear)
        if "of_rating" in m:
            fields["of_rating"] = self.boolean(m["of_rating"], f"{where}.of_rating")

    def _above(self, m: dict[str, yaml.Node], where: str, metric: str, labels: set[str],
               fields: dict[str, object]) -> None:
        self._threshold(m, where, metric, ABOVE, fields)

    def _below(self, m: dict[str, yaml.Node], where: str, metric: str, labels: set[str],
               fields: dict[str, object]) -> None:
        self._threshold(m, where, metric, BELOW, fields)

    def _imbalance(self, m: dict[str, yaml.Node], where: str, metric: str, labels: set[str],
                   fields: dict[str, object]) -> None:
        self._threshold(m, where, metric, IMBALANCE, fields)
        if "across" not in m:
            self.r.error(m[IMBALANCE], f"{where}.across", "missing required key (the label compared, like phase)")
            return
        across = self.r.string(m["across"], f"{where}.across", choices=sorted(labels - set(DEVICE_LABELS)))
        fields["across"] = across

    def _equals(self, m: dict[str, yaml.Node], where: str, metric: str, labels: set[str],
                fields: dict[str, object]) -> None:
        node = m[EQUALS]
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        values = [self.r.number(n, f"{where}.equals", -BIG, BIG) for n in items]
        if not values:
            self.r.error(node, f"{where}.equals", "an empty list matches nothing")
        if all(v is not None for v in values):
            fields["values"] = tuple(v for v in values if v is not None)

    def _stale(self, m: dict[str, yaml.Node], where: str, metric: str, labels: set[str],
               fields: dict[str, object]) -> None:
        fields["intervals"] = self.r.number(m[STALE], f"{where}.stale", 1, 1000)

    def _event(self, m: dict[str, yaml.Node], where: str, metric: str, labels: set[str],
               fields: dict[str, object]) -> None:
        r = self.r
        fields["event"] = r.string(m[EVENT], f"{where}.event", pattern=EVENT_RE)
        if "resolve_after" in m:
            fields["resolve_after"] = self.duration(m["resolve_after"], f"{where}.resolve_after")
        elif "latch" not in m:
            r.error(m[EVENT], f"{where}.event", "say how it ends should its `cleared` trap be lost: "
                    "resolve_after or latch")

    def _aggregate(self, m: dict[str, yaml.Node], where: str, kind: str, labels: set[str],
                   fields: dict[str, object]) -> None:
        if kind not in (ABOVE, BELOW, EQUALS):
            self.r.error(m["aggregate"], f"{where}.aggregate", f"a {kind} rule cannot aggregate")
            return
        if self.r.string(m["aggregate"], f"{where}.aggregate", choices=("all",)) is None:
            return
        fields["aggregate"] = "all"
        if "by" not in m:
            self.r.error(m["aggregate"], f"{where}.by", "missing required key (like [room])")
            return
        by = self.strings(m["by"], f"{where}.by")
        if by is not None and (bad := [b for b in by if b not in DEVICE_LABELS]):
            self.r.error(m["by"], f"{where}.by", f"{bad[0]!r} is not one of: {', '.join(DEVICE_LABELS)}")
            return
        fields["by"] = by


def _name_of(node: yaml.Node) -> str | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if getattr(k, "value", None) == "name" and isinstance(v, yaml.ScalarNode):
                return str(v.value)
    return None


def read_rules(text: str, file: str, known: Mapping[str, set[str]], errors: list[LoadError]) -> list[Rule]:
    reader = Reader(file, errors)
    root = reader.compose(text)
    if root is None:
        return []
    top = reader.mapping(root, "", ("rules",), ("rules",))
    if top is None or "rules" not in top:
        return []
    rr = _RuleReader(reader, known)
    rules = []
    for i, item in enumerate(reader.sequence(top["rules"], "rules")):
        name = _name_of(item)
        rule = rr.rule(item, f"rule {name}" if name else f"rules[{i}]")
        if rule is not None:
            rules.append(rule)
    return rules


def load_rules(
    paths: Path | Iterable[Path] = RULES_DIR, known: Mapping[str, set[str]] | None = None
) -> RuleSet:
    """Every `*.yml` under the given directories (or the files given), sorted by name."""
    known = known_metrics() if known is None else known
    files: list[Path] = []
    for p in [paths] if isinstance(paths, Path) else paths:
        files += sorted(p.glob("*.yml")) if p.is_dir() else [p]
    out = RuleSet()
    seen: dict[str, object] = {}
    for path in files:
        if not path.exists():
            out.errors.append(LoadError(str(path), 0, "(file)", "no such file or directory"))
            continue
        for rule in read_rules(path.read_text(encoding="utf-8"), str(path), known, out.errors):
            if rule.name in seen:
                first = seen[rule.name]
                out.errors.append(LoadError(rule.file, rule.line, f"rule {rule.name}",
                                            f"duplicate rule name (first at {first})"))
                continue
            seen[rule.name] = f"{rule.file}:{rule.line}"
            out.rules.append(rule)
    return out
