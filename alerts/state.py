"""Alert state in the embedded store: tables of our own in the same SQLite file (WAL).

What lives here survives a restart: alerts that are pending or firing, open
incidents with what was already notified and who acknowledged them,
silences, the notification outbox (one row per delivery, with its attempts
and last error) and every alert's timeline. The CLI and the panel leave
acknowledgements as commands the engine applies on its next tick, so they
work whether or not the engine runs in the same process.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcops.sqlite import Database, where

SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_alerts (
    key TEXT PRIMARY KEY, rule TEXT NOT NULL, labels TEXT NOT NULL, state TEXT NOT NULL,
    value REAL NOT NULL, active_since REAL NOT NULL, fired_at REAL NOT NULL, latched INTEGER NOT NULL,
    acked INTEGER NOT NULL, incident INTEGER NOT NULL, last_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT, group_key TEXT NOT NULL, labels TEXT NOT NULL,
    opened_at REAL NOT NULL, state TEXT NOT NULL, notified_at REAL NOT NULL DEFAULT 0,
    severity TEXT NOT NULL DEFAULT '', level INTEGER NOT NULL DEFAULT -1,
    acked_by TEXT NOT NULL DEFAULT '', acked_at REAL NOT NULL DEFAULT 0, ack_note TEXT NOT NULL DEFAULT '',
    resolved_at REAL NOT NULL DEFAULT 0, title TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS alert_incidents_state ON alert_incidents (state);
CREATE TABLE IF NOT EXISTS alert_silences (
    id INTEGER PRIMARY KEY AUTOINCREMENT, matchers TEXT NOT NULL, starts REAL NOT NULL, ends REAL NOT NULL,
    author TEXT NOT NULL, reason TEXT NOT NULL, created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, incident INTEGER NOT NULL, kind TEXT NOT NULL, channel TEXT NOT NULL,
    recipients TEXT NOT NULL, message TEXT NOT NULL, created REAL NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '', sent_at REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS alert_outbox_status ON alert_outbox (status);
CREATE TABLE IF NOT EXISTS alert_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, incident INTEGER NOT NULL, alert TEXT NOT NULL,
    event TEXT NOT NULL, detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS alert_history_alert ON alert_history (alert, ts);
CREATE INDEX IF NOT EXISTS alert_history_incident ON alert_history (incident, ts);
CREATE TABLE IF NOT EXISTS alert_commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
    applied_at REAL NOT NULL DEFAULT 0, result TEXT NOT NULL DEFAULT ''
);
"""

PENDING, SENT, FAILED = "pending", "sent", "failed"
OPEN, CLOSED = "open", "resolved"


@dataclass
class IncidentRow:
    id: int
    group_key: str
    labels: dict[str, str]
    opened_at: float
    state: str = OPEN
    notified_at: float = 0.0
    severity: str = ""
    level: int = -1
    acked_by: str = ""
    acked_at: float = 0.0
    ack_note: str = ""
    resolved_at: float = 0.0
    title: str = ""


@dataclass
class SilenceRow:
    id: int
    matchers: list[str]
    starts: float
    ends: float
    author: str
    reason: str
    created: float

    def active(self, now: float) -> bool:
        return self.starts <= now < self.ends


