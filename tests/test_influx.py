"""The InfluxDB output against a real VictoriaMetrics: what is sent is stored, exactly once, outages included.

Every test starts its own victoria-metrics on a free port with a temporary
data directory and stops it. "Exactly" means: the multiset of (series,
timestamp, value) read back with /api/v1/export equals the one sent — no
point missing, none twice (no -dedup.minScrapeInterval, so a duplicate
would show). The 60-second outage test is marked `slow` and says so in its
name: it is slow by nature.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from influxdb_client import Point, WritePrecision
from test_demo import wait_for

from conftest import copy_reference, free_port, require_command
from dcops.cli import main
from dcops.secrets import Secret
from dcops.types import PollReport, Sample
from inventory import REFERENCE_DIR, load_inventory
from lab import LabRunner
from outputs.buffer import DiskBuffer
from outputs.influx import InfluxConfig, InfluxOutput, encode, line

DCOPS = Path(sys.executable).with_name("dcops")
Key = tuple[str, tuple[tuple[str, str], ...], int, float]  # (name, labels, ts ms, value)


def v12(value: float) -> float:
    """VictoriaMetrics stores a value as a decimal of about 12 significant digits (0.35000000000000003 → 0.35)."""
    return float(f"{value:.12g}")


class VictoriaMetrics:
    """victoria-metrics on 127.0.0.1:port with its data in `data`; start, stop (SIGTERM) and start again."""

    def __init__(self, data: Path, port: int | None = None) -> None:
        self.binary = require_command("victoria-metrics")
        self.data = data
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> VictoriaMetrics:
        log = open(self.data.with_suffix(".log"), "ab")  # noqa: SIM115 (the child keeps it)
        self.proc = subprocess.Popen(
            [self.binary, f"-storageDataPath={self.data}", f"-httpListenAddr=127.0.0.1:{self.port}",
             "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=WARN"],
            stdout=log, stderr=log)
        log.close()
        wait_for("victoria-metrics to answer", lambda: self.get("/health") == b"OK")
        return self

    def stop(self) -> None:
        """A graceful stop (SIGTERM): requests under way are answered, what was accepted is on disk."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def get(self, path: str, **params: str) -> bytes:
        query = "?" + urllib.parse.urlencode(params) if params else ""
        with urllib.request.urlopen(self.url + path + query, timeout=30) as response:  # noqa: S310 (loopback)
            return response.read()  # type: ignore[no-any-return]

    def export(self, match: str = '{__name__=~".+"}') -> Counter[Key]:
        self.get("/internal/force_flush")
        stored: Counter[Key] = Counter()
        for row in self.get("/api/v1/export", **{"match[]": match}).splitlines():
            series = json.loads(row)
            labels = dict(series["metric"])
            name = labels.pop("__name__")
            for ts, value in zip(series["timestamps"], series["values"], strict=True):
                stored[(name, tuple(sorted(labels.items())), ts, v12(value))] += 1
        return stored

    def settled(self, expected: int, match: str = '{__name__=~".+"}', timeout: float = 60.0) -> Counter[Key]:
        """The export once it holds `expected` points or more and two reads a second apart agree."""
        previous: Counter[Key] | None = None
        deadline = time.monotonic() + timeout
        while True:
            stored = self.export(match)
            if sum(stored.values()) >= expected and stored == previous or time.monotonic() > deadline:
                return stored
            previous = stored
            time.sleep(1.0)


