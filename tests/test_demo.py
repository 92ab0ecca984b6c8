"""`dcops demo` end to end: snmpsim → poller → store → panel → a real Prometheus; clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import copy_reference, free_port, require_command
from lab import LabRunner, free_udp_port

DCOPS = Path(sys.executable).with_name("dcops")


def get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback only)
        return response.read()  # type: ignore[no-any-return]


def wait_for(what: str, check, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Demo:
    """`dcops demo` (or, with `args`, `dcops run ...`) as a child process."""

    def __init__(self, workdir: Path, args: list[str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if args is None:
            args = ["demo", "--port", str(self.port), "--snmp-port", str(free_udp_port()),
                    "--workdir", str(workdir), "--interval", "2"]
        else:
            args = [*args, "--listen", f"127.0.0.1:{self.port}"]
        self.proc = subprocess.Popen([str(DCOPS), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.output: list[str] = []
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if line.startswith("panel:"):
                return
        self.stop(signal.SIGKILL)
        raise AssertionError("dcops demo did not start:\n" + "".join(self.output))

    def login_and_get(self, path: str) -> str:
        """Log in as the demo user with the password the demo printed, then read `path`."""
        import http.cookiejar
        import re

        (line,) = [x for x in self.output if x.startswith("login: user demo  password ")]
        password = line.split()[4]
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        form = opener.open(self.url + "/login", timeout=5).read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        data = urllib.parse.urlencode({"csrf_token": token, "name": "demo", "password": password, "next": path})
        return opener.open(self.url + "/login", data=data.encode(), timeout=5).read().decode()  # type: ignore[no-any-return]

    def health(self) -> dict[str, object]:
        return json.loads(get(self.url + "/api/health"))  # type: ignore[no-any-return]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, _ = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        self.output.append(out or "")
        return self.proc.returncode


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    d = Demo(tmp_path / "demo")
    yield d
    d.stop(signal.SIGKILL)


def test_demo_prints_the_url_and_every_device_comes_up(demo: Demo) -> None:
    assert demo.output[-1].strip().startswith(f"panel:  {demo.url}/")
    health = wait_for("41 devices up", lambda: (h := demo.health())["devices"]["up"] == 41 and h)
    assert health["status"] == "ok"
    assert get(demo.url + "/").decode().count('id="login-form"') == 1  # the panel needs a login
    page = demo.login_and_get("/")
    assert "总览" in page and "ups-a" in page


def test_a_real_prometheus_scrapes_dcops_and_reads_a_racks_inlet_temperature(demo: Demo, tmp_path: Path) -> None:
    prometheus = require_command("prometheus")
    promtool = require_command("promtool")
    wait_for("the first poll", lambda: demo.health()["devices"]["up"] == 41)
    exposition = get(demo.url + "/metrics")
    lint = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True)
    assert lint.returncode == 0 and lint.stdout == b"" and lint.stderr == b"", lint

    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: dcops\n    static_configs: [{{targets: ['127.0.0.1:{demo.port}']}}]\n",
        encoding="utf-8")
    proc = subprocess.Popen(
        [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def query(expr: str) -> list[dict[str, object]]:
            url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
            body = json.loads(get(url))
            assert body["status"] == "success", body
            return body["data"]["result"]  # type: ignore[no-any-return]

        (series,) = wait_for("Prometheus to scrape dcops",
                             lambda: query('dcops_env_temperature_celsius{rack="A01"}'), timeout=30)
        labels = series["metric"]
        assert labels["device"] == "probe-A01" and labels["sensor"] == "A01 inlet"  # type: ignore[index]
        assert labels["job"] == "dcops"  # type: ignore[index]
        value = float(series["value"][1])  # type: ignore[index]
        assert 15.0 < value < 35.0
        (up,) = query("count(dcops_up == 1)")
        assert up["value"][1] == "41"  # type: ignore[index]
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_demo_stops_cleanly_and_leaves_no_child_behind(demo: Demo, sig: int) -> None:
    kids = wait_for("snmpsim child", lambda: children(demo.proc.pid))
    assert len(kids) == 1 and "snmpsim" in Path(f"/proc/{kids[0]}/cmdline").read_text()
    assert demo.stop(sig) == 0, "".join(demo.output)
    (stopping,) = [line for line in "".join(demo.output).splitlines() if line.startswith("stopping: ")]
    parts = stopping.removeprefix("stopping: ").split(", ")
    assert parts[:2] == ["panel", "poller"] and "virtual room" in parts  # stopped in reverse order of start
    assert not any(alive(pid) for pid in kids)


def test_the_agent_dies_with_dcops_even_on_sigkill(demo: Demo) -> None:
    (kid,) = wait_for("snmpsim child", lambda: children(demo.proc.pid))
    demo.stop(signal.SIGKILL)
    wait_for("snmpsim to exit", lambda: not alive(kid), timeout=10)


def test_a_busy_panel_port_fails_before_anything_starts(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = subprocess.run(
            [str(DCOPS), "demo", "--port", str(port), "--snmp-port", str(free_udp_port()),
             "--workdir", str(tmp_path / "d")],
            capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert result.returncode == 1
    assert result.stderr == f"Error: cannot serve the panel on 127.0.0.1:{port}: Address already in use\n"
    assert "virtual room:" not in result.stdout


def test_dcops_run_polls_real_agents_from_an_inventory_directory(running_room: LabRunner, tmp_path: Path) -> None:
    inventory = copy_reference(tmp_path, running_room.room.endpoints[0][1])
    service = Demo(tmp_path, ["run", "--inventory", str(inventory), "--store", str(tmp_path / "run.db"),
                              "--interval", "5"])
    try:
        assert f"poller: 41 devices every 5 s into {tmp_path / 'run.db'}\n" in service.output
        wait_for("41 devices up", lambda: service.health()["devices"]["up"] == 41)
        metrics = get(service.url + "/metrics").decode()
        assert 'dcops_up{class="ups",device="ups-a",location="room-1",rack=""} 1.0' in metrics
    finally:
        code = service.stop()
    assert code == 0
    assert "stopping: panel, poller" in "".join(service.output)
