"""One SQLite database file shared by threads: a connection per thread, WAL, autocommit.

The store, the rollups, the panel's users and the alert state all keep
tables in the same file; each opens it through this class so that every
connection is set up the same way (WAL so readers never block the poller,
synchronous=NORMAL, a 30 s busy timeout) and the schema is created once.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path


def where(conditions: Sequence[tuple[str, object | None]]) -> tuple[str, list[object]]:
    """` WHERE a = ? AND ...` and its arguments, for the (clause, value) pairs whose value is given."""
    given = [(clause, value) for clause, value in conditions if value is not None]
    if not given:
        return "", []
    return " WHERE " + " AND ".join(clause for clause, _ in given), [value for _, value in given]


class Database:
    def __init__(self, path: Path | str, schema: str = "") -> None:
        self.path = Path(path)
        self._local = threading.local()
        if schema:
            self.conn().executescript(schema)

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
