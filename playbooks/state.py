"""The extranet's state: SQLite (WAL) in `<var>/extranet.db`, a file of its own beside the room's store.

Tables: `vlan_alloc` and `prefix_alloc` (IPAM), `onboarded` (agencies live on their
switches), `backups` (running configurations per switch, with history), `audit` (who
changed what, when, with what result), `onboard_jobs` and `onboard_job_switches` (each
run's progress per switch, jobs.py). An interrupted bulk run resumes by running it again:
every switch is diffed against its running configuration, so what is done shows 0 changes.
Every caller opens its own connection (one per thread); writers wait up to 30 s.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from . import jobs

SCHEMA = """
CREATE TABLE IF NOT EXISTS vlan_alloc (
    grp TEXT NOT NULL, vid INTEGER NOT NULL, agency TEXT NOT NULL UNIQUE, at REAL NOT NULL,
    PRIMARY KEY (grp, vid));
CREATE TABLE IF NOT EXISTS prefix_alloc (
    pool TEXT NOT NULL, prefix TEXT NOT NULL, agency TEXT NOT NULL UNIQUE, at REAL NOT NULL,
    PRIMARY KEY (pool, prefix));
CREATE TABLE IF NOT EXISTS onboarded (agency TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS backups (
    id INTEGER PRIMARY KEY, switch TEXT NOT NULL, at REAL NOT NULL, reason TEXT NOT NULL,
    config TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS backups_switch ON backups (switch, id);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, user TEXT NOT NULL, action TEXT NOT NULL,
    agency TEXT NOT NULL, switch TEXT NOT NULL, result TEXT NOT NULL, detail TEXT NOT NULL);
""" + jobs.SCHEMA


def var_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The dcops var directory: $DCOPS_VAR, or `var` in the working directory."""
    env = os.environ if environ is None else environ
    return Path(env.get("DCOPS_VAR", "var"))


def default_db(environ: Mapping[str, str] | None = None) -> Path:
    return var_dir(environ) / "extranet.db"


def connect(path: Path | str) -> sqlite3.Connection:
    """Open (and create) the state database; autocommit, so callers say where a transaction begins."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    return db


@contextmanager
def switch_lock(db_path: Path | str, name: str) -> Iterator[None]:
    """One batch per switch at a time, across threads and processes: an flock per switch beside the database."""
    path = Path(db_path).parent / "locks" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def backup(db: sqlite3.Connection, switch: str, text: str, now: float) -> bool:
    """Keep a switch's configuration in its history, unless it is the same as the last one kept."""
    last = db.execute("SELECT config FROM backups WHERE switch = ? ORDER BY id DESC LIMIT 1", (switch,)).fetchone()
    if last and last[0] == text:
        return False
    db.execute("INSERT INTO backups (switch, at, reason, config) VALUES (?, ?, ?, ?)",
               (switch, now, "before change", text))
    return True
