"""InfluxDB output: samples and poll reports as line protocol, through influxdb-client.

Mapping (one point per sample, one per poll report; VictoriaMetrics, which
speaks the same protocol, names the series `<measurement>_<field>`):

- measurement: the sample's `metric` (`inlet_temperature_celsius`); a poll
  report's is `dcops_poll`.
- tags: `device`, `class`, `rack`, `location` (from the inventory), then the
  profile's index labels (`phase`, `sensor`, …) for a sample; sorted by key,
  empty values left out, a label named like a device tag ignored.
- fields: `value` for a sample; `up` (1/0), `duration_seconds` and `samples`
  for a poll report.
- timestamp: the sample's (or report's) `ts`, in milliseconds
  (`precision=ms`, VictoriaMetrics' own resolution).

Fields are floats only: a field that is an integer in one point and a float
in the next is a type conflict in InfluxDB, and VictoriaMetrics would turn a
string field (a state's text) into a series of zeros. A NaN or infinite
value has no line-protocol form: that sample is left out and counted.
Escaping follows influxdb-client's `Point`, and a test holds them equal.

The poller is never blocked: `publish` puts the poll's result on a queue and
returns. One writer thread takes points off it in batches (`batch_size`
points or `flush_interval` seconds, whichever comes first) and writes each
with influxdb-client's synchronous write API, gzip on. Retries are the
writer's own, from the disk buffer (below); urllib3 is told not to re-send,
since a request the server had read and stored would then be stored twice.
influxdb-client's batching mode is not used: it keeps failed batches in
memory and reports them through callbacks in no particular order, and
exactly-once, in order, is the promise here.

When a write fails, the batch goes to a `DiskBuffer`, and so does every
batch after it while the buffer holds anything, so that order is kept. The
writer replays the buffer's head, oldest first, on a backoff (`retry_initial`
doubling to `retry_max`); a batch leaves the buffer only after the database
accepted it. Leftovers from an earlier run are replayed at start. A batch
the database refuses for what it is (400, 413, 422: bad line protocol, too
large, a field type conflict) would be refused forever: it is dropped,
counted (`rejected`) and logged, never retried. A timeout after the request
was sent may have been stored: it is replayed (a duplicate beats a loss) and
counted (`ambiguous_writes`). So, short of a crash between the database's
answer and the buffer's delete, every point is stored exactly once; a
`close()` writes or buffers everything still queued.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from dcops.secrets import Secret
from dcops.types import PollReport, Sample
from inventory.model import Inventory

from . import OUTPUTS
from .buffer import DiskBuffer

log = logging.getLogger(__name__)

POLL_MEASUREMENT = "dcops_poll"
DEVICE_TAGS = ("device", "class", "rack", "location")
REJECTED_STATUSES = frozenset({400, 413, 422})
_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})

Write = Callable[[bytes], None]


# ------------------------------------------------------------------ line protocol

def _tag(value: str) -> str:
    escaped = value.translate(_KEY)
    return escaped + " " if escaped.endswith("\\") else escaped  # as Point does: `\` must not end a tag


def _number(value: float) -> str:
    text = str(float(value))
    return text[:-2] if text.endswith(".0") else text


def line(measurement: str, tags: Iterable[tuple[str, str]], fields: Sequence[tuple[str, float]],
         ts: float) -> str:
    """One point of line protocol, millisecond timestamp; '' when no field is finite."""
    values = ",".join(f"{k.translate(_KEY)}={_number(v)}" for k, v in sorted(fields) if math.isfinite(v))
    if not values:
        return ""
    pairs = ((k.translate(_KEY), _tag(v)) for k, v in sorted(tags))
    tag_text = "".join(f",{k}={v}" for k, v in pairs if k and v)
    return f"{measurement.translate(_MEASUREMENT)}{tag_text} {values} {round(ts * 1000)}"


def device_tags(inventory: Inventory | None, device: str) -> list[tuple[str, str]]:
    dev = inventory.devices.get(device) if inventory is not None else None
    if dev is None:
        return [("device", device)]
    return [("device", device), ("class", dev.device_class), ("rack", dev.rack or ""), ("location", dev.location)]


def encode(report: PollReport | None, samples: Sequence[Sample], inventory: Inventory | None) -> list[str]:
    """The lines of one poll: its samples, then its report. Unrepresentable samples give ''."""
    base: dict[str, list[tuple[str, str]]] = {}
    lines = []
    for s in samples:
        tags = base.get(s.device)
        if tags is None:
            tags = base[s.device] = device_tags(inventory, s.device)
        labels = [(k, v) for k, v in s.labels if k not in DEVICE_TAGS]
        lines.append(line(s.metric, [*tags, *labels], [("value", s.value)], s.ts))
    if report is not None:
        lines.append(line(POLL_MEASUREMENT, device_tags(inventory, report.device),
                          [("up", 1.0 if report.up else 0.0), ("duration_seconds", report.duration),
                           ("samples", float(report.samples))], report.ts))
    return lines


# ------------------------------------------------------------------ the output

@dataclass(frozen=True)
class InfluxConfig:
    url: str
    org: str = "dcops"
    bucket: str = "dcops"
    token: Secret | None = None
    batch_size: int = 5000
    flush_interval: float = 1.0
    timeout: float = 10.0
    retry_initial: float = 1.0
    retry_max: float = 30.0


@dataclass
class InfluxStats:
    """Points by fate; once idle, queued == written + replayed + rejected + dropped + buffered now."""

    queued: int = 0  # accepted by publish()
    written: int = 0  # accepted by the database at the first try
    buffered: int = 0  # put in the disk buffer (ever)
    replayed: int = 0  # accepted by the database from the buffer
    rejected: int = 0  # refused by the database for what they are (400/413/422), dropped
    unrepresentable: int = 0  # NaN or infinite values, never queued
    ambiguous_writes: int = 0  # requests that may have been stored although they failed
    up: bool = True  # the last write succeeded


def client_writer(config: InfluxConfig) -> tuple[Write, Callable[[], None]]:
    """influxdb-client's synchronous write API: (write, close)."""
    # retries=False: urllib3 never re-sends; the writer retries from the disk buffer, on its backoff
    client = InfluxDBClient(url=config.url, token=config.token.reveal() if config.token else "",
                            org=config.org, enable_gzip=True, timeout=int(config.timeout * 1000), retries=False)
    api = client.write_api(write_options=SYNCHRONOUS)

    def write(payload: bytes) -> None:
        api.write(bucket=config.bucket, org=config.org, record=payload,
                  write_precision=WritePrecision.MS)  # type: ignore[arg-type]  # the constant is a str

    return write, client.close


