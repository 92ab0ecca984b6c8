"""Delivery: one worker thread per channel, retries with exponential backoff, every result stored.

The engine writes notifications to the outbox (alert_outbox) in the same
transaction as the state that caused them, then hands the rows here. Each
channel has its own queue and thread, so a channel that hangs or fails
delays no other. A delivery is tried `attempts` times, waiting
`backoff * 2**n` (capped at `max_backoff`) between tries; the final failure
is stored with its reason (status `failed`) and logged. On start, rows a
previous run left `pending` are sent: nothing delivered is sent twice.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..state import FAILED, PENDING, SENT, AlertStore, OutboxRow
from .base import Message, Notifier, NotifyError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return min(self.max_backoff, self.backoff * 2 ** (attempt - 1))


class _Worker:
    def __init__(self, dispatcher: Dispatcher, notifier: Notifier) -> None:
        self.d = dispatcher
        self.notifier = notifier
        self.queue: queue.Queue[OutboxRow | None] = queue.Queue()
        self.busy = False
        self.thread = threading.Thread(target=self.run, name=f"notify-{notifier.name}", daemon=True)

    def run(self) -> None:
        while True:
            row = self.queue.get()
            if row is None:
                return
            self.busy = True
            try:
                self.deliver(row)
            finally:
                self.busy = False
                self.queue.task_done()

    def deliver(self, row: OutboxRow) -> None:
        message = Message.from_dict(row.message)
        attempts = row.attempts
        policy = self.d.retry
        while not self.d.stopping.is_set():
            attempts += 1
            try:
                self.notifier.send(message, row.recipients)
            except Exception as exc:  # a notifier bug is a failed delivery, not a dead worker
                error = str(exc) if isinstance(exc, NotifyError) else f"{type(exc).__name__}: {exc}"
                if attempts >= policy.attempts:
                    self.d.store.outbox_result(row.id, FAILED, attempts, error)
                    log.error("notification %d (incident %d, %s) failed on %s after %d attempts: %s",
                              row.id, row.incident, row.kind, row.channel, attempts, error)
                    self.d.on_result(row, FAILED, error)
                    return
                self.d.store.outbox_result(row.id, PENDING, attempts, error)
                log.warning("notification %d on %s failed (attempt %d/%d), retrying: %s",
                            row.id, row.channel, attempts, policy.attempts, error)
                self.d.stopping.wait(policy.delay(attempts))
                continue
            self.d.store.outbox_result(row.id, SENT, attempts, "", self.d.clock())
            self.d.on_result(row, SENT, "")
            return


class Dispatcher:
    def __init__(
        self,
        store: AlertStore,
        channels: Mapping[str, Notifier],
        retry: RetryPolicy | None = None,
        *,
        clock: Callable[[], float] = time.time,
        on_result: Callable[[OutboxRow, str, str], None] = lambda row, status, error: None,
    ) -> None:
        self.store = store
        self.retry = retry or RetryPolicy()
        self.clock = clock
        self.on_result = on_result
        self.stopping = threading.Event()
        self.workers = {name: _Worker(self, n) for name, n in channels.items()}
        self.started = False

    def start(self) -> None:
        """Start the workers and queue what a previous run left undelivered."""
        if self.started:
            return
        self.started = True
        for w in self.workers.values():
            w.thread.start()
        for row in self.store.outbox(status=PENDING):
            self.submit(row)

    def submit(self, row: OutboxRow) -> None:
        worker = self.workers.get(row.channel)
        if worker is None:
            error = f"no channel named {row.channel!r} is configured"
            self.store.outbox_result(row.id, FAILED, row.attempts, error)
            log.error("notification %d: %s", row.id, error)
            return
        worker.queue.put(row)

    def idle(self) -> bool:
        return all(w.queue.unfinished_tasks == 0 for w in self.workers.values())

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every queued delivery finished (sent or failed); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.01)
        return self.idle()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        for w in self.workers.values():
            w.queue.put(None)
        for w in self.workers.values():
            if w.thread.is_alive():
                w.thread.join(timeout)
