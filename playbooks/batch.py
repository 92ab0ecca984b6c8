"""One switch's share of a run: back up, diff, apply each agency's unit, verify by reading back, save.

A unit is one agency's facts on one switch. Applying a unit that the switch
rejects puts that unit's keys back as they were (computed against what the
switch now says, so a half-applied unit is undone exactly) and the rest of
the batch carries on. A rollback is a run whose units want the `undo` facts
recorded when they were applied. Both engines run this: the
netmiko engine in a thread per switch, the Ansible engine inside our module.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from inventory.model import Switch

from .driver import Driver, SwitchError
from .facts import Change, Fact, Facts, absent, diff

OK, FAILED, ROLLED_BACK, UNCHANGED = "ok", "failed", "rolled-back", "unchanged"
INTERRUPTED = "interrupted"  # not tried: the run was asked to stop before this unit
APPLYING = "applying"  # transient: its commands are on their way to the switch
STOPPED = "interrupted before this unit was applied"


@dataclass
class Unit:
    agency: str
    want: list[Fact]


@dataclass
class UnitResult:
    """nornir's Result, per agency per switch: changed, diff, failed."""

    agency: str
    switch: str
    status: str = UNCHANGED
    changed: bool = False
    diff: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    undo: list[Fact] = field(default_factory=list)  # the facts that put back what the changes replaced
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.status in (FAILED, ROLLED_BACK, INTERRUPTED)

    @property
    def touched(self) -> bool:
        """Commands went to the switch for it and were not already undone: a rollback must consider it."""
        return self.changed and bool(self.undo) and self.status in (OK, FAILED)


@dataclass
class SwitchRun:
    switch: str
    results: list[UnitResult]
    backup: str = ""
    saved: bool = False
    error: str = ""
    seconds: float = 0.0


def _restore(changes: list[Change]) -> list[Fact]:
    """The facts that undo `changes`: each key back to what it was, or gone."""
    return [c.before if c.before is not None else absent(c.want.kind, c.want.key) for c in changes]


def run_switch(
    switch: Switch,
    units: list[Unit],
    connect: Callable[[Switch], Driver],
    *,
    dry_run: bool = False,
    on_backup: Callable[[str, str], object] = lambda switch, text: None,
    on_unit: Callable[[UnitResult], None] = lambda result: None,
    stop: Callable[[], bool] = lambda: False,
    on_step: Callable[[int], object] = lambda done: None,
) -> SwitchRun:
    """One switch's batch. `stop()` is asked before each unit: once it says yes, the rest are not tried,
    and what was applied is still verified and saved. `on_step(n)` says n units are through (0: started)."""
    started = time.monotonic()
    run = SwitchRun(switch.name, [])
    if stop():
        run.results = [UnitResult(u.agency, switch.name, INTERRUPTED, error=STOPPED) for u in units]
        return _done(run, started, on_unit)
    try:
        driver = connect(switch)
    except SwitchError as exc:
        run.error = str(exc)
        run.results = [UnitResult(u.agency, switch.name, FAILED, error=str(exc)) for u in units]
        return _done(run, started, on_unit)
    try:
        profile = driver.profile
        run.backup = driver.running()
        have = profile.parse(run.backup)
        if not dry_run:
            on_backup(switch.name, run.backup)
        on_step(0)
        applied: list[tuple[UnitResult, list[Change]]] = []
        for done, unit in enumerate(units, 1):
            if stop():
                run.results.append(UnitResult(unit.agency, switch.name, INTERRUPTED, error=STOPPED))
                continue
            result = UnitResult(unit.agency, switch.name)
            run.results.append(result)
            changes = diff([profile.project(f) for f in unit.want], have)
            result.diff = [c.describe() for c in changes]
            result.commands = profile.render(changes)
            result.undo = _restore(changes)
            result.changed = bool(changes)
            if changes and not dry_run:
                result.status = APPLYING
                result.status = _apply(driver, changes, result, have)
                if result.status == OK:
                    applied.append((result, changes))
                    for c in changes:
                        have[c.want.ident] = c.want
                        if c.removes:
                            have.pop(c.want.ident, None)
            elif changes:
                result.status = OK
            on_step(done)
        if applied:
            _verify(driver, applied, have)
            run.saved = bool(driver.save())
    except SwitchError as exc:  # the switch went away mid-batch: nothing it took is verified
        run.error = str(exc)
        for r in run.results:
            if r.status in (OK, APPLYING) and r.changed:
                r.status, r.error = FAILED, str(exc)
        tried = {r.agency for r in run.results}
        run.results += [UnitResult(u.agency, switch.name, FAILED, error=str(exc)) for u in units
                        if u.agency not in tried]
    finally:
        driver.close()
    return _done(run, started, on_unit)


def _done(run: SwitchRun, started: float, on_unit: Callable[[UnitResult], None]) -> SwitchRun:
    run.seconds = time.monotonic() - started
    for r in run.results:
        on_unit(r)
    return run


def _apply(driver: Driver, changes: list[Change], result: UnitResult, have: Facts) -> str:
    try:
        driver.configure(result.commands)
        return OK
    except SwitchError as exc:
        if type(exc).__name__ != "CommandRejected":
            raise
        result.error = str(exc)
    # undo exactly what the rejected unit left behind, judged by what the switch now says
    now = driver.profile.parse(driver.running())
    undo = diff(_restore(changes), now)
    if undo:
        driver.configure(driver.profile.render(undo))
    after = driver.profile.parse(driver.running())
    left = diff(_restore(changes), after)
    if left:
        result.error += f"; rollback left {len(left)} difference(s): {left[0].describe()}"
        return FAILED
    return ROLLED_BACK


def _verify(driver: Driver, applied: list[tuple[UnitResult, list[Change]]], expected: Facts) -> None:
    """Read back the running configuration (and the VLAN table); a unit whose facts are not all there failed."""
    profile = driver.profile
    seen = profile.parse(driver.running())
    vlans = _vlan_table(driver)
    for result, changes in applied:
        missing = [c for c in changes if (seen.get(c.want.ident) != c.want if not c.removes
                                          else c.want.ident in seen)]
        gone = [c for c in changes if c.want.kind == "vlan" and not c.removes and vlans is not None
                and c.want.key[0] not in vlans]
        if missing or gone:
            result.status = FAILED
            what = (missing or gone)[0].describe()
            result.error = f"verification failed: {what} is not in the running configuration" if missing \
                else f"verification failed: vlan {gone[0].want.key[0]} is not in the VLAN table"


def _vlan_table(driver: Driver) -> set[int] | None:
    """The vids the switch's own VLAN table lists (ntc-templates), or None when it has no parser for it."""
    cmd = driver.profile.command("vlans")
    if not cmd:
        return None
    rows: Any = driver.show(cmd, parse=True)
    if not isinstance(rows, list):
        return None
    return {int(r["vlan_id"]) for r in rows if str(r.get("vlan_id", "")).isdigit()}