@pytest.fixture
def vm(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    server = VictoriaMetrics(tmp_path / "vm").start()
    yield server
    server.stop()


def expected_points(report: PollReport | None, samples: list[Sample], tags: dict[str, str] | None = None) -> list[Key]:
    """What VictoriaMetrics should store for one publish, derived from the samples (not from our encoder)."""
    out = []
    for s in samples:
        labels = {"device": s.device, **(tags or {}), **dict(s.labels)}
        out.append((f"{s.metric}_value", tuple(sorted(labels.items())), round(s.ts * 1000), v12(s.value)))
    if report is not None:
        labels = tuple(sorted({"device": report.device, **(tags or {})}.items()))
        for field, value in (("up", float(report.up)), ("duration_seconds", report.duration),
                             ("samples", float(report.samples))):
            out.append((f"dcops_poll_{field}", labels, round(report.ts * 1000), v12(value)))
    return out


def influx(url: str, buffer: Path, **config: float) -> InfluxOutput:
    settings: dict[str, float] = {"batch_size": 1000, "flush_interval": 0.2, "timeout": 10, "retry_initial": 0.2,
                                  "retry_max": 2.0, **config}
    return InfluxOutput(InfluxConfig(url=url, **settings), DiskBuffer(buffer))  # type: ignore[arg-type]


# ------------------------------------------------------------------ line protocol


tag_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12).filter(
    lambda m: not m.startswith("#")),  # a comment line in line protocol; metric names are snake_case
       st.dictionaries(tag_text, tag_text, max_size=4), st.floats(allow_nan=False, allow_infinity=False),
       st.integers(0, 4_000_000_000_000))
def test_our_lines_are_what_influxdb_clients_point_writes(measurement: str, tags: dict[str, str], value: float,
                                                           ts_ms: int) -> None:
    point = Point(measurement).field("value", value).time(ts_ms, WritePrecision.MS)
    for k, v in tags.items():
        point = point.tag(k, v)
    assert line(measurement, tags.items(), [("value", value)], ts_ms / 1000) == point.to_line_protocol()


def test_the_mapping_of_a_sample_and_a_poll_report() -> None:
    inv = load_inventory(REFERENCE_DIR)
    sample = Sample("pdu-A01-a", "outlet_current_amperes", 1.5, 1_800_000_000.25, "amperes",
                    (("outlet", "3"), ("name", "web 01,a=b"), ("device", "ignored")))
    report = PollReport("pdu-A01-a", 1_800_000_000.0, True, 0.0125, 24)
    assert encode(report, [sample], inv) == [
        r"outlet_current_amperes,class=pdu,device=pdu-A01-a,location=room-1,name=web\ 01\,a\=b,outlet=3,rack=A01"
        " value=1.5 1800000000250",
        "dcops_poll,class=pdu,device=pdu-A01-a,location=room-1,rack=A01 duration_seconds=0.0125,samples=24,up=1"
        " 1800000000000",
    ]
    assert encode(PollReport("ups-a", 1_800_000_000.0, False, 2.0, 0, error="timeout"), [], inv) == [
        "dcops_poll,class=ups,device=ups-a,location=room-1 duration_seconds=2,samples=0,up=0 1800000000000"]


