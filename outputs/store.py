"""The embedded store: SQLite in WAL mode, the default output.

Tables: `series` (one row per device/metric/labels), `samples` (raw values,
pruned after `retention` seconds), `latest` (the newest value per series,
what pages and /metrics read) and `polls` (the last poll report per device).
Trap events go to `events` (pruned after `retention` too) and are counted in
`event_counts` (never pruned, so /metrics counters only ever grow).
One connection per thread; writes are serialised by a lock.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from dcops.sqlite import Database, where
from dcops.types import PollReport, Sample, TrapEvent

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
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    device TEXT NOT NULL,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    notification TEXT NOT NULL,
    oid TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    varbinds TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS events_device_ts ON events (device, ts);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
CREATE TABLE IF NOT EXISTS event_counts (
    device TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    count INTEGER NOT NULL,
    last_ts REAL NOT NULL,
    PRIMARY KEY (device, kind, severity)
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
        self.retention = retention
        self.clock = clock
        self._db = Database(self.path, SCHEMA)
        self._write_lock = threading.Lock()
        self._series_ids: dict[tuple[str, str, str], int] = {}
        self._last_prune = 0.0

    def _conn(self) -> sqlite3.Connection:
        return self._db.conn()

    def close(self) -> None:
        self._db.close()

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

    def write_event(self, event: TrapEvent) -> None:
        """Store one trap event and count it (an `on_event` callback of the trap receiver)."""
        with self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN")
            try:
                conn.execute(
                    "INSERT INTO events (device, ts, kind, severity, notification, oid, source, varbinds) "
                    "VALUES (?,?,?,?,?,?,?,?)",
                    (event.device, event.ts, event.kind, event.severity, event.notification, event.oid,
                     event.source, json.dumps(event.varbinds, ensure_ascii=False)))
                conn.execute(
                    "INSERT INTO event_counts VALUES (?,?,?,1,?) ON CONFLICT(device, kind, severity) "
                    "DO UPDATE SET count=count+1, last_ts=max(last_ts, excluded.last_ts)",
                    (event.device, event.kind, event.severity, event.ts))
                conn.execute("DELETE FROM events WHERE ts < ?", (self.clock() - self.retention,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------- reading

    def events(self, device: str | None = None, since: float | None = None, limit: int = 100) -> list[TrapEvent]:
        """The newest trap events first (of one device, and since a time, when given)."""
        clause, args = where([("device = ?", device), ("ts >= ?", since)])
        sql = ("SELECT device, ts, kind, severity, notification, oid, source, varbinds FROM events"
               + clause + " ORDER BY ts DESC, id DESC LIMIT ?")
        return [
            TrapEvent(device=d, ts=ts, kind=k, severity=sev, notification=n, oid=o, source=src,
                      varbinds=tuple((str(a), str(b)) for a, b in json.loads(vb)))
            for d, ts, k, sev, n, o, src, vb in self._conn().execute(sql, [*args, limit])
        ]

    def event_counts(self) -> list[tuple[str, str, str, int, float]]:
        """(device, kind, severity, events ever stored, newest ts), for counters that never go back."""
        return [tuple(row) for row in self._conn().execute(  # type: ignore[misc]
            "SELECT device, kind, severity, count, last_ts FROM event_counts ORDER BY device, kind, severity")]

    def latest(self, device: str | None = None, metric: str | None = None) -> list[Sample]:
        clause, args = where([("s.device = ?", device), ("s.metric = ?", metric)])
        sql = ("SELECT s.device, s.metric, l.value, l.ts, s.unit, s.labels, s.oid, l.text "
               "FROM latest l JOIN series s ON s.id = l.series_id" + clause + " ORDER BY s.device, s.metric, s.labels")
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
