"""Onboarding: plan (IPAM + intent) → per-switch batches (diff, apply, verify) → roll back what failed.

An agency is done when every switch on its path took and verified its unit;
when any switch fails it (rejected command, unreachable, wrong password,
failed verification), every switch that did take it gets its unit undone, so
nothing is left half-applied. Independent agencies carry on. Switches run in
parallel (at most `workers`), one batch per switch at a time (a lock per
switch, also across processes). Backups, the audit log and job progress go
to the state database.
"""

from __future__ import annotations

import fcntl
import getpass
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from inventory.model import Extranet, Switch

from .batch import FAILED, OK, ROLLED_BACK, SwitchRun, Unit, UnitResult, run_switch
from .driver import DRIVERS, Driver
from .intent import AgencyIntent, agency_intent
from .ipam import IPAM, Allocation, IpamError
from .state import connect


@dataclass
class AgencyOutcome:
    agency: str
    allocation: Allocation | None
    results: list[UnitResult] = field(default_factory=list)
    rollback: list[UnitResult] = field(default_factory=list)
    error: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.error) or any(r.failed for r in self.results)

    @property
    def changes(self) -> int:
        return 0 if self.failed else sum(len(r.diff) for r in self.results)

    @property
    def reason(self) -> str:
        """Why it failed: the first error a switch gave."""
        first = sorted((r for r in self.results if r.failed and r.error), key=lambda r: r.status != FAILED)
        return self.error or (first[0].error if first else "")

    @property
    def status(self) -> str:
        if not self.failed:
            return "changed" if self.changes else "unchanged"
        return "rolled-back" if self.results and all(r.status != FAILED for r in self.rollback) else "failed"


@dataclass
class Report:
    outcomes: dict[str, AgencyOutcome]
    runs: list[SwitchRun]
    seconds: float
    dry_run: bool

    @property
    def changes(self) -> int:
        return sum(o.changes for o in self.outcomes.values())

    @property
    def failed(self) -> list[AgencyOutcome]:
        return [o for o in self.outcomes.values() if o.failed]


Engine = Callable[[Extranet, dict[str, list[Unit]], bool, "Context"], list[SwitchRun]]


@dataclass
class Context:
    extranet: Extranet
    db_path: Path
    workers: int = 8
    user: str = field(default_factory=getpass.getuser)
    connect: Callable[[Switch], Driver] = DRIVERS["netmiko"]
    progress: Callable[[UnitResult], None] = lambda r: None
    clock: Callable[[], float] = time.time

    def db(self) -> sqlite3.Connection:
        return connect(self.db_path)


@contextmanager
def switch_lock(ctx: Context, name: str) -> Iterator[None]:
    """One batch per switch at a time, across threads and processes (an flock per switch)."""
    path = ctx.db_path.parent / "locks" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def netmiko_engine(x: Extranet, batches: dict[str, list[Unit]], dry_run: bool, ctx: Context) -> list[SwitchRun]:
    def one(name: str) -> SwitchRun:
        db = ctx.db()
        try:
            with switch_lock(ctx, name):
                return run_switch(x.switches[name], batches[name], ctx.connect, dry_run=dry_run,
                                  on_backup=lambda sw, text: backup(db, sw, text, ctx.clock()),
                                  on_unit=ctx.progress)
        finally:
            db.close()

    # the busiest switches first: the run lasts as long as its longest batch
    order = sorted(batches, key=lambda n: -len(batches[n]))
    with ThreadPoolExecutor(max_workers=max(1, ctx.workers)) as pool:
        return list(pool.map(one, order))


ENGINES: dict[str, Engine] = {"netmiko": netmiko_engine}


def plan(ctx: Context, codes: list[str], dry_run: bool) -> tuple[dict[str, AgencyIntent], dict[str, AgencyOutcome]]:
    db = ctx.db()
    ipam = IPAM(db, ctx.extranet, ctx.clock)
    intents: dict[str, AgencyIntent] = {}
    outcomes: dict[str, AgencyOutcome] = {}
    for code in codes:
        try:
            alloc = ipam.allocate(code, dry_run=dry_run)
        except IpamError as exc:
            outcomes[code] = AgencyOutcome(code, None, error=str(exc))
            continue
        intents[code] = agency_intent(ctx.extranet, ipam.agency(code), alloc)
        outcomes[code] = AgencyOutcome(code, alloc)
    db.close()
    return intents, outcomes


def onboard(ctx: Context, codes: list[str], *, dry_run: bool = False, engine: str = "netmiko") -> Report:
    started = time.monotonic()
    intents, outcomes = plan(ctx, codes, dry_run)
    batches: dict[str, list[Unit]] = {}
    for code, intent in intents.items():
        for switch, facts in intent.facts.items():
            batches.setdefault(switch, []).append(Unit(code, facts))
    runs = ENGINES[engine](ctx.extranet, batches, dry_run, ctx)
    for run in runs:
        for r in run.results:
            outcomes[r.agency].results.append(r)
    if not dry_run:
        runs += _roll_back(ctx, outcomes, engine)
        _audit(ctx, outcomes)
    return Report(outcomes, runs, time.monotonic() - started, dry_run)


def _roll_back(ctx: Context, outcomes: dict[str, AgencyOutcome], engine: str) -> list[SwitchRun]:
    """Every switch that took a failed agency's unit gets it undone."""
    batches: dict[str, list[Unit]] = {}
    for o in outcomes.values():
        if o.failed:
            for r in o.results:
                if r.status == OK and r.changed:
                    batches.setdefault(r.switch, []).append(Unit(o.agency, r.undo))
    if not batches:
        return []
    runs = ENGINES[engine](ctx.extranet, batches, False, ctx)
    for run in runs:
        for r in run.results:
            o = outcomes[r.agency]
            o.rollback.append(r)
            reason = o.reason
            for applied in o.results:
                if applied.switch == r.switch and applied.status == OK:
                    if r.status == FAILED:
                        applied.status, applied.error = FAILED, f"rollback failed: {r.error}"
                    else:
                        applied.status, applied.error = ROLLED_BACK, f"rolled back because {reason}"
    return runs


def _audit(ctx: Context, outcomes: dict[str, AgencyOutcome]) -> None:
    db = ctx.db()
    now = ctx.clock()
    rows = []
    for o in outcomes.values():
        if not o.results and o.error:
            rows.append((now, ctx.user, "onboard", o.agency, "", "failed", o.error))
        for r in o.results:
            if r.changed or r.failed:
                detail = "; ".join(r.diff) + (f" — {r.error}" if r.error else "")
                rows.append((now, ctx.user, "onboard", o.agency, r.switch, r.status, detail))
        for r in o.rollback:
            rows.append((now, ctx.user, "rollback", o.agency, r.switch, r.status, "; ".join(r.diff) or r.error))
    live = [(o.agency, now) for o in outcomes.values() if not o.failed]
    with db:
        db.executemany("INSERT OR REPLACE INTO onboarded VALUES (?, ?)", live)
        db.executemany("INSERT INTO audit (at, user, action, agency, switch, result, detail) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    db.close()


def backup(db: sqlite3.Connection, switch: str, text: str, now: float) -> bool:
    """Keep a switch's configuration in its history, unless it is the same as the last one kept."""
    last = db.execute("SELECT config FROM backups WHERE switch = ? ORDER BY id DESC LIMIT 1", (switch,)).fetchone()
    if last and last[0] == text:
        return False
    db.execute("INSERT INTO backups (switch, at, reason, config) VALUES (?, ?, ?, ?)",
               (switch, now, "before change", text))
    return True
