"""What a switch's configuration says about agencies, as comparable facts.

A fact is (kind, key) → value: `vlan` (vid) → name, description; `access`
(port) → vid; `trunk` (port, vid) → allowed; `gateway` (vid) → address,
netmask, description, acl; `acl` (name) → rules. Intent and the running
configuration (parsed by a vendor profile) are both sets of facts, so the
diff, the verification, the rollback and the drift audit are comparisons.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# the order changes are applied in: an ACL exists before a gateway uses it
KINDS = ("acl", "vlan", "access", "trunk", "gateway")
Key = tuple[Any, ...]
Value = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Fact:
    kind: str
    key: Key
    value: Value = ()

    @property
    def ident(self) -> tuple[str, Key]:
        return (self.kind, self.key)

    @property
    def fields(self) -> dict[str, Any]:
        return dict(self.value)

    def describe(self) -> str:
        key = " ".join(str(k) for k in self.key)
        return f"{self.kind} {key}"


def fact(kind: str, key: Key, **value: Any) -> Fact:
    return Fact(kind, key, tuple(sorted(value.items())))


Facts = dict[tuple[str, Key], Fact]


def index(facts: Iterable[Fact]) -> Facts:
    return {f.ident: f for f in facts}


@dataclass(frozen=True)
class Change:
    """One fact to make true; `before` is what the switch had (None: nothing), for rollback."""

    want: Fact
    before: Fact | None

    def describe(self) -> str:
        if self.before is None:
            return f"+ {self.want.describe()} {_show(self.want.fields)}".rstrip()
        if self.removes:
            return f"- {self.want.describe()} {_show(self.before.fields)}".rstrip()
        old, new = self.before.fields, self.want.fields
        diffs = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(new) if old.get(k) != new.get(k))
        return f"~ {self.want.describe()} ({diffs})"

    def inverse(self) -> Change:
        """The change that puts back what was there: the old fact, or its removal."""
        if self.before is None:
            return Change(Fact(self.want.kind, self.want.key, (("absent", True),)), self.want)
        return Change(self.before, self.want)

    @property
    def removes(self) -> bool:
        return dict(self.want.value).get("absent") is True


def _show(fields: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in fields.items() if k != "rules"}
    if "rules" in fields:
        shown["rules"] = len(fields["rules"])
    return " ".join(f"{k}={v}" for k, v in sorted(shown.items()))


def absent(kind: str, key: Key, was: Fact | None = None) -> Fact:
    """The fact that removes (kind, key); with `was`, only while the switch still holds that value (retiring an
    agency removes its access port's VLAN, not the port's next agency's)."""
    if was is None:
        return Fact(kind, key, (("absent", True),))
    return Fact(kind, key, (("absent", True), ("was", was.value)))


def _still(current: Fact, was: Value) -> bool:
    """Does the switch's fact still say what `was` says (on the fields the switch holds)?"""
    have = current.fields
    return all(have.get(k, v) == v for k, v in was)


def diff(want: Iterable[Fact], have: Facts) -> list[Change]:
    """The changes that make `want` true on a switch whose configuration says `have`, in apply order."""
    out: list[Change] = []
    for f in want:
        current = have.get(f.ident)
        removing = dict(f.value).get("absent") is True
        if removing and (current is None or not _still(current, dict(f.value).get("was", ()))):
            continue
        if not removing and current is not None and current.value == f.value:
            continue
        out.append(Change(f, current))
    order = {k: i for i, k in enumerate(KINDS)}
    adds = sorted((c for c in out if not c.removes), key=lambda c: order[c.want.kind])
    removes = sorted((c for c in out if c.removes), key=lambda c: -order[c.want.kind])
    return removes + adds
