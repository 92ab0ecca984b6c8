"""Onboarding: plan (IPAM + intent) → per-switch batches (diff, apply, verify) → roll back what failed.

An agency is done when every switch on its path took and verified its unit;
when any switch fails it (rejected command, unreachable, wrong password,
failed verification), every switch that did take it gets its unit undone, so
nothing is left half-applied. Independent agencies carry on. Switches run in
parallel (at most `workers`), one batch per switch at a time (a lock per
switch, also across processes). Backups, the audit log and job progress go
to the state database.

An interruption (`ctx.stop` set, as the CLI does on SIGINT or SIGTERM) stops
before the next unit on every switch; what was applied is verified and saved,
and agencies left incomplete are rolled back like failed ones, so each agency
is either on all its switches or on none. Running it again does the rest.
Retiring (`retire`) removes an agency's facts through the same path.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from dcops.registry import Registry
from inventory.model import RETIRED, Extranet, Switch

from . import jobs
from .ansible_engine import ansible_engine
from .batch import FAILED, INTERRUPTED, OK, ROLLED_BACK, SwitchRun, Unit, UnitResult, run_switch
from .driver import DRIVERS, Driver
from .facts import Fact, absent
from .intent import AgencyIntent, agency_intent
from .ipam import IPAM, Allocation, IpamError
from .state import backup, connect, switch_lock

ONBOARD, RELEASE = "onboard", "release"
BECAUSE = "rolled back because "


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
        first = sorted((r for r in self.results if r.failed and r.error),
                       key=lambda r: (r.status != FAILED, r.error.startswith(BECAUSE)))
        return self.error or (first[0].error if first else "")

    @property
    def status(self) -> str:
        """changed, unchanged; or, when it failed: rolled-back or interrupted (nothing of it is left on any
        switch), failed (something may be: a rollback failed, or it never got that far)."""
        if not self.failed:
            return "changed" if self.changes else "unchanged"
        undone = bool(self.results) and all(r.status != FAILED for r in self.rollback)
        if undone and any(r.status == INTERRUPTED for r in self.results) \
                and not any(r.status == FAILED for r in self.results):
            return "interrupted"
        return "rolled-back" if undone else "failed"


@dataclass
class Report:
    outcomes: dict[str, AgencyOutcome]
    runs: list[SwitchRun]
    seconds: float
    dry_run: bool
    action: str = ONBOARD

    @property
    def changes(self) -> int:
        return sum(o.changes for o in self.outcomes.values())

    @property
    def failed(self) -> list[AgencyOutcome]:
        return [o for o in self.outcomes.values() if o.failed]

    @property
    def interrupted(self) -> list[AgencyOutcome]:
        return [o for o in self.outcomes.values() if o.status == "interrupted"]


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
    on_switch: Callable[[SwitchRun], None] = lambda run: None  # a switch finished its batch
    stop: threading.Event = field(default_factory=threading.Event)  # set: finish the unit at hand, start no other
    job: int | None = None  # the onboard_jobs row this run reports its progress to (jobs.py)
    on_job: Callable[[int], None] = lambda job: None  # the run has its job (the panel then shows it)

    def db(self) -> sqlite3.Connection:
        return connect(self.db_path)

    def quiet(self) -> Context:
        """The same context for a rollback: no progress reports, and never stopped."""
        return dataclasses.replace(self, progress=lambda r: None, on_switch=lambda run: None,
                                   stop=threading.Event())


def netmiko_engine(x: Extranet, batches: dict[str, list[Unit]], dry_run: bool, ctx: Context) -> list[SwitchRun]:
    def one(name: str) -> SwitchRun:
        db = ctx.db()
        try:
            with switch_lock(ctx.db_path, name):
                run = run_switch(x.switches[name], batches[name], ctx.connect, dry_run=dry_run,
                                 on_backup=lambda sw, text: backup(db, sw, text, ctx.clock()),
                                 on_unit=ctx.progress, stop=ctx.stop.is_set,
                                 on_step=lambda done: _step(db, ctx.job, name, done))
        finally:
            db.close()
        ctx.on_switch(run)
        return run

    # the busiest switches first: the run lasts as long as its longest batch
    order = sorted(batches, key=lambda n: -len(batches[n]))
    with ThreadPoolExecutor(max_workers=max(1, ctx.workers)) as pool:
        return list(pool.map(one, order))


ENGINES: Registry[Engine] = Registry("onboarding engine")
ENGINES.register("netmiko", netmiko_engine)
ENGINES.register("ansible", ansible_engine)


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
    wanted = {code: intent.facts for code, intent in intents.items()}
    report = _execute(ctx, ONBOARD, outcomes, wanted, dry_run, engine)
    report.seconds = time.monotonic() - started
    return report


def retire(ctx: Context, codes: list[str], *, dry_run: bool = False, engine: str = "netmiko",
           keep_config: bool = False) -> Report:
    """Remove retired agencies' configuration from their switches (only what still is theirs), then give their
    vid and subnet back. A removal that fails is rolled back and keeps the allocation; `keep_config` skips the
    switches (a switch that is gone for good)."""
    started = time.monotonic()
    db = ctx.db()
    ipam = IPAM(db, ctx.extranet, ctx.clock)
    outcomes: dict[str, AgencyOutcome] = {}
    wanted: dict[str, dict[str, list[Fact]]] = {}
    for code in codes:
        agency = ipam.agency(code)
        held = ipam.get(code)
        outcomes[code] = o = AgencyOutcome(code, held)
        if agency.status != RETIRED:
            o.error = f"agency {code} is {agency.status}: set status: retired in the inventory first"
        elif held is not None and not keep_config:
            facts = agency_intent(ctx.extranet, agency, held).facts
            wanted[code] = {sw: [absent(f.kind, f.key, was=f) for f in fs] for sw, fs in facts.items()}
    db.close()
    report = _execute(ctx, RELEASE, outcomes, wanted, dry_run, engine)
    if not dry_run:
        db = ctx.db()
        ipam = IPAM(db, ctx.extranet, ctx.clock)
        now = ctx.clock()
        for o in outcomes.values():
            if not o.failed and o.allocation is not None:
                ipam.release(o.agency)
                with db:
                    db.execute("INSERT INTO audit (at, user, action, agency, switch, result, detail) "
                               "VALUES (?, ?, ?, ?, '', 'ok', ?)", (now, ctx.user, RELEASE, o.agency,
                                                                    f"released vid {o.allocation.vid} and "
                                                                    f"{o.allocation.prefix}"))
        db.close()
    report.seconds = time.monotonic() - started
    return report


def _execute(ctx: Context, action: str, outcomes: dict[str, AgencyOutcome],
             wanted: dict[str, dict[str, list[Fact]]], dry_run: bool, engine: str) -> Report:
    batches: dict[str, list[Unit]] = {}
    for code, per_switch in wanted.items():
        for switch, facts in per_switch.items():
            batches.setdefault(switch, []).append(Unit(code, facts))
    db = ctx.db()
    job = jobs.start(db, at=ctx.clock(), user=ctx.user, action=action, engine=engine, dry_run=dry_run,
                     agencies=len(outcomes), switches={n: len(u) for n, u in batches.items()})
    db.close()
    ctx.on_job(job)
    shown, outer = ctx.on_switch, ctx

    def on_switch(run: SwitchRun) -> None:
        _record(outer, job, run)
        shown(run)

    ctx = dataclasses.replace(ctx, job=job, on_switch=on_switch)
    runs: list[SwitchRun] = []
    report = Report(outcomes, runs, 0.0, dry_run, action)
    finished = False
    try:
        runs += ENGINES[engine](ctx.extranet, batches, dry_run, ctx) if batches else []
        for run in runs:
            for r in run.results:
                outcomes[r.agency].results.append(r)
        if not dry_run:
            forward = list(runs)
            runs += _roll_back(ctx, outcomes, engine)
            _audit(ctx, action, outcomes)
            for run in forward:  # the switches' results as they stand after the rollback
                _record(ctx, job, run)
        finished = True
    finally:
        _finish(ctx, job, report, crashed=not finished)
    return report


def _step(db: sqlite3.Connection, job: int | None, switch: str, done: int) -> None:
    if job is not None:
        jobs.step(db, job, switch, done)


def _record(ctx: Context, job: int, run: SwitchRun) -> None:
    counts: dict[str, int] = {}
    for r in run.results:
        counts[r.status] = counts.get(r.status, 0) + 1
    # the switch failed a unit itself (not rolled back because another switch did)
    caused = [r for r in run.results if r.status in (FAILED, ROLLED_BACK) and not r.error.startswith(BECAUSE)]
    error = run.error or (f"{caused[0].agency}: {caused[0].error}" if caused else "")
    db = ctx.db()
    jobs.switch_done(db, job, run.switch, status=jobs.FAILED if error else jobs.DONE,
                     results=json.dumps(counts, sort_keys=True), seconds=round(run.seconds, 2), error=error)
    db.close()


def _finish(ctx: Context, job: int, report: Report, crashed: bool) -> None:
    status = (jobs.FAILED if crashed or (report.failed and not report.interrupted) else
              jobs.INTERRUPTED if report.interrupted else jobs.DONE)
    summary = {"agencies": len(report.outcomes), "failed": len(report.failed) - len(report.interrupted),
               "interrupted": len(report.interrupted), "changes": report.changes}
    summary["ok"] = summary["agencies"] - summary["failed"] - summary["interrupted"]
    db = ctx.db()
    jobs.finish(db, job, at=ctx.clock(), status=status, summary=json.dumps(summary, sort_keys=True))
    db.close()


def _roll_back(ctx: Context, outcomes: dict[str, AgencyOutcome], engine: str) -> list[SwitchRun]:
    """Every switch that took (or may have half taken) a failed agency's unit gets it undone."""
    batches: dict[str, list[Unit]] = {}
    reasons: dict[str, str] = {}
    for o in outcomes.values():
        if o.failed:
            reasons[o.agency] = o.reason
            for r in o.results:
                if r.touched:
                    batches.setdefault(r.switch, []).append(Unit(o.agency, r.undo))
    if not batches:
        return []
    runs = ENGINES[engine](ctx.extranet, batches, False, ctx.quiet())
    for run in runs:
        for r in run.results:
            o = outcomes[r.agency]
            o.rollback.append(r)
            for applied in o.results:
                if applied.switch != r.switch:
                    continue
                if r.status == FAILED:
                    cause = f"{applied.error}; " if applied.status == FAILED and applied.error else ""
                    applied.status, applied.error = FAILED, f"{cause}rollback failed: {r.error}"
                elif applied.status == OK:
                    applied.status, applied.error = ROLLED_BACK, BECAUSE + reasons[o.agency]
    return runs


def _audit(ctx: Context, action: str, outcomes: dict[str, AgencyOutcome]) -> None:
    db = ctx.db()
    now = ctx.clock()
    rows = []
    for o in outcomes.values():
        if not o.results and o.error:
            rows.append((now, ctx.user, action, o.agency, "", "failed", o.error))
        for r in o.results:
            if r.changed or r.failed:
                detail = "; ".join(r.diff) + (f" — {r.error}" if r.error else "")
                rows.append((now, ctx.user, action, o.agency, r.switch, r.status, detail))
        for r in o.rollback:
            rows.append((now, ctx.user, "rollback", o.agency, r.switch, r.status, "; ".join(r.diff) or r.error))
    live = [(o.agency, now) for o in outcomes.values() if not o.failed and action == ONBOARD]
    with db:
        db.executemany("INSERT OR REPLACE INTO onboarded VALUES (?, ?)", live)
        db.executemany("INSERT INTO audit (at, user, action, agency, switch, result, detail) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    db.close()

