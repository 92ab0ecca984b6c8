"""Onboarding jobs in the state database: what a run is doing, switch by switch, for the panel to show live.

A job is one `onboard` or `release` run (from the CLI, the panel or the
benchmark). It lists the switches of its batches when it starts; each
switch's row counts the units done while its batch runs (both engines: the
netmiko engine's thread and the Ansible module write the same row) and holds
the switch's results when the run is over (after cross-switch rollback).
A job whose process died without finishing (a SIGKILL) reads as `lost`.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field

RUNNING, DONE, FAILED, INTERRUPTED, LOST = "running", "done", "failed", "interrupted", "lost"
WAITING = "waiting"

SCHEMA = """
CREATE TABLE IF NOT EXISTS onboard_jobs (
    id INTEGER PRIMARY KEY, started REAL NOT NULL, finished REAL, user TEXT NOT NULL, action TEXT NOT NULL,
    engine TEXT NOT NULL, dry_run INTEGER NOT NULL, agencies INTEGER NOT NULL, pid INTEGER NOT NULL,
    status TEXT NOT NULL, summary TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS onboard_job_switches (
    job INTEGER NOT NULL, switch TEXT NOT NULL, units INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL, results TEXT NOT NULL DEFAULT '', seconds REAL, error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job, switch));
"""


@dataclass
class SwitchProgress:
    switch: str
    units: int
    done: int
    status: str
    results: str = ""
    seconds: float | None = None
    error: str = ""


@dataclass
class Job:
    id: int
    started: float
    finished: float | None
    user: str
    action: str
    engine: str
    dry_run: bool
    agencies: int
    status: str
    summary: str
    units: int = 0
    done: int = 0
    switches: list[SwitchProgress] = field(default_factory=list)

    @property
    def percent(self) -> int:
        return 100 if not self.units else round(100 * self.done / self.units)


def start(db: sqlite3.Connection, *, at: float, user: str, action: str, engine: str, dry_run: bool,
          agencies: int, switches: dict[str, int]) -> int:
    with db:
        cur = db.execute("INSERT INTO onboard_jobs (started, user, action, engine, dry_run, agencies, pid, status) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (at, user, action, engine, int(dry_run), agencies, os.getpid(), RUNNING))
        job = int(cur.lastrowid or 0)
        db.executemany("INSERT INTO onboard_job_switches (job, switch, units, status) VALUES (?, ?, ?, ?)",
                       [(job, name, units, WAITING) for name, units in switches.items()])
    return job


def step(db: sqlite3.Connection, job: int, switch: str, done: int) -> None:
    """`done` units of the switch's batch are through (0: its batch has started)."""
    with db:
        db.execute("UPDATE onboard_job_switches SET done = ?, status = ? WHERE job = ? AND switch = ?",
                   (done, RUNNING, job, switch))


def switch_done(db: sqlite3.Connection, job: int, switch: str, *, status: str, results: str, seconds: float,
                error: str) -> None:
    with db:
        db.execute("UPDATE onboard_job_switches SET done = units, status = ?, results = ?, seconds = ?, error = ? "
                   "WHERE job = ? AND switch = ?", (status, results, seconds, error, job, switch))


def finish(db: sqlite3.Connection, job: int, *, at: float, status: str, summary: str) -> None:
    with db:
        db.execute("UPDATE onboard_jobs SET finished = ?, status = ?, summary = ? WHERE id = ?",
                   (at, status, summary, job))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recent(db: sqlite3.Connection, limit: int = 20, job: int | None = None) -> list[Job]:
    """The latest jobs, newest first (or the one `job`), with their switches' progress."""
    where, args = ("WHERE id = ?", (job, limit)) if job is not None else ("", (limit,))
    rows = db.execute("SELECT id, started, finished, user, action, engine, dry_run, agencies, pid, status, summary "
                      f"FROM onboard_jobs {where} ORDER BY id DESC LIMIT ?", args).fetchall()
    out: list[Job] = []
    for r in rows:
        status = LOST if r[9] == RUNNING and not _alive(int(r[8])) else str(r[9])
        j = Job(int(r[0]), float(r[1]), r[2], str(r[3]), str(r[4]), str(r[5]), bool(r[6]), int(r[7]), status,
                str(r[10]))
        for s in db.execute("SELECT switch, units, done, status, results, seconds, error FROM onboard_job_switches "
                            "WHERE job = ? ORDER BY rowid", (j.id,)):
            j.switches.append(SwitchProgress(str(s[0]), int(s[1]), int(s[2]), str(s[3]), str(s[4]), s[5],
                                             str(s[6])))
        j.units = sum(s.units for s in j.switches)
        j.done = sum(s.done for s in j.switches)
        out.append(j)
    return out