def _failure(exc: Exception) -> tuple[str, bool]:
    """(what to log, whether the server may have stored it)."""
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason or ''}".strip(), False
    reason = exc.reason if isinstance(exc, MaxRetryError) else exc
    if isinstance(reason, NewConnectionError | ConnectTimeoutError | ConnectionRefusedError):
        return f"cannot connect ({type(reason).__name__})", False
    return f"{type(reason).__name__}: {reason}", True


@OUTPUTS.decorator("influx")
class InfluxOutput:
    """`publish` → queue → writer thread → the database, or the disk buffer when it does not answer."""

    name = "influx"

    def __init__(
        self,
        config: InfluxConfig,
        buffer: DiskBuffer,
        *,
        inventory: Inventory | None = None,
        write: Write | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if buffer.max_samples is not None and buffer.max_samples < config.batch_size:
            raise ValueError(f"the buffer's max_samples ({buffer.max_samples}) must be at least "
                             f"the batch size ({config.batch_size})")
        self.config = config
        self.buffer = buffer
        self.inventory = inventory
        self.clock = clock
        self._close_client: Callable[[], None] = lambda: None
        if write is None:
            write, self._close_client = client_writer(config)
        self._write = write
        self.stats = InfluxStats()
        self._queue: queue.Queue[list[str] | None] = queue.Queue()
        self._pending = 0  # points queued, not yet written or buffered
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self._backoff = config.retry_initial
        self._stopping = False
        self._stop_by = math.inf
        if len(buffer):
            log.warning("%d samples left in %s by an earlier run: replaying them to %s first",
                        len(buffer), buffer.path, config.url)
        self._thread = threading.Thread(target=self._run, name="dcops-influx", daemon=True)
        self._thread.start()

    # -------------------------------------------------------- the poller's side

    def publish(self, report: PollReport, samples: Sequence[Sample]) -> None:
        self._enqueue(report, samples)

    def write(self, samples: Sequence[Sample]) -> None:
        self._enqueue(None, samples)

    def _enqueue(self, report: PollReport | None, samples: Sequence[Sample]) -> None:
        lines = encode(report, samples, self.inventory)
        kept = [x for x in lines if x]
        with self._lock:
            self.stats.unrepresentable += len(lines) - len(kept)
            self.stats.queued += len(kept)
            self._pending += len(kept)
        if kept:
            self._queue.put(kept)

    @property
    def pending(self) -> int:
        """Points queued and not yet written, buffered or dropped."""
        return self._pending

    def idle(self) -> bool:
        """Nothing queued and nothing waiting in the buffer."""
        return self._pending == 0 and len(self.buffer) == 0

    def flush(self, timeout: float) -> bool:
        """Wait until idle (everything written or counted as dropped); False if it was not in time."""
        deadline = time.monotonic() + timeout
        while not self.idle():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued (or buffer it) and replay what the database takes within `timeout`; stop."""
        self._stop_by = time.monotonic() + timeout
        self._stopping = True
        self._queue.put(None)
        self._thread.join(timeout + self.config.timeout + 5)  # a write under way may take its own timeout
        if self._thread.is_alive():
            log.warning("influx writer still busy after %g s; %d points not yet buffered", timeout, self._pending)
            return
        self._close_client()
        self.buffer.close()

    # -------------------------------------------------------- the writer thread

    def _run(self) -> None:
        while True:
            lines = self._take()
            for i in range(0, len(lines), self.config.batch_size):
                self._deliver(lines[i:i + self.config.batch_size])
            self._replay()
            if self._stopping and self._queue.empty():
                return

    def _replay_due(self) -> bool:
        return len(self.buffer) > 0 and self.clock() >= self._retry_at

    def _take(self) -> list[str]:
        """Up to batch_size points: wait for the first, then up to flush_interval for more.

        Never waits while stopping or while a replay is due; waits at most until the next replay.
        """
        wait = self.config.flush_interval
        if self._stopping or self._replay_due():
            wait = 0.0
        elif len(self.buffer):
            wait = min(wait, self._retry_at - self.clock())
        try:
            item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
        except queue.Empty:
            return []
        lines: list[str] = []
        deadline = time.monotonic() + (self.config.flush_interval if wait > 0 else 0.0)
        while True:
            if item is not None:
                lines += item
            left = deadline - time.monotonic()
            if len(lines) >= self.config.batch_size:
                return lines
            try:
                item = self._queue.get(timeout=left) if left > 0 and not self._stopping else self._queue.get_nowait()
            except queue.Empty:
                return lines

    def _deliver(self, lines: list[str]) -> None:
        payload = "\n".join(lines).encode()
        if not len(self.buffer) and self.clock() >= self._retry_at and self._send(payload, len(lines)):
            self.stats.written += len(lines)
        else:
            self.buffer.append(payload, len(lines))
            self.stats.buffered += len(lines)
        with self._lock:
            self._pending -= len(lines)

    def _replay(self) -> None:
        """Send the buffer's head, oldest first, while the database takes it and nothing new is queued."""
        while self._replay_due() and not (self._stopping and time.monotonic() > self._stop_by):
            batches = self.buffer.peek(self.config.batch_size)
            count = sum(b.samples for b in batches)
            if not self._send(b"\n".join(b.payload for b in batches), count):
                return
            self.buffer.remove(batches)
            self.stats.replayed += count
            if not len(self.buffer):
                log.warning("influx: replayed the whole buffer; %s is up to date", self.config.url)
            elif not self._stopping and not self._queue.empty():
                return  # take the new points first (they go behind the buffer), then go on

    def _send(self, payload: bytes, count: int) -> bool:
        """True when the points are done with (stored, or refused for good); False to retry later."""
        try:
            self._write(payload)
        except Exception as exc:
            status = exc.status if isinstance(exc, ApiException) else None
            what, maybe_stored = _failure(exc)
            if status in REJECTED_STATUSES:
                self.stats.rejected += count
                log.error("influx at %s refused %d points (%s): dropped, a retry would be refused too",
                          self.config.url, count, what)
                return True
            if maybe_stored:
                self.stats.ambiguous_writes += 1
                log.warning("influx at %s: %s after the request was sent; replaying it may store "
                            "%d points twice", self.config.url, what, count)
            if self.stats.up:
                log.warning("influx at %s does not answer (%s): buffering to %s", self.config.url, what,
                            self.buffer.path)
            self.stats.up = False
            self._retry_at = self.clock() + self._backoff
            self._backoff = min(self._backoff * 2, self.config.retry_max)
            return False
        if not self.stats.up:
            log.warning("influx at %s answers again: replaying %d buffered samples", self.config.url,
                        len(self.buffer))
        self.stats.up = True
        self._backoff = self.config.retry_initial
        return True

    # -------------------------------------------------------- /metrics

    def collect(self) -> Iterator[Metric]:
        """A prometheus_client collector: the writer's counters and the buffer's state."""
        labels = ["output"]
        for name, doc, value in (
            ("written", "points the database accepted at the first try", self.stats.written),
            ("replayed", "points the database accepted from the disk buffer", self.stats.replayed),
            ("rejected", "points the database refused for what they are (dropped)", self.stats.rejected),
            ("unrepresentable", "samples with no line-protocol form (NaN, infinite)", self.stats.unrepresentable),
        ):
            counter = CounterMetricFamily(f"dcops_output_{name}_samples", doc, labels=labels)
            counter.add_metric([self.name], value)
            yield counter
        up = GaugeMetricFamily("dcops_output_up", "1 if the output's last write succeeded", labels=labels)
        up.add_metric([self.name], float(self.stats.up))
        yield up
        yield from self.buffer.metrics(self.name)
