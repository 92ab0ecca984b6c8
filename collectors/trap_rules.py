"""Which notifications mean what: the rules in collectors/profiles/traps/*.yml, read strictly.

A rule matches a notification by its snmpTrapOID (exact, or an enterprise
subtree) and optionally by var-bind values; it says the event's kind (or
picks it by the sending device's class), its severity and whether the
device gets a confirming poll. The first matching rule wins. No vendor logic
lives here: the vendors are in the YAML.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dcops.types import DEVICE_CLASSES, SEVERITIES
from inventory.strict import TAG_BOOL, TAG_INT, TAG_STR, InventoryError, LoadError, Reader

TRAPS_DIR = Path(__file__).parent / "profiles" / "traps"
OID_RE = re.compile(r"^[0-9]+(\.[0-9]+)+$")
SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
OTHER = "other"  # the kind of a notification no rule knows
RULE_KEYS = {"name", "oid", "oid_prefix", "match", "kind", "kind_by_class", "severity", "poll"}


@dataclass(frozen=True)
class Rule:
    name: str
    oid: str
    prefix: bool  # oid is an enterprise subtree, not one notification
    kind: str
    severity: str
    kind_by_class: Mapping[str, str] = field(default_factory=dict)
    match: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    poll: bool = True

    def matches(self, trap_oid: str, varbinds: Sequence[tuple[str, str]]) -> bool:
        if self.prefix:
            if not (trap_oid == self.oid or trap_oid.startswith(self.oid + ".")):
                return False
        elif trap_oid != self.oid:
            return False
        for column, values in self.match.items():
            if not any((oid == column or oid.startswith(column + ".")) and value in values
                       for oid, value in varbinds):
                return False
        return True

    def kind_for(self, device_class: str) -> str:
        return self.kind_by_class.get(device_class, self.kind)


def classify(rules: Sequence[Rule], trap_oid: str, varbinds: Sequence[tuple[str, str]]) -> Rule | None:
    """The first rule that matches, or None."""
    return next((r for r in rules if r.matches(trap_oid, varbinds)), None)


def _oid(r: Reader, node: yaml.Node, path: str) -> str | None:
    raw = node.value if isinstance(node, yaml.ScalarNode) and node.tag == TAG_STR else None
    if raw is None or not OID_RE.match(str(raw).strip(".")):
        shown = node.value if isinstance(node, yaml.ScalarNode) else "a " + type(node).__name__
        r.error(node, path, f"{shown!r} is not a numeric OID")
        return None
    return str(raw).strip(".")


def _match(r: Reader, node: yaml.Node, path: str) -> dict[str, tuple[str, ...]] | None:
    if not isinstance(node, yaml.MappingNode):
        r.error(node, path, "expected a mapping of var-bind OID: [values]")
        return None
    out: dict[str, tuple[str, ...]] = {}
    for knode, vnode in node.value:
        oid = _oid(r, knode, f"{path}.{knode.value}")
        values: list[str] = []
        for i, v in enumerate(r.sequence(vnode, f"{path}.{knode.value}")):
            if isinstance(v, yaml.ScalarNode) and v.tag in (TAG_STR, TAG_INT):
                values.append(str(v.value).strip("."))
            else:
                r.error(v, f"{path}.{knode.value}[{i}]", "expected an integer or an OID")
        if oid is None or not values:
            return None
        out[oid] = tuple(values)
    return out


def _rule(r: Reader, node: yaml.Node, path: str) -> Rule | None:
    m = r.mapping(node, path, RULE_KEYS, {"name", "kind", "severity"})
    if m is None:
        return None
    name = r.string(m["name"], f"{path}.name") if "name" in m else None
    if name:
        path = f"{path} ({name})"
    if ("oid" in m) == ("oid_prefix" in m):
        r.error(node, f"{path}.oid", "give exactly one of oid (a notification) or oid_prefix (a subtree)")
        return None
    key = "oid" if "oid" in m else "oid_prefix"
    oid = _oid(r, m[key], f"{path}.{key}")
    kind = r.name(m["kind"], f"{path}.kind") if "kind" in m else None
    severity = r.string(m["severity"], f"{path}.severity", choices=SEVERITIES) if "severity" in m else None
    by_class: dict[str, str] = {}
    if "kind_by_class" in m:
        cm = r.mapping(m["kind_by_class"], f"{path}.kind_by_class", DEVICE_CLASSES, noun="device class") or {}
        by_class = {k: v for k, n in cm.items() if (v := r.name(n, f"{path}.kind_by_class.{k}"))}
    match = _match(r, m["match"], f"{path}.match") if "match" in m else {}
    poll = True
    if "poll" in m:
        pnode = m["poll"]
        if not (isinstance(pnode, yaml.ScalarNode) and pnode.tag == TAG_BOOL):
            r.error(pnode, f"{path}.poll", "expected true or false")
        else:
            poll = str(pnode.value).lower() == "true"
    if not (name and oid and kind and severity) or match is None:
        return None
    return Rule(name=name, oid=oid, prefix=key == "oid_prefix", kind=kind, severity=severity,
                kind_by_class=by_class, match=match, poll=poll)


def load_rules(directory: Path = TRAPS_DIR) -> list[Rule]:
    """Every rule of every *.yml in `directory`, in file then rule order; InventoryError lists every problem."""
    errors: list[LoadError] = []
    rules: list[Rule] = []
    for path in sorted(directory.glob("*.yml")):
        r = Reader(path, errors)
        root = r.compose(path.read_text(encoding="utf-8"))
        if root is None:
            continue
        top = r.mapping(root, "", {"rules"}, {"rules"})
        if top and "rules" in top:
            rules += [x for i, n in enumerate(r.sequence(top["rules"], "rules")) if (x := _rule(r, n, f"rules[{i}]"))]
    if errors:
        raise InventoryError(errors)
    return rules
