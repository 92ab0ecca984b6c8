"""Rollups of the store's samples: 5-minute and 1-hour average, minimum and maximum per series.

Maintained by a periodic job, not on the write path: `Rollups.catch_up()`
folds every sample written since the last run (a rowid watermark) into the
`rollup_5m` and `rollup_1h` tables with one INSERT ... SELECT ... GROUP BY
each, so a run costs in proportion to what is new. The panel runs it every
minute in a background thread and before a history query (see
dashboards/history.py), so the poller's writes never wait for it.

A chart then reads at most a few thousand rows whatever its range:
`history()` answers 1 h from the raw samples, 24 h from 5-minute rollups,
7 d and 90 d from 1-hour rollups. Raw samples keep the store's retention
(14 d by default); 5-minute rollups are kept 10 days, 1-hour rollups 400.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from dcops.sqlite import Database

from .store import _labels_key

RANGES: Final = {"1h": 3600.0, "24h": 86400.0, "7d": 7 * 86400.0, "90d": 90 * 86400.0}
# (table, bucket seconds, kept seconds)
LEVELS: Final = (("rollup_5m", 300, 10 * 86400.0), ("rollup_1h", 3600, 400 * 86400.0))

SCHEMA = "".join(f"""
CREATE TABLE IF NOT EXISTS {table} (
    series_id INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    n INTEGER NOT NULL,
    total REAL NOT NULL,
    lo REAL NOT NULL,
    hi REAL NOT NULL,
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;
""" for table, _, _ in LEVELS) + """
CREATE TABLE IF NOT EXISTS rollup_state (
    name TEXT PRIMARY KEY,
    value REAL NOT NULL
);
"""


@dataclass(frozen=True)
class SeriesInfo:
    id: int
    device: str
    metric: str
    labels: tuple[tuple[str, str], ...]
    unit: str


@dataclass(frozen=True)
class Point:
    ts: float
    avg: float
    min: float
    max: float


def resolution(seconds: float) -> str:
    """Where a chart of `seconds` reads: `raw` up to 6 h, `rollup_5m` up to 2 d, else `rollup_1h`."""
    if seconds <= 6 * 3600:
        return "raw"
    if seconds <= 2 * 86400:
        return "rollup_5m"
    return "rollup_1h"


class Rollups:
    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self._db = Database(self.path, SCHEMA)
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        return self._db.conn()

    def close(self) -> None:
        self._db.close()

    def watermark(self) -> int:
        row = self._conn().execute("SELECT value FROM rollup_state WHERE name='rowid'").fetchone()
        return 0 if row is None else int(row[0])

    def catch_up(self) -> int:
        """Fold the samples written since the last run into the rollups; return how many."""
        top = self._conn().execute("SELECT coalesce(max(rowid), 0) FROM samples").fetchone()[0]
        if top == self.watermark():
            return 0  # nothing new: no write lock taken
        with self._lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                done = self.watermark()
                top = conn.execute("SELECT coalesce(max(rowid), 0) FROM samples").fetchone()[0]
                if top < done:  # every sample was pruned and rowids started again
                    done = 0
                for table, width, _ in LEVELS:
                    conn.execute(
                        f"INSERT INTO {table} (series_id, bucket, n, total, lo, hi) "
                        f"SELECT series_id, CAST(ts / {width} AS INTEGER) * {width}, count(*), sum(value), "
                        "min(value), max(value) FROM samples WHERE rowid > ? AND rowid <= ? GROUP BY 1, 2 "
                        "ON CONFLICT (series_id, bucket) DO UPDATE SET n = n + excluded.n, "
                        "total = total + excluded.total, lo = min(lo, excluded.lo), hi = max(hi, excluded.hi)",
                        (done, top))
                conn.execute("INSERT OR REPLACE INTO rollup_state (name, value) VALUES ('rowid', ?)", (top,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return int(top - done)

    def prune(self, now: float | None = None) -> int:
        now = self.clock() if now is None else now
        removed = 0
        with self._lock:
            for table, _, kept in LEVELS:
                removed += self._conn().execute(f"DELETE FROM {table} WHERE bucket < ?", (now - kept,)).rowcount
        return removed

    def series_id(self, device: str, metric: str, labels: tuple[tuple[str, str], ...] = ()) -> int | None:
        row = self._conn().execute("SELECT id FROM series WHERE device=? AND metric=? AND labels=?",
                                   (device, metric, _labels_key(labels))).fetchone()
        return None if row is None else int(row[0])

    def series(self, device: str | None = None) -> list[SeriesInfo]:
        """Every series in the store (of one device), by device, metric and labels."""
        sql = "SELECT id, device, metric, labels, unit FROM series"
        args: tuple[str, ...] = ()
        if device is not None:
            sql += " WHERE device=?"
            args = (device,)
        rows = self._conn().execute(sql + " ORDER BY device, metric, labels", args)
        return [SeriesInfo(i, d, m, tuple((k, v) for k, v in json.loads(lab)), u) for i, d, m, lab, u in rows]

    def series_by_id(self, series_id: int) -> SeriesInfo | None:
        row = self._conn().execute("SELECT id, device, metric, labels, unit FROM series WHERE id=?",
                                   (series_id,)).fetchone()
        if row is None:
            return None
        i, d, m, lab, u = row
        return SeriesInfo(i, d, m, tuple((k, v) for k, v in json.loads(lab)), u)

    def history(self, series_id: int, since: float, until: float, source: str | None = None) -> list[Point]:
        """Points of one series between `since` and `until`, from the level its span calls for."""
        source = source or resolution(until - since)
        if source == "raw":
            rows = self._conn().execute(
                "SELECT ts, value, value, value FROM samples WHERE series_id=? AND ts>=? AND ts<=? ORDER BY ts",
                (series_id, since, until))
        else:
            if source not in {t for t, _, _ in LEVELS}:
                raise ValueError(f"unknown source {source!r}")
            rows = self._conn().execute(
                f"SELECT bucket, total / n, lo, hi FROM {source} WHERE series_id=? AND bucket>=? AND bucket<=? "
                "ORDER BY bucket", (series_id, since - since % 300, until))
        return [Point(*row) for row in rows]


class RollupJob:
    """Runs `catch_up()` (and now and then `prune()`) every `every` seconds in a daemon thread."""

    def __init__(self, rollups: Rollups, every: float = 60.0) -> None:
        self.rollups = rollups
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rollups", daemon=True)
        self._runs = 0

    def start(self) -> RollupJob:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.rollups.catch_up()
                self._runs += 1
                if self._runs % 60 == 1:
                    self.rollups.prune()
            except sqlite3.Error:
                continue  # a busy or briefly unreadable database: the next run folds it in