class Capture(BaseHTTPRequestHandler):
    requests: list[tuple[str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Capture.requests.append((self.path, dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_write_is_gzipped_line_protocol_with_the_token_org_bucket_and_ms_precision(tmp_path: Path,
                                                                                      caplog: pytest.LogCaptureFixture
                                                                                      ) -> None:
    server = HTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    token = Secret("influx-token", "s3cr3t-t0ken")
    config = InfluxConfig(url=f"http://127.0.0.1:{server.server_port}", org="city-dc", bucket="room",
                          token=token, flush_interval=0.05)
    caplog.set_level(logging.DEBUG)
    out = InfluxOutput(config, DiskBuffer(tmp_path / "b.db"))
    out.write([Sample("ups-a", "input_voltage_volts", 229.5, 1_800_000_000.0)])
    assert out.flush(30)
    out.close()
    server.shutdown()
    ((path, headers, body),) = Capture.requests
    assert path == "/api/v2/write?org=city-dc&bucket=room&precision=ms"
    assert headers["Authorization"] == "Token s3cr3t-t0ken"
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == b"input_voltage_volts,device=ups-a value=229.5 1800000000000"
    assert "s3cr3t-t0ken" not in caplog.text and "s3cr3t-t0ken" not in repr(config)


# ------------------------------------------------------------------ against VictoriaMetrics


def test_what_is_written_is_read_back_exactly(vm: VictoriaMetrics, tmp_path: Path) -> None:
    out = influx(vm.url, tmp_path / "b.db")
    now = time.time()
    sent: list[Key] = []
    for i in range(50):
        samples = [Sample(f"ups-{k}", "input_voltage_volts", 220.0 + i + k / 10, now - 50 + i, "volts",
                          (("phase", "L1"), ("name", "feed a, main=1"))) for k in range(4)]
        report = PollReport("ups-0", now - 50 + i, i % 7 != 0, 0.01 * i, len(samples))
        out.publish(report, samples)
        sent += expected_points(report, samples)
    assert out.flush(30)
    stored = vm.settled(len(sent))
    assert stored == Counter(sent)
    assert (out.stats.written, out.stats.buffered) == (250, 0)
    out.close()


def test_a_full_buffer_keeps_the_newest_drops_the_oldest_and_says_so(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    vm = VictoriaMetrics(tmp_path / "vm")  # not started yet: the database is down
    config = InfluxConfig(url=vm.url, batch_size=100, flush_interval=0.05, retry_initial=0.2, retry_max=0.5)
    out = InfluxOutput(config, DiskBuffer(tmp_path / "b.db", max_samples=1000))
    now = time.time()
    polls = [[Sample(f"pdu-{k}", "power_watts", float(i * 100 + k), now - 30 + i) for k in range(100)]
             for i in range(30)]
    with caplog.at_level(logging.WARNING, logger="outputs.buffer"):
        for samples in polls:
            out.write(samples)
        wait_for("every point buffered or dropped", lambda: out.pending == 0)
    assert (len(out.buffer), out.buffer.dropped_samples, out.buffer.full) == (1000, 2000, True)
    assert [r.getMessage() for r in caplog.records if r.name == "outputs.buffer"][0] == (
        f"output buffer {tmp_path / 'b.db'} is full (limit 268435456 bytes or 1000 samples): "
        "dropped the oldest 100 samples to keep the newest; 100 dropped since start")
    text = metrics_text(out)
    assert 'dcops_output_buffer_full{output="influx"} 1.0' in text
    assert 'dcops_output_buffer_dropped_samples_total{output="influx"} 2000.0' in text
    assert 'dcops_output_up{output="influx"} 0.0' in text
    vm.start()
    try:
        assert out.flush(60)
        stored = vm.settled(1000)
        assert stored == Counter(p for samples in polls[20:] for p in expected_points(None, samples))
        assert not out.buffer.full and out.stats.replayed == 1000
    finally:
        out.close()
        vm.stop()


def metrics_text(out: InfluxOutput) -> str:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    registry.register(out)  # type: ignore[arg-type]  # it has collect()
    return generate_latest(registry).decode()


def test_leftovers_of_a_stopped_dcops_are_replayed_by_the_next_one(tmp_path: Path) -> None:
    vm = VictoriaMetrics(tmp_path / "vm")
    now = time.time()
    polls = [(PollReport("crac-1", now - 20 + i, True, 0.02, 3),
              [Sample("crac-1", "supply_air_temperature_celsius", 18 + i / 10, now - 20 + i, "celsius",
                      (("unit", str(u)),)) for u in range(3)]) for i in range(20)]
    first = influx(vm.url, tmp_path / "b.db")
    for report, samples in polls[:10]:
        first.publish(report, samples)
    first.close()  # the database is down: everything goes to disk
    assert (len(first.buffer), first.stats.written) == (40, 0)  # 10 polls of 3 samples and a report
    vm.start()
    try:
        second = influx(vm.url, tmp_path / "b.db")
        for report, samples in polls[10:]:
            second.publish(report, samples)
        assert second.flush(30)
        second.close()
        expected = Counter(p for report, samples in polls for p in expected_points(report, samples))
        assert vm.settled(sum(expected.values())) == expected
        assert second.stats.replayed >= 40 and second.stats.replayed + second.stats.written == 80
    finally:
        vm.stop()


class Producer(threading.Thread):
    """Publishes one poll of `devices` samples every `period` seconds, each point unique, until stopped."""

    def __init__(self, out: InfluxOutput, devices: int = 50, period: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.out, self.devices, self.period = out, devices, period
        self.t0 = round(time.time() - 5, 3)
        self.sent: list[Key] = []  # what VictoriaMetrics should hold: a sample a field
        self.points = 0  # line-protocol points published: one a sample and one a report
        self.halt = threading.Event()

    def run(self) -> None:
        tick = 0
        while not self.halt.is_set():
            ts = self.t0 + tick * self.period
            samples = [Sample(f"load-{k:02d}", "load_test_celsius", tick + k / 100, ts, "celsius", (("sensor", "s"),))
                       for k in range(self.devices)]
            report = PollReport("load-00", ts, True, 0.001 * (tick % 10), self.devices)
            self.out.publish(report, samples)
            self.sent += expected_points(report, samples)
            self.points += len(samples) + 1
            tick += 1
            self.halt.wait(self.period)


@pytest.mark.slow
def test_a_60_second_outage_under_load_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    """Slow by nature: the database is stopped for 60 s while about 1,000 points a second are published."""
    vm = VictoriaMetrics(tmp_path / "vm").start()
    out = influx(vm.url, tmp_path / "b.db", batch_size=2000, flush_interval=0.25, timeout=10, retry_max=2.0)
    producer = Producer(out)
    try:
        producer.start()
        wait_for("writes to flow", lambda: out.stats.written > 5000)
        vm.stop()
        before = producer.points
        threading.Event().wait(60)  # the outage
        wait_for("the outage to be noticed", lambda: not out.stats.up)
        during = producer.points - before
        peak = len(out.buffer)
        vm.start()
        wait_for("the buffer to be replayed", lambda: out.stats.replayed > 0 and len(out.buffer) == 0, timeout=120)
        written_after = out.stats.written
        wait_for("direct writes again", lambda: out.stats.written > written_after + 5000)
    finally:
        producer.halt.set()
        producer.join()
        assert out.flush(120)
        out.close()
    try:
        sent = Counter(producer.sent)
        stored = vm.settled(len(producer.sent), '{__name__=~"load_test_celsius_value|dcops_poll_.*"}', timeout=120)
        missing = sum((sent - stored).values())
        duplicates = sum(n - 1 for n in stored.values() if n > 1)
        extra = sum((stored - sent).values())
        st = out.stats
        print(f"\noutage: published {producer.points} points ({len(producer.sent)} series samples), {during} during "
              f"the 60 s outage; buffered {st.buffered} (peak {peak} on disk); replayed {st.replayed}; written "
              f"directly {st.written}; stored {sum(stored.values())} series samples; missing {missing}; duplicates "
              f"{duplicates}; ambiguous writes {st.ambiguous_writes}")
        assert during > 50_000 and st.buffered >= during and peak > 0
        assert (missing, duplicates, extra) == (0, 0, 0)
        assert st.written + st.replayed == st.queued == producer.points
        assert (st.rejected, out.buffer.dropped_samples) == (0, 0)
    finally:
        vm.stop()


# ------------------------------------------------------------------ the command line


@pytest.mark.parametrize(("args", "message"), [
    (["--influx-url", "ftp://db:21"], "Error: Invalid value for '--influx-url': 'ftp://db:21' is not an http:// "
                                      "or https:// URL"),
    (["--influx-url", "http://"], "Error: Invalid value for '--influx-url': 'http://' is not an http:// or "
                                  "https:// URL"),
    (["--influx-url", "db:8428"], "Error: Invalid value for '--influx-url': 'db:8428' is not an http:// or "
                                  "https:// URL"),
    (["--influx-buffer-max-mb", "0"], "Error: Invalid value for '--influx-buffer-max-mb': 0 is not in the range "
                                      "1<=x<=1048576."),
])
@pytest.mark.parametrize("command", [["poll", "--once"], ["run"]])
def test_bad_influx_options_are_usage_errors(command: list[str], args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, [*command, *args])
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == message


@pytest.mark.parametrize("command", [["poll", "--once"], ["run"]])
def test_a_token_secret_that_is_not_set_is_a_user_error(command: list[str], tmp_path: Path) -> None:
    inv = copy_reference(tmp_path)
    result = CliRunner().invoke(main, [*command, "--inventory", str(inv), "--influx-url", "http://127.0.0.1:9",
                                       "--influx-token-secret", "influx-token", "--influx-buffer",
                                       str(tmp_path / "b.db")], env={"DCOPS_SECRETS": ""})
    assert result.exit_code == 1
    assert result.output == ("Error: secret 'influx-token' for --influx-token-secret is not set "
                             f"(set DCOPS_SECRET_INFLUX_TOKEN or add it to {inv / 'secrets.yml'})\n")


@pytest.mark.slow
def test_poll_once_writes_the_room_to_victoriametrics_and_buffers_when_it_is_down(
    running_room: LabRunner, tmp_path: Path
) -> None:
    inv = copy_reference(tmp_path, running_room.room.endpoints[0][1])
    vm = VictoriaMetrics(tmp_path / "vm")
    args = ["poll", "--once", "--inventory", str(inv), "--timeout", "2", "--influx-url", vm.url,
            "--influx-buffer", str(tmp_path / "b.db")]
    down = CliRunner().invoke(main, args)  # the database is not running
    assert down.exit_code == 0, down.output
    assert down.output.splitlines()[-1].startswith(f"influx: 0 points written to {vm.url}; ")
    assert down.output.splitlines()[-1].endswith(f" waiting in {tmp_path / 'b.db'} (replayed at the next start)")
    waiting = int(down.output.splitlines()[-1].split("; ")[1].split()[0])
    vm.start()
    try:
        up = CliRunner().invoke(main, args)
        assert up.exit_code == 0, up.output
        assert up.output.splitlines()[-1] == f"influx: {2 * waiting} points written to {vm.url}"
        per_poll = waiting + 2 * 41  # a point per sample and per report; a report's point has 3 fields (series)
        stored = vm.settled(2 * per_poll)
        assert sum(stored.values()) == 2 * per_poll and max(stored.values()) == 1  # both polls, each point once
        polls = Counter(labels for name, labels, _, _ in stored if name == "dcops_poll_up")
        assert len(polls) == 41 and set(polls.values()) == {2}  # every device, from each of the two runs
        assert (("class", "ups"), ("device", "ups-a"), ("location", "room-1")) in polls
    finally:
        vm.stop()


@pytest.mark.slow
def test_dcops_run_writes_to_victoriametrics_and_shows_its_buffer_on_metrics(
    running_room: LabRunner, tmp_path: Path, vm: VictoriaMetrics
) -> None:
    inv = copy_reference(tmp_path, running_room.room.endpoints[0][1])
    port = free_port()
    proc = subprocess.Popen(
        [str(DCOPS), "run", "--inventory", str(inv), "--store", str(tmp_path / "run.db"), "--interval", "2",
         "--listen", f"127.0.0.1:{port}", "--influx-url", vm.url, "--influx-buffer", str(tmp_path / "b.db"),
         "--shard", "2/3"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_for("12 devices in VictoriaMetrics", lambda: len(
            {labels for name, labels, _, _ in vm.export("dcops_poll_up") if name == "dcops_poll_up"}) == 12)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()  # noqa: S310
        assert 'dcops_output_buffer_samples{output="influx"} 0.0' in metrics
        assert 'dcops_output_up{output="influx"} 1.0' in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert f"influx: writing to {vm.url}, buffering to {tmp_path / 'b.db'}\n" in out
    assert f"poller: 12 of 41 devices every 2 s into {tmp_path / 'run.db'}\n" in out
    (stopping,) = [line for line in out.splitlines() if line.startswith("stopping: ")]
    assert stopping.removeprefix("stopping: ").split(", ")[:3] == ["panel", "poller", "influx"]
