"""Alerting speed: a threshold crossing (or a trap) to the webhook receiver holding the notification,
dcops against Prometheus + Alertmanager on the same machine; and one evaluation cycle of 10,000 series.

Latency is measured from the moment the crossing is published (the poller hands its samples to the
engine, or the trap receiver its event) to the moment a webhook receiver on 127.0.0.1 has the request,
minus the rule's `for` (0 here). dcops runs as in `dcops run`: the ticker every 100 ms, the default
500 ms group wait, one delivery thread per channel. The peer is a real Prometheus (scrape and evaluation
every 1 s, the fastest sane setting) and Alertmanager (group_wait 500 ms) fed by an exporter whose value
flips: the time from the flip to its webhook.
"""

from __future__ import annotations

import dataclasses
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from alerts.config import load_policy
from alerts.rules import load_rules
from alerts.service import Alerting
from bench import BENCHMARKS, Result, Row
from dcops.secrets import SecretStore
from dcops.types import PollReport, Sample, TrapEvent
from inventory import REFERENCE_DIR, load_inventory
from inventory.model import Inventory

EVENTS = 100
PEER_EVENTS = 20
SERIES = 10_000
CYCLES = 20
GOAL_S = 1.0
GOAL_EVAL_S = 0.1


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Hook:
    """A webhook receiver that notes when each request arrived."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, Any]] = []
        self.cond = threading.Condition()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                import json

                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                with hook.cond:
                    hook.arrivals.append((time.time(), body))
                    hook.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", _port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 30.0) -> float:
        with self.cond:
            self.cond.wait_for(lambda: len(self.arrivals) >= count, timeout)
            return self.arrivals[count - 1][0] if len(self.arrivals) >= count else float("inf")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _dcops_latency(tmp: Path, hook: Hook) -> tuple[list[float], list[float]]:
    inventory = load_inventory(REFERENCE_DIR)
    rules = load_rules()
    notify = tmp / "notify.yml"
    notify.write_text("group_wait: 500ms\nchannels:\n  hook: {type: webhook, url: {secret: hook}}\n"
                      "escalation:\n- {after: 0s, notify: [hook]}\n", encoding="utf-8")
    policy = load_policy(notify, SecretStore({"hook": hook.url}), [r.name for r in rules.rules])
    alerting = Alerting(inventory, tmp / "dcops.db", rules=rules, policy=policy)
    alerting.start()
    polls, traps = [], []
    try:
        for i in range(EVENTS):  # ups-a goes on battery, is notified, comes back, is notified resolved
            t0 = time.time()
            alerting.publish(PollReport("ups-a", t0, True, 0.01, 1),
                             [Sample("ups-a", "ups_output_source", 5.0, t0)])
            polls.append(hook.wait(len(hook.arrivals) + 1) - t0)
            t1 = time.time()
            alerting.publish(PollReport("ups-a", t1, True, 0.01, 1), [Sample("ups-a", "ups_output_source", 3.0, t1)])
            hook.wait(2 * i + 2)
        base = len(hook.arrivals)
        for i in range(EVENTS):
            t0 = time.time()
            alerting.event(TrapEvent("leak-1", t0, "leak", "critical", "bench", ""))
            traps.append(hook.wait(base + 3 * i + 1) - t0)
            alerting.event(TrapEvent("leak-1", time.time(), "leak", "cleared", "bench", ""))  # latched: still firing
            incident = alerting.store.incidents(state="open")[0].id
            alerting.engine.ack(incident, "bench")  # the acknowledgement ends it (ack + resolved)
            hook.wait(base + 3 * i + 3)
    finally:
        alerting.stop()
    return polls, traps


def _peer_latency(tmp: Path, hook: Hook) -> list[float] | None:
    prometheus, am = shutil.which("prometheus"), shutil.which("prometheus-alertmanager")
    if prometheus is None or am is None:
        return None
    state = {"device": ""}

    class Exporter(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = "# TYPE dcops_ups_output_source gauge\n"
            if state["device"]:
                body += f'dcops_ups_output_source{{device="{state["device"]}",class="ups",location="room-1"}} 5\n'
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    exporter = ThreadingHTTPServer(("127.0.0.1", _port()), Exporter)
    threading.Thread(target=exporter.serve_forever, daemon=True).start()
    am_port, prom_port = _port(), _port()
    (tmp / "rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "bench", "rules": [
        {"alert": "UpsOnBattery", "expr": "dcops_ups_output_source == 5"}]}]}), encoding="utf-8")
    (tmp / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "rule_files": ["rules.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [{"job_name": "dcops", "static_configs": [
            {"targets": [f"127.0.0.1:{exporter.server_address[1]}"]}]}]}), encoding="utf-8")
    (tmp / "am.yml").write_text(yaml.safe_dump({
        "route": {"receiver": "hook", "group_by": ["device"], "group_wait": "500ms", "group_interval": "1m"},
        "receivers": [{"name": "hook", "webhook_configs": [{"url": hook.url}]}]}), encoding="utf-8")
    procs = [subprocess.Popen([am, "--config.file", str(tmp / "am.yml"), "--storage.path", str(tmp / "am"),
                               f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
             subprocess.Popen([prometheus, "--config.file", str(tmp / "prometheus.yml"), "--storage.tsdb.path",
                               str(tmp / "tsdb"), f"--web.listen-address=127.0.0.1:{prom_port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    out = []
    try:
        time.sleep(3)  # both up and scraping
        base = len(hook.arrivals)
        for i in range(PEER_EVENTS):  # a new device each time: a new group, notified after group_wait
            t0 = time.time()
            state["device"] = f"ups-{i}"
            out.append(hook.wait(base + i + 1, timeout=60) - t0)
            state["device"] = ""
            time.sleep(1.5)  # gone from the scrape before the next one appears
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
        exporter.shutdown()
        exporter.server_close()
    return out


def _big_inventory(devices: int) -> Inventory:
    inv = load_inventory(REFERENCE_DIR)
    probe = inv.devices["probe-A01"]
    extra = {f"probe-{i:04d}": dataclasses.replace(probe, name=f"probe-{i:04d}") for i in range(devices)}
    return dataclasses.replace(inv, devices={**inv.devices, **extra})


def _evaluation(tmp: Path) -> tuple[list[float], int]:
    from alerts.engine import Engine
    from alerts.state import AlertStore

    inventory = _big_inventory(SERIES // 10)
    rules = load_rules().rules
    engine = Engine(rules, inventory, AlertStore(tmp / "eval.db"))
    names = [n for n in inventory.devices if n.startswith("probe-0")]
    times = []
    for cycle in range(CYCLES + 1):
        now = time.time()
        batch = [Sample(n, "env_temperature_celsius" if s < 5 else "env_humidity_ratio",
                        23.0 + (cycle % 3) * 0.1 if s < 5 else 0.45, now,
                        labels=(("sensor_index", str(s)), ("sensor", f"s{s}"))) for n in names for s in range(10)]
        t0 = time.perf_counter()
        engine.evaluate(batch)
        engine.tick()
        if cycle:  # the first cycle also builds the series index
            times.append(time.perf_counter() - t0)
    return times, len(engine.series)


@BENCHMARKS.decorator("alerts")
def bench_alerts() -> Result:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        hook = Hook()
        try:
            polls, traps = _dcops_latency(tmp, hook)
            peer = _peer_latency(tmp, hook)
        finally:
            hook.close()
        evals, series = _evaluation(tmp)
    peer_p99 = _pct(peer, 0.99) if peer else float("nan")
    peer_p50 = statistics.median(peer) if peer else float("nan")
    rows = [
        Row(f"poll crossing → webhook, {EVENTS} events", "p99 seconds", _pct(polls, 0.99), peer_p99,
            "Prometheus+AM"),
        Row(f"poll crossing → webhook, {EVENTS} events", "p50 seconds", statistics.median(polls), peer_p50,
            "Prometheus+AM"),
        Row(f"trap → webhook, {EVENTS} events", "p99 seconds", _pct(traps, 0.99), GOAL_S, "goal (1 s)"),
        Row(f"{series} series, one evaluation cycle", "median seconds", statistics.median(evals), GOAL_EVAL_S,
            "goal (100 ms)"),
        Row(f"{series} series, one evaluation cycle", "max seconds", max(evals), GOAL_EVAL_S, "goal (100 ms)"),
    ]
    return Result("alerts", rows, {
        "events": EVENTS, "peer_events": len(peer or []), "group_wait_s": 0.5, "tick_s": 0.1,
        "poll_latency_s": {"p50": statistics.median(polls), "p99": _pct(polls, 0.99), "max": max(polls)},
        "trap_latency_s": {"p50": statistics.median(traps), "p99": _pct(traps, 0.99), "max": max(traps)},
        "peer_latency_s": peer, "evaluation_s": evals, "series": series, "cycles": CYCLES,
        "python": sys.version.split()[0],
    })
