"""A disk-backed FIFO of line-protocol batches that the database did not accept.

Storage: one SQLite file (WAL), one row per batch, the payload zlib-compressed.
SQLite rather than append-only segment files because what matters here is
that an append and the removal of a replayed batch are each atomic and
survive a crash or a restart with no code of ours for torn tails, read
offsets or segment rotation; the rows are batches (hundreds to thousands of
points), not points, so SQLite's per-row cost never shows. `id` is an
AUTOINCREMENT key: ids are never reused, so `ORDER BY id` is arrival order,
even across restarts.

Bound: `max_bytes` (compressed payload, i.e. the disk it takes) and,
optionally, `max_samples` (points). When an append would pass a bound the
buffer **drops the oldest batches** until the new one fits: during a long
outage the newest readings are worth more than the oldest (the same choice as
Telegraf's metric_buffer_limit), and the poller never has to be told to stop.
Every drop is counted (`dropped_samples`), flips `full` on until the buffer is
empty again, and is logged: a WARNING at the first drop of an episode, then at
most one a minute. A batch larger than the whole bound is dropped itself.

Only the output's writer thread appends and removes; the counters may be read
from any thread (the /metrics collector).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    samples INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    payload BLOB NOT NULL
);
"""
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
LOG_EVERY = 60.0  # seconds between two "still full" warnings


@dataclass(frozen=True)
class Batch:
    id: int
    samples: int
    payload: bytes  # line protocol, one point a line


class DiskBuffer:
    def __init__(
        self,
        path: Path | str,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_samples: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_bytes < 1:
            raise ValueError(f"buffer max_bytes must be at least 1, got {max_bytes}")
        if max_samples is not None and max_samples < 1:
            raise ValueError(f"buffer max_samples must be at least 1, got {max_samples}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.max_samples = max_samples
        self.clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self.samples, self.bytes, self.batches = (int(x) for x in self._db.execute(
            "SELECT coalesce(sum(samples), 0), coalesce(sum(bytes), 0), count(*) FROM batches").fetchone())
        self.dropped_samples = 0
        self.full = False
        self._last_warning: float | None = None

    def __len__(self) -> int:
        return self.samples

    def limit(self) -> str:
        parts = [f"{self.max_bytes} bytes"]
        if self.max_samples is not None:
            parts.append(f"{self.max_samples} samples")
        return " or ".join(parts)

    def append(self, payload: bytes, samples: int) -> int:
        """Add one batch at the tail; return how many samples were dropped to make room."""
        blob = zlib.compress(payload, 1)
        with self._lock:
            dropped = self._make_room(len(blob), samples)
            if self._fits(len(blob), samples):
                self._db.execute("INSERT INTO batches (samples, bytes, payload) VALUES (?,?,?)",
                                 (samples, len(blob), blob))
                self.samples += samples
                self.bytes += len(blob)
                self.batches += 1
            else:  # larger than the whole bound: nothing older is left to drop
                dropped += samples
        if dropped:
            self._note_drop(dropped)
        return dropped

    def _fits(self, size: int, samples: int) -> bool:
        return self.bytes + size <= self.max_bytes and (
            self.max_samples is None or self.samples + samples <= self.max_samples)

    def _make_room(self, size: int, samples: int) -> int:
        dropped = 0
        while self.batches and not self._fits(size, samples):
            oldest = self._db.execute("SELECT id, samples, bytes FROM batches ORDER BY id LIMIT 1").fetchone()
            self._db.execute("DELETE FROM batches WHERE id = ?", (oldest[0],))
            self.samples -= oldest[1]
            self.bytes -= oldest[2]
            self.batches -= 1
            dropped += oldest[1]
        return dropped

    def _note_drop(self, dropped: int) -> None:
        self.dropped_samples += dropped
        now = self.clock()
        if not self.full or self._last_warning is None or now - self._last_warning >= LOG_EVERY:
            log.warning("output buffer %s is full (limit %s): dropped the oldest %d samples to keep the newest; "
                        "%d dropped since start", self.path, self.limit(), dropped, self.dropped_samples)
            self._last_warning = now
        self.full = True

    def peek(self, max_samples: int) -> list[Batch]:
        """The oldest batches, in order, holding at most `max_samples` (but always one, if any)."""
        out: list[Batch] = []
        total = 0
        with self._lock:
            for row_id, samples, blob in self._db.execute(
                    "SELECT id, samples, payload FROM batches ORDER BY id LIMIT 1000"):
                if out and total + samples > max_samples:
                    break
                out.append(Batch(row_id, samples, zlib.decompress(blob)))
                total += samples
        return out

    def remove(self, batches: Sequence[Batch]) -> None:
        """Forget batches the database has accepted (the ones `peek` returned)."""
        with self._lock:
            self._db.execute("BEGIN")
            for b in batches:
                row = self._db.execute("DELETE FROM batches WHERE id = ? RETURNING samples, bytes", (b.id,)).fetchone()
                if row is not None:
                    self.samples -= row[0]
                    self.bytes -= row[1]
                    self.batches -= 1
            self._db.execute("COMMIT")
            if not self.batches and self.full:
                self.full = False
                log.warning("output buffer %s is empty again; %d samples were dropped while it was full",
                            self.path, self.dropped_samples)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def metrics(self, output: str) -> Iterator[Metric]:
        """`dcops_output_buffer_*` for /metrics, labelled with the output's name."""
        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(f"dcops_output_buffer_{name}", doc, labels=["output"])
            family.add_metric([output], value)
            return family

        yield gauge("samples", "samples waiting on disk for the database", self.samples)
        yield gauge("bytes", "disk taken by the waiting samples (compressed)", self.bytes)
        yield gauge("limit_bytes", "the buffer's bound in bytes; when full the oldest samples are dropped",
                    self.max_bytes)
        if self.max_samples is not None:
            yield gauge("limit_samples", "the buffer's bound in samples", self.max_samples)
        yield gauge("full", "1 from the first dropped sample until the buffer is empty again", float(self.full))
        dropped = CounterMetricFamily("dcops_output_buffer_dropped_samples", "samples dropped because the "
                                      "buffer was full (oldest first)", labels=["output"])
        dropped.add_metric([output], self.dropped_samples)
        yield dropped
