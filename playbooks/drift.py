"""Drift: the intent (live agencies: active in the inventory, or onboarded successfully) against every switch.

Each difference is reported: a missing VLAN, a wrong access VLAN, a missing
trunk allowance, a missing or different gateway or ACL, and VLANs a switch
carries that no agency owns (an extra VLAN).
"""

from __future__ import annotations

from dataclasses import dataclass

from inventory.model import ACTIVE

from .batch import Unit, run_switch
from .intent import agency_intent
from .ipam import IPAM, Allocation
from .onboard import Context
from .state import switch_lock


@dataclass(frozen=True)
class Drift:
    switch: str
    agency: str
    what: str


def audit(ctx: Context) -> tuple[list[Drift], list[str]]:
    """(differences, switches that could not be read)."""
    x = ctx.extranet
    db = ctx.db()
    live = {r[0] for r in db.execute("SELECT agency FROM onboarded")}
    held = {code: a for code, a in IPAM(db, x).all().items() if code in live}
    db.close()
    batches: dict[str, list[Unit]] = {name: [] for name in x.switches}
    owned: dict[str, set[int]] = {name: {1} for name in x.switches}
    for a in x.agencies.values():
        alloc = held.get(a.code)
        if alloc is None and a.status == ACTIVE and a.vid is not None and a.prefix is not None:
            group = x.group_of(a)
            alloc = Allocation(a.code, group.name, a.vid, group.pool, a.prefix)
        if alloc is None or a.status not in (ACTIVE, "planned"):
            continue
        for switch, facts in agency_intent(x, a, alloc).facts.items():
            batches[switch].append(Unit(a.code, facts))
            owned[switch].add(alloc.vid)
    drifts: list[Drift] = []
    unreadable: list[str] = []
    for name, units in batches.items():
        with switch_lock(ctx.db_path, name):
            run = run_switch(x.switches[name], units, ctx.connect, dry_run=True)
        if run.error:
            unreadable.append(run.error)
            continue
        for r in run.results:
            drifts += [Drift(name, r.agency, _worded(d)) for d in r.diff]
        extra = _extra_vlans(x.switches[name].vendor, run.backup, owned[name])
        drifts += [Drift(name, "", f"extra vlan {vid} (no agency owns it)") for vid in extra]
    return drifts, unreadable


def _extra_vlans(vendor: str, running: str, owned: set[int]) -> list[int]:
    from .render import profiles

    facts = profiles()[vendor].parse(running)
    return sorted(k[1][0] for k in facts if k[0] == "vlan" and k[1][0] not in owned)


def _worded(change: str) -> str:
    """`+ vlan 113 …` is missing on the switch; `~ access Gi0/0/2 (vid: 50 -> 113)` differs there."""
    if change.startswith("+ "):
        return "missing " + change[2:]
    if change.startswith("~ "):
        return "wrong " + change[2:]  # (field: switch's value -> intended value)
    return change
