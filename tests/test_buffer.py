"""The disk buffer and the Influx writer's promises, against a fake database (fast; the real one is in test_influx).

FIFO across restarts, the bound and what happens when it is full, in-order
exactly-once delivery around an outage, refusals and ambiguous failures.
"""

from __future__ import annotations

import logging
import random
import threading
from pathlib import Path

import pytest
from influxdb_client.rest import ApiException
from prometheus_client import CollectorRegistry, generate_latest
from urllib3.exceptions import ReadTimeoutError

from dcops.types import PollReport, Sample
from outputs.buffer import DiskBuffer
from outputs.influx import InfluxConfig, InfluxOutput

T0 = 1_800_000_000.0


def payload(n: int, tag: str = "x") -> bytes:
    return "\n".join(f"m,b={tag} value={i} {i}" for i in range(n)).encode()


def metrics_of(collect) -> str:  # type: ignore[no-untyped-def]
    registry = CollectorRegistry()
    registry.register(type("C", (), {"collect": staticmethod(collect)})())
    return generate_latest(registry).decode()


# ------------------------------------------------------------------ the buffer


def test_batches_come_out_in_the_order_they_went_in(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.db")
    for tag in "abc":
        buf.append(payload(3, tag), 3)
    first = buf.peek(3)
    assert [b.payload for b in first] == [payload(3, "a")]
    buf.remove(first)
    assert [b.payload for b in buf.peek(100)] == [payload(3, "b"), payload(3, "c")]
    assert (len(buf), buf.batches) == (6, 2)


def test_peek_returns_one_batch_even_when_it_is_larger_than_asked(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.db")
    buf.append(payload(10), 10)
    buf.append(payload(1), 1)
    assert [b.samples for b in buf.peek(5)] == [10]
    assert [b.samples for b in buf.peek(11)] == [10, 1]


def test_what_is_buffered_survives_a_restart_and_ids_are_never_reused(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.db")
    buf.append(payload(2, "old"), 2)
    buf.remove(buf.peek(10))  # the last row goes: AUTOINCREMENT still never hands its id out again
    buf.append(payload(2, "a"), 2)
    buf.append(payload(3, "b"), 3)
    size = buf.bytes
    buf.close()
    again = DiskBuffer(tmp_path / "b.db")
    assert (len(again), again.batches, again.bytes) == (5, 2, size)
    again.append(payload(1, "c"), 1)
    batches = again.peek(100)
    assert [b.payload for b in batches] == [payload(2, "a"), payload(3, "b"), payload(1, "c")]
    assert [b.id for b in batches] == [2, 3, 4]


def test_when_full_by_samples_the_oldest_are_dropped_and_it_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = [0.0]
    buf = DiskBuffer(tmp_path / "b.db", max_samples=10, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="outputs.buffer"):
        assert [buf.append(payload(4, t), 4) for t in "ab"] == [0, 0]
        assert buf.append(payload(4, "c"), 4) == 4  # 12 > 10: batch a goes
        now[0] = 30.0
        assert buf.append(payload(4, "d"), 4) == 4  # batch b goes; within a minute: no second warning
        now[0] = 91.0
        assert buf.append(payload(4, "e"), 4) == 4  # a minute later: warned again
    assert [b.payload for b in buf.peek(100)] == [payload(4, "d"), payload(4, "e")]
    assert (len(buf), buf.dropped_samples, buf.full) == (8, 12, True)
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        f"output buffer {tmp_path / 'b.db'} is full (limit 268435456 bytes or 10 samples): "
        "dropped the oldest 4 samples to keep the newest; 4 dropped since start",
        f"output buffer {tmp_path / 'b.db'} is full (limit 268435456 bytes or 10 samples): "
        "dropped the oldest 4 samples to keep the newest; 12 dropped since start",
    ]
    text = metrics_of(lambda: buf.metrics("influx"))
    assert 'dcops_output_buffer_full{output="influx"} 1.0' in text
    assert 'dcops_output_buffer_dropped_samples_total{output="influx"} 12.0' in text
    assert 'dcops_output_buffer_samples{output="influx"} 8.0' in text
    assert 'dcops_output_buffer_limit_samples{output="influx"} 10.0' in text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="outputs.buffer"):
        buf.remove(buf.peek(100))
    assert not buf.full
    assert [r.getMessage() for r in caplog.records] == [
        f"output buffer {tmp_path / 'b.db'} is empty again; 12 samples were dropped while it was full"]


def test_the_byte_bound_holds_on_disk_size(tmp_path: Path) -> None:
    rng = random.Random(7)
    blobs = [rng.randbytes(1000) for _ in range(5)]  # incompressible: about 1 kB each on disk
    buf = DiskBuffer(tmp_path / "b.db", max_bytes=2500)
    dropped = [buf.append(b, 1) for b in blobs]
    assert dropped == [0, 0, 1, 1, 1]
    assert buf.bytes <= 2500
    assert [b.payload for b in buf.peek(10)] == blobs[3:]


def test_a_batch_larger_than_the_whole_bound_is_dropped_itself(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.db", max_samples=5)
    buf.append(payload(3), 3)
    assert buf.append(payload(6), 6) == 9  # the older batch and then this one
    assert (len(buf), buf.dropped_samples) == (0, 9)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"max_bytes": 0}, "buffer max_bytes must be at least 1, got 0"),
    ({"max_samples": 0}, "buffer max_samples must be at least 1, got 0"),
])
def test_a_bound_below_one_is_refused(tmp_path: Path, kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError) as exc:
        DiskBuffer(tmp_path / "b.db", **kwargs)  # type: ignore[arg-type]
    assert str(exc.value) == message


