"""The embedded store: SQLite in WAL mode, the default output.

Tables: `series` (one row per device/metric/labels), `samples` (raw values,
pruned after `retention` seconds), `latest` (the newest value per series,
what pages and /metrics read) and `polls` (the last poll report per device).
One connection per thread; writes are serialised by a lock.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from dcops.types import PollReport, Sample

SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    device TEXT NOT NULL,
    metric TEXT NOT NULL,
    labels TEXT NOT NULL,
    unit TEXT NOT NULL DEFAULT '',
    oid TEXT NOT NULL DEFAULT '',
    UNIQUE (device, metric, labels)
);
CREATE TABLE IF NOT EXISTS samples (
    series_id INTEGER NOT NULL REFERENCES series(id),
    ts REAL NOT NULL,
    value REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_series_ts ON samples (series_id, ts);
CREATE INDEX IF NOT EXISTS samples_ts ON samples (ts);
CREATE TABLE IF NOT EXISTS latest (
    series_id INTEGER PRIMARY KEY REFERENCES series(id),
    ts REAL NOT NULL,
    value REAL NOT NULL,
    text TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS polls (
    device TEXT PRIMARY KEY,
    ts REAL NOT NULL,
    up INTEGER NOT NULL,
    duration REAL NOT NULL,
    samples INTEGER NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    profiles TEXT NOT NULL DEFAULT ''
);
"""

DEFAULT_RETENTION = 14 * 86400.0


def _labels_key(labels: tuple[tuple[str, str], ...]) -> str:
    return json.dumps(sorted(labels), ensure_ascii=False, separators=(",", ":"))


class Store:
    def __init__(
        self,
        path: Path | str,
        *,
        retention: float = DEFAULT_RETENTION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.retention = retention
        self.clock = clock
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._series_ids: dict[tuple[str, str, str], int] = {}
        self._last_prune = 0.0
        with self._write_lock:
            self._conn().executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ------------------------------------------------------------- writing

    def _series_id(self, conn: sqlite3.Connection, s: Sample) -> int:
        key = (s.device, s.metric, _labels_key(s.labels))
        sid = self._series_ids.get(key)
        if sid is None:
            conn.execute(
                "INSERT OR IGNORE INTO series (device, metric, labels, unit, oid) VALUES (?,?,?,?,?)",
                (*key, s.unit, s.oid),
            )
            sid = conn.execute(
                "SELECT id FROM series WHERE device=? AND metric=? AND labels=?", key
            ).fetchone()[0]
            self._series_ids[key] = sid
        return sid

    def publish(self, report: PollReport, samples: Sequence[Sample]) -> None:
        self.write(samples, report)

    def write(self, samples: Iterable[Sample], report: PollReport | None = None) -> None:
        with self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN")
            try:
                rows = [(self._series_id(conn, s), s.ts, s.value, s.text) for s in samples]
                conn.executemany("INSERT INTO samples (series_id, ts, value) VALUES (?,?,?)",
                                 [r[:3] for r in rows])
                conn.executemany(
                    "INSERT INTO latest (series_id, ts, value, text) VALUES (?,?,?,?) "
                    "ON CONFLICT(series_id) DO UPDATE SET ts=excluded.ts, value=excluded.value, "
                    "text=excluded.text WHERE excluded.ts >= latest.ts",
                    rows,
                )
                if report is not None:
                    conn.execute(
                        "INSERT OR REPLACE INTO polls VALUES (?,?,?,?,?,?,?)",
                        (report.device, report.ts, int(report.up), report.duration,
                         report.samples, report.error, ",".join(report.profiles)),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                self._series_ids.clear()
                raise
        now = self.clock()
        if now - self._last_prune > 60:
            self.prune(now)

    def prune(self, now: float | None = None) -> int:
        """Delete raw samples older than the retention; return how many."""
        now = self.clock() if now is None else now
        self._last_prune = now
        with self._write_lock:
            cur = self._conn().execute("DELETE FROM samples WHERE ts < ?", (now - self.retention,))
            return cur.rowcount

    # ------------------------------------------------------------- reading

    def latest(self, device: str | None = None, metric: str | None = None) -> list[Sample]:
        sql = ("SELECT s.device, s.metric, l.value, l.ts, s.unit, s.labels, s.oid, l.text "
               "FROM latest l JOIN series s ON s.id = l.series_id")
        where, args = [], []
        if device is not None:
            where.append("s.device = ?")
            args.append(device)
        if metric is not None:
            where.append("s.metric = ?")
            args.append(metric)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY s.device, s.metric, s.labels"
        return [
            Sample(device=d, metric=m, value=v, ts=ts, unit=u,
                   labels=tuple((k, val) for k, val in json.loads(lab)), oid=oid, text=text)
            for d, m, v, ts, u, lab, oid, text in self._conn().execute(sql, args)
        ]

    def reports(self) -> dict[str, PollReport]:
        rows = self._conn().execute("SELECT * FROM polls ORDER BY device")
        return {
            d: PollReport(device=d, ts=ts, up=bool(up), duration=dur, samples=n, error=err,
                          profiles=tuple(p for p in prof.split(",") if p))
            for d, ts, up, dur, n, err, prof in rows
        }

    def history(
        self,
        device: str,
        metric: str,
        labels: tuple[tuple[str, str], ...] = (),
        since: float | None = None,
        until: float | None = None,
    ) -> list[tuple[float, float]]:
        row = self._conn().execute(
            "SELECT id FROM series WHERE device=? AND metric=? AND labels=?",
            (device, metric, _labels_key(labels)),
        ).fetchone()
        if row is None:
            return []
        since = 0.0 if since is None else since
        until = float("inf") if until is None else until
        return list(self._conn().execute(
            "SELECT ts, value FROM samples WHERE series_id=? AND ts>=? AND ts<=? ORDER BY ts",
            (row[0], since, until),
        ))

    def count_samples(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM samples").fetchone()[0])
