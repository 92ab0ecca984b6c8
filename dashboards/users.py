"""Panel users, login throttling and the audit trail, kept in the store's SQLite database.

Tables of the panel's own (the store's tables are never touched):

- `panel_users`: name, role (viewer < operator < admin), a salted password
  hash (werkzeug.security: scrypt), `version` (bumped when the password, the
  role or the account changes, which ends the user's open sessions);
- `panel_login_failures`: one row per failed login, by user and by address,
  read over a sliding window to throttle guessing;
- `panel_audit`: who did what to what, when and from where;
- `panel_meter_readings`: utility meter readings entered by operators (PUE);
- `panel_settings`: the generated session key when none is configured.

One connection per thread, like the store; SQLite's own locking serialises
the few writes.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from werkzeug.security import check_password_hash, generate_password_hash

from dcops.sqlite import Database

VIEWER: Final = "viewer"
OPERATOR: Final = "operator"
ADMIN: Final = "admin"
ROLES: Final = (VIEWER, OPERATOR, ADMIN)  # in rank order
NAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD: Final = 8

# Throttling: after MAX_USER_FAILURES failed logins for one name (or MAX_ADDRESS_FAILURES
# from one address) within WINDOW seconds, further attempts are refused until the window
# has moved past the oldest of them.
WINDOW: Final = 15 * 60.0
MAX_USER_FAILURES: Final = 5
MAX_ADDRESS_FAILURES: Final = 20

SCHEMA = """
CREATE TABLE IF NOT EXISTS panel_users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created REAL NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS panel_login_failures (
    key TEXT NOT NULL,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS panel_login_failures_key ON panel_login_failures (key, ts);
CREATE TABLE IF NOT EXISTS panel_audit (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS panel_meter_readings (
    ts REAL NOT NULL,
    actor TEXT NOT NULL,
    kilowatts REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS panel_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class UserError(ValueError):
    """A request the user store refuses (unknown role, duplicate name, short password)."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    disabled: bool
    version: int
    created: float

    def has(self, role: str) -> bool:
        """Does this user hold `role` or a higher one?"""
        return not self.disabled and ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    ts: float
    actor: str
    action: str
    target: str
    detail: str
    address: str


def rank(role: str) -> int:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    return ROLES.index(role)


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise UserError(f"invalid user name {name!r}: 1-64 letters, digits, '_', '.', '@' or '-'")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
    return password


class UserStore:
    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self._db = Database(self.path, SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        return self._db.conn()

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------ users

    def add(self, name: str, role: str, password: str) -> User:
        check_name(name)
        rank(role)
        check_password(password)
        try:
            self._conn().execute(
                "INSERT INTO panel_users (name, role, password_hash, created) VALUES (?,?,?,?)",
                (name, role, generate_password_hash(password), self.clock()))
        except sqlite3.IntegrityError:
            raise UserError(f"user {name!r} already exists") from None
        return self._require(name)

    def get(self, name: str) -> User | None:
        row = self._conn().execute(
            "SELECT name, role, disabled, version, created FROM panel_users WHERE name=?", (name,)).fetchone()
        return None if row is None else User(row[0], row[1], bool(row[2]), row[3], row[4])

    def _require(self, name: str) -> User:
        user = self.get(name)
        if user is None:
            raise UserError(f"no user {name!r}")
        return user

    def all(self) -> list[User]:
        rows = self._conn().execute("SELECT name, role, disabled, version, created FROM panel_users ORDER BY name")
        return [User(r[0], r[1], bool(r[2]), r[3], r[4]) for r in rows]

    def _update(self, name: str, sql: str, *args: object) -> User:
        self._require(name)
        self._conn().execute(f"UPDATE panel_users SET {sql}, version = version + 1 WHERE name=?", (*args, name))
        return self._require(name)

    def set_role(self, name: str, role: str) -> User:
        rank(role)
        return self._update(name, "role=?", role)

    def set_password(self, name: str, password: str) -> User:
        check_password(password)
        return self._update(name, "password_hash=?", generate_password_hash(password))

    def set_disabled(self, name: str, disabled: bool) -> User:
        return self._update(name, "disabled=?", int(disabled))

    def remove(self, name: str) -> None:
        self._require(name)
        self._conn().execute("DELETE FROM panel_users WHERE name=?", (name,))

    def verify(self, name: str, password: str) -> User | None:
        """The user when the password is right and the account enabled, else None."""
        row = self._conn().execute("SELECT password_hash FROM panel_users WHERE name=?", (name,)).fetchone()
        if row is None:
            check_password_hash(_DUMMY_HASH, password)  # same time for an unknown name
            return None
        if not check_password_hash(row[0], password):
            return None
        user = self.get(name)
        return user if user is not None and not user.disabled else None

    # ------------------------------------------------------------------ throttling

    def locked_for(self, name: str, address: str) -> float:
        """Seconds until another login attempt for `name` from `address` is allowed (0: now)."""
        now = self.clock()
        wait = 0.0
        for key, limit in ((f"user:{name}", MAX_USER_FAILURES), (f"addr:{address}", MAX_ADDRESS_FAILURES)):
            rows = self._conn().execute(
                "SELECT ts FROM panel_login_failures WHERE key=? AND ts>? ORDER BY ts DESC LIMIT ?",
                (key, now - WINDOW, limit)).fetchall()
            if len(rows) >= limit:
                wait = max(wait, rows[-1][0] + WINDOW - now)
        return wait

    def record_failure(self, name: str, address: str) -> None:
        now = self.clock()
        conn = self._conn()
        conn.executemany("INSERT INTO panel_login_failures (key, ts) VALUES (?,?)",
                         [(f"user:{name}", now), (f"addr:{address}", now)])
        conn.execute("DELETE FROM panel_login_failures WHERE ts < ?", (now - WINDOW,))

    def clear_failures(self, name: str) -> None:
        self._conn().execute("DELETE FROM panel_login_failures WHERE key=?", (f"user:{name}",))

    # ------------------------------------------------------------------ audit

    def audit(self, actor: str, action: str, target: str = "", detail: str = "", address: str = "") -> None:
        self._conn().execute(
            "INSERT INTO panel_audit (ts, actor, action, target, detail, address) VALUES (?,?,?,?,?,?)",
            (self.clock(), actor, action, target, detail, address))

    def audit_log(self, limit: int = 200, actor: str | None = None) -> list[AuditEntry]:
        sql = "SELECT id, ts, actor, action, target, detail, address FROM panel_audit"
        args: list[object] = []
        if actor:
            sql += " WHERE actor=?"
            args.append(actor)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [AuditEntry(*row) for row in self._conn().execute(sql, args)]

    # ------------------------------------------------------------------ utility meter

    def add_meter_reading(self, actor: str, kilowatts: float) -> None:
        """An operator's reading of the utility meter (the facility's total power), for PUE."""
        self._conn().execute("INSERT INTO panel_meter_readings (ts, actor, kilowatts) VALUES (?,?,?)",
                             (self.clock(), actor, kilowatts))

    def meter_reading(self) -> tuple[float, str, float] | None:
        """The newest reading: (time, who, kW)."""
        row = self._conn().execute(
            "SELECT ts, actor, kilowatts FROM panel_meter_readings ORDER BY ts DESC LIMIT 1").fetchone()
        return None if row is None else (row[0], row[1], row[2])

    # ------------------------------------------------------------------ settings

    def secret_key(self) -> str:
        """The session signing key, generated once and kept with the users."""
        conn = self._conn()
        conn.execute("INSERT OR IGNORE INTO panel_settings (key, value) VALUES ('secret_key', ?)",
                     (secrets.token_hex(32),))
        return str(conn.execute("SELECT value FROM panel_settings WHERE key='secret_key'").fetchone()[0])


_DUMMY_HASH = generate_password_hash(secrets.token_hex(8))
DEMO_USER: Final = "demo"


def demo_login(path: Path | str) -> str:
    """For `dcops demo` only: the admin `demo` with a fresh random password; the line to print."""
    users = UserStore(path)
    password = secrets.token_urlsafe(9)
    if users.get(DEMO_USER) is None:
        users.add(DEMO_USER, ADMIN, password)
    else:
        users.set_password(DEMO_USER, password)
        users.set_role(DEMO_USER, ADMIN)
        users.set_disabled(DEMO_USER, False)
    users.audit("dcops demo", "demo login", DEMO_USER)
    users.close()
    return f"user {DEMO_USER}  password {password}  (admin; a new password at every start of the demo)"