# ------------------------------------------------------------------ the writer, against a fake database


class FakeDB:
    """Stores the lines it is sent; `down` refuses connections; `fail` is raised once for a matching payload."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.down = False
        self.fail: tuple[str, Exception, bool] | None = None  # (marker, error, store it before failing)
        self.gate = threading.Event()
        self.gate.set()

    def write(self, body: bytes) -> None:
        self.gate.wait()
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        text = body.decode()
        if self.fail is not None and self.fail[0] in text:
            marker, error, store = self.fail
            self.fail = None
            if store:
                self.lines += text.splitlines()
            raise error
        self.lines += text.splitlines()


def poll(i: int, n: int = 5) -> tuple[PollReport, list[Sample]]:
    samples = [Sample(f"dev-{k}", "t_celsius", float(i), T0 + i) for k in range(n)]
    return PollReport("dev-0", T0 + i, True, 0.01, n), samples


def output(tmp_path: Path, db: FakeDB, **buffer_kwargs: int) -> InfluxOutput:
    config = InfluxConfig(url="http://db.invalid", batch_size=20, flush_interval=0.02, retry_initial=0.01,
                          retry_max=0.05)
    return InfluxOutput(config, DiskBuffer(tmp_path / "b.db", **buffer_kwargs), write=db.write)


def wait_until(check, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    done = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if check():
            return
        done.wait(0.02)
    raise AssertionError("timed out")


def test_around_an_outage_every_point_arrives_once_and_in_order(tmp_path: Path) -> None:
    db = FakeDB()
    out = output(tmp_path, db)
    sent = [f"t_celsius,device=dev-0 value={i} {int((T0 + i) * 1000)}" for i in range(90)]
    for i in range(30):
        out.publish(*poll(i))
    assert out.flush(30)
    db.down = True
    for i in range(30, 60):
        out.publish(*poll(i))
    wait_until(lambda: out.pending == 0)
    assert (len(out.buffer), out.stats.up, len(db.lines)) == (180, False, 180)  # the outage is on disk
    db.down = False
    for i in range(60, 90):
        out.publish(*poll(i))  # behind the buffer
    assert out.flush(30)
    assert len(db.lines) == 90 * 6 and len(set(db.lines)) == len(db.lines)  # it all came back, once
    assert [x for x in db.lines if x.startswith("t_celsius,device=dev-0 ")] == sent  # in order
    st = out.stats
    assert (st.queued, st.written + st.replayed) == (540, 540) and st.replayed >= 180 and st.up
    out.close()


def test_publish_never_waits_for_the_database(tmp_path: Path) -> None:
    db = FakeDB()
    db.gate.clear()  # the database hangs
    out = output(tmp_path, db)
    for i in range(200):
        out.publish(*poll(i))  # returns while the writer is stuck in its first write
    assert out.stats.queued == 1200 and not db.lines
    db.gate.set()
    assert out.flush(30)
    assert len(db.lines) == 1200
    out.close()


def test_close_buffers_what_the_database_did_not_take_and_the_next_start_replays_it_first(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = FakeDB()
    db.down = True
    first = output(tmp_path, db)
    for i in range(10):
        first.publish(*poll(i))
    first.close()
    assert (len(first.buffer), db.lines) == (60, [])
    db.down = False
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="outputs.influx"):
        second = output(tmp_path, db)
    assert caplog.records[0].getMessage() == (
        f"60 samples left in {tmp_path / 'b.db'} by an earlier run: replaying them to http://db.invalid first")
    second.publish(*poll(10))
    assert second.flush(30)
    assert [x.split()[-1] for x in db.lines if "device=dev-0 " in x and x.startswith("t_")] == [
        str(int((T0 + i) * 1000)) for i in range(11)]
    assert second.stats.replayed >= 60 and second.stats.written + second.stats.replayed == 66
    second.close()


def test_a_batch_the_database_refuses_for_what_it_is_is_dropped_not_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = FakeDB()
    db.fail = ("value=3 ", ApiException(status=400, reason="Bad Request"), False)
    out = output(tmp_path, db)
    with caplog.at_level(logging.ERROR, logger="outputs.influx"):
        for i in range(6):
            out.publish(*poll(i))
            assert out.flush(30)
    assert out.stats.rejected == 6 and len(db.lines) == 30
    assert caplog.records[0].getMessage() == (
        "influx at http://db.invalid refused 6 points (HTTP 400 Bad Request): dropped, a retry would be refused too")
    out.close()


def test_a_timeout_after_sending_is_replayed_and_counted_as_ambiguous(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = FakeDB()
    db.fail = ("value=2 ", ReadTimeoutError(None, "/api/v2/write", "read timed out"), True)  # type: ignore[arg-type]
    out = output(tmp_path, db)
    with caplog.at_level(logging.WARNING, logger="outputs.influx"):
        for i in range(4):
            out.publish(*poll(i))
            assert out.flush(30)
    assert out.stats.ambiguous_writes == 1
    assert len(db.lines) == 24 + 6  # the database had kept it: a duplicate, never a loss
    assert caplog.records[0].getMessage() == (
        "influx at http://db.invalid: ReadTimeoutError: None: read timed out after the request was sent; "
        "replaying it may store 6 points twice")
    out.close()


def test_the_buffer_must_hold_at_least_one_batch(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as exc:
        output(tmp_path, FakeDB(), max_samples=10)
    assert str(exc.value) == "the buffer's max_samples (10) must be at least the batch size (20)"


def test_nan_and_infinite_values_are_left_out_and_counted(tmp_path: Path) -> None:
    db = FakeDB()
    out = output(tmp_path, db)
    out.write([Sample("d", "m", v, T0) for v in (1.0, float("nan"), float("inf"), 2.0)])
    assert out.flush(30)
    assert db.lines == [f"m,device=d value=1 {int(T0 * 1000)}", f"m,device=d value=2 {int(T0 * 1000)}"]
    assert out.stats.unrepresentable == 2
    out.close()