@dataclass
class OutboxRow:
    id: int
    incident: int
    kind: str
    channel: str
    recipients: list[str]
    message: dict[str, Any]
    created: float
    status: str = PENDING
    attempts: int = 0
    last_error: str = ""
    sent_at: float = 0.0


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class AlertStore:
    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.RLock()
        with self._lock:
            self._db = Database(self.path, SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        return self._db.conn()

    def close(self) -> None:
        self._db.close()

    def _write(self, statements: Iterable[tuple[str, tuple[Any, ...]]]) -> list[int]:
        """Run statements in one transaction; return each one's lastrowid."""
        with self._lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                ids = [int(conn.execute(sql, args).lastrowid or 0) for sql, args in statements]
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return ids

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return list(self._conn().execute(sql, args))

    # ------------------------------------------------------------------ alerts

    @staticmethod
    def alert_upsert(a: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
        return ("INSERT OR REPLACE INTO alert_alerts VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (a["key"], a["rule"], _dumps(a["labels"]), a["state"], a["value"], a["active_since"],
                 a["fired_at"], int(a["latched"]), int(a["acked"]), a["incident"], a["last_seen"]))

    @staticmethod
    def alert_delete(key: str) -> tuple[str, tuple[Any, ...]]:
        return ("DELETE FROM alert_alerts WHERE key=?", (key,))

    @staticmethod
    def history(ts: float, incident: int, alert: str, event: str, detail: str = "") -> tuple[str, tuple[Any, ...]]:
        return ("INSERT INTO alert_history (ts, incident, alert, event, detail) VALUES (?,?,?,?,?)",
                (ts, incident, alert, event, detail))

    def commit(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        if statements:
            self._write(statements)

    def alerts(self) -> list[dict[str, Any]]:
        cols = ("key", "rule", "labels", "state", "value", "active_since", "fired_at", "latched", "acked",
                "incident", "last_seen")
        out = []
        for row in self._rows("SELECT * FROM alert_alerts ORDER BY fired_at, key"):
            d = dict(zip(cols, row, strict=True))
            d["labels"] = json.loads(d["labels"])
            d["latched"], d["acked"] = bool(d["latched"]), bool(d["acked"])
            out.append(d)
        return out

    def timeline(self, alert: str | None = None, incident: int | None = None,
                 limit: int = 500) -> list[tuple[float, int, str, str, str]]:
        if alert is not None:
            return [tuple(r) for r in self._rows(  # type: ignore[misc]
                "SELECT ts, incident, alert, event, detail FROM alert_history WHERE alert=? ORDER BY id LIMIT ?",
                (alert, limit))]
        if incident is not None:  # with what its alerts did the day before they joined it (pending)
            inc = self.incident(incident)
            opened = inc.opened_at if inc is not None else 0.0
            return [tuple(r) for r in self._rows(  # type: ignore[misc]
                "SELECT ts, incident, alert, event, detail FROM alert_history WHERE incident=? OR (incident=0 "
                "AND ts BETWEEN ? AND ? AND alert IN (SELECT alert FROM alert_history WHERE incident=? AND "
                "alert != '')) ORDER BY id LIMIT ?", (incident, opened - 86400, opened, incident, limit))]
        return [tuple(r) for r in self._rows(  # type: ignore[misc]
            "SELECT ts, incident, alert, event, detail FROM alert_history ORDER BY id DESC LIMIT ?", (limit,))]

    # --------------------------------------------------------------- incidents

    def new_incident(self, group_key: str, labels: Mapping[str, str], opened_at: float) -> IncidentRow:
        (iid,) = self._write([("INSERT INTO alert_incidents (group_key, labels, opened_at, state) VALUES (?,?,?,?)",
                               (group_key, _dumps(labels), opened_at, OPEN))])
        return IncidentRow(iid, group_key, dict(labels), opened_at)

    @staticmethod
    def incident_update(inc: IncidentRow) -> tuple[str, tuple[Any, ...]]:
        return ("UPDATE alert_incidents SET state=?, notified_at=?, severity=?, level=?, acked_by=?, acked_at=?, "
                "ack_note=?, resolved_at=?, title=? WHERE id=?",
                (inc.state, inc.notified_at, inc.severity, inc.level, inc.acked_by, inc.acked_at, inc.ack_note,
                 inc.resolved_at, inc.title, inc.id))

    def incidents(self, state: str | None = None, limit: int = 200) -> list[IncidentRow]:
        sql = "SELECT * FROM alert_incidents"
        args: tuple[Any, ...] = ()
        if state is not None:
            sql += " WHERE state=?"
            args = (state,)
        sql += " ORDER BY id DESC LIMIT ?"
        out = []
        for r in self._rows(sql, (*args, limit)):
            out.append(IncidentRow(r[0], r[1], json.loads(r[2]), *r[3:]))
        return out

    def incident(self, iid: int) -> IncidentRow | None:
        rows = self._rows("SELECT * FROM alert_incidents WHERE id=?", (iid,))
        return IncidentRow(rows[0][0], rows[0][1], json.loads(rows[0][2]), *rows[0][3:]) if rows else None

    # ---------------------------------------------------------------- silences

    def add_silence(self, matchers: list[str], starts: float, ends: float, author: str, reason: str) -> int:
        (sid,) = self._write([(
            "INSERT INTO alert_silences (matchers, starts, ends, author, reason, created) VALUES (?,?,?,?,?,?)",
            (_dumps(matchers), starts, ends, author, reason, self.clock()))])
        return sid

    def expire_silence(self, sid: int, now: float) -> bool:
        with self._lock:
            rows = self._rows("SELECT ends FROM alert_silences WHERE id=?", (sid,))
            if not rows or rows[0][0] <= now:
                return False
            self._write([("UPDATE alert_silences SET ends=? WHERE id=?", (now, sid))])
            return True

    def silences(self, active_at: float | None = None) -> list[SilenceRow]:
        sql, args = "SELECT * FROM alert_silences", ()
        if active_at is not None:
            sql, args = sql + " WHERE starts<=? AND ends>?", (active_at, active_at)  # type: ignore[assignment]
        return [SilenceRow(r[0], json.loads(r[1]), *r[2:]) for r in self._rows(sql + " ORDER BY id", args)]

    # ------------------------------------------------------------------ outbox

    @staticmethod
    def outbox_insert(incident: int, kind: str, channel: str, recipients: list[str], message: Mapping[str, Any],
                      created: float) -> tuple[str, tuple[Any, ...]]:
        return ("INSERT INTO alert_outbox (incident, kind, channel, recipients, message, created, status) "
                "VALUES (?,?,?,?,?,?,?)",
                (incident, kind, channel, _dumps(recipients), _dumps(message), created, PENDING))

    def outbox(self, status: str | None = None, incident: int | None = None, limit: int = 1000) -> list[OutboxRow]:
        clause, args = where([("status=?", status), ("incident=?", incident)])
        rows = self._rows("SELECT * FROM alert_outbox" + clause + " ORDER BY id LIMIT ?", (*args, limit))
        return [OutboxRow(r[0], r[1], r[2], r[3], json.loads(r[4]), json.loads(r[5]), *r[6:]) for r in rows]

    def outbox_result(self, oid: int, status: str, attempts: int, error: str, sent_at: float = 0.0) -> None:
        self._write([("UPDATE alert_outbox SET status=?, attempts=?, last_error=?, sent_at=? WHERE id=?",
                      (status, attempts, error, sent_at, oid))])

    # ---------------------------------------------------------------- commands

    def add_command(self, kind: str, payload: Mapping[str, Any]) -> int:
        (cid,) = self._write([("INSERT INTO alert_commands (ts, kind, payload) VALUES (?,?,?)",
                               (self.clock(), kind, _dumps(payload)))])
        return cid

    def pending_commands(self) -> list[tuple[int, str, dict[str, Any]]]:
        return [(r[0], r[1], json.loads(r[2]))
                for r in self._rows("SELECT id, kind, payload FROM alert_commands WHERE applied_at=0 ORDER BY id")]

    @staticmethod
    def command_done(cid: int, ts: float, result: str) -> tuple[str, tuple[Any, ...]]:
        return ("UPDATE alert_commands SET applied_at=?, result=? WHERE id=?", (ts, result, cid))

    def command_result(self, cid: int) -> str | None:
        rows = self._rows("SELECT applied_at, result FROM alert_commands WHERE id=?", (cid,))
        return rows[0][1] if rows and rows[0][0] else None
