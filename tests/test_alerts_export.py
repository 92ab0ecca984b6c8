"""`dcops alerts export`: Prometheus rules and an Alertmanager config equivalent to ours, checked by promtool
and amtool, unit-tested by promtool with cases generated from our rules, and fired end to end."""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from alerts_receivers import Receiver, servers
from click.testing import CliRunner

from alerts.config import NOTIFY_FILE, load_policy
from alerts.export import export
from alerts.rules import load_rules
from conftest import free_port, require_command
from dcops.cli import main
from dcops.secrets import SecretStore

NOTIFY = """\
channels:
  hook: {type: webhook, url: {secret: hook}}
  wecom: {type: wecom, url: {secret: hook}}
escalation:
- {after: 0s, notify: [hook, wecom]}
- {after: 15m, notify: [hook]}
inhibit:
- {source: device-down, equal: [device]}
- {source: utility-outage, targets: [ups-on-battery], equal: [room]}
"""


def write(tmp_path: Path, hook: str) -> tuple[Path, list[str]]:
    (tmp_path / "notify.yml").write_text(NOTIFY, encoding="utf-8")
    rules = load_rules()
    policy = load_policy(tmp_path / "notify.yml", SecretStore({"hook": hook}), [r.name for r in rules.rules])
    out = tmp_path / "export"
    return out, export(rules.rules, policy, out, years=[2026])


def test_the_export_passes_promtool_and_amtool_and_its_generated_unit_tests(tmp_path: Path) -> None:
    promtool, amtool = require_command("promtool"), require_command("amtool")
    out, lines = write(tmp_path, "http://127.0.0.1:9/hook")
    assert lines[-2:] == ["not exported: escalation beyond level 1 (Alertmanager does not escalate)",
                          "not exported: channel wecom (wecom): Alertmanager has no receiver for it; dcops sends it"]
    check = subprocess.run([promtool, "check", "rules", "dcops-rules.yml"], cwd=out, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 25 rules found" in check.stdout
    tests = subprocess.run([promtool, "test", "rules", "dcops-rules.test.yml"], cwd=out, capture_output=True,
                           text=True)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    am = subprocess.run([amtool, "check-config", "alertmanager.yml"], cwd=out, capture_output=True, text=True)
    assert am.returncode == 0, am.stdout + am.stderr
    assert stat.S_IMODE(os.stat(out / "alertmanager.yml").st_mode) == 0o600


def test_what_the_export_says(tmp_path: Path) -> None:
    out, _ = write(tmp_path, "http://127.0.0.1:9/hook")
    rules = {r["alert"]: r for g in yaml.safe_load((out / "dcops-rules.yml").read_text())["groups"] for r in g["rules"]}
    assert rules["InletTemperatureHigh"]["expr"] == (
        'dcops_env_temperature_celsius{class="env"} > 27 or (dcops_env_temperature_celsius{class="env"} > 26.5 '
        'and ignoring(alertname, alertstate, severity, category, dcops_rule, when) '
        'ALERTS{alertname="InletTemperatureHigh",alertstate="firing"})')
    assert rules["InletTemperatureHigh"]["for"] == "120s"
    assert rules["InletTemperatureHigh"]["annotations"]["summary"] == (
        '{{ $labels.rack }} 机柜进风温度 {{ printf "%.1f" $value }} °C，高于 27 °C')
    assert rules["UtilityOutage"]["expr"] == (
        "count by (location) (dcops_ups_output_source == 5) == count by (location) (dcops_ups_output_source)")
    assert rules["PduCurrentHigh"]["expr"].startswith(
        'dcops_pdu_phase_current_amperes{class="pdu",device=~"pdu\\\\-A01\\\\-a|pdu\\\\-A01\\\\-b|')
    assert " > 25.6" in rules["PduCurrentHigh"]["expr"] and " > 24 " in rules["PduCurrentHigh"]["expr"]
    assert rules["StaleReading"]["expr"] == "time() - dcops_poll_timestamp_seconds > 90"
    assert rules["DoorOpenAfterHours"]["labels"]["when"] == "outside_working_hours"
    assert "WaterLeakTrap" not in rules
    am = yaml.safe_load((out / "alertmanager.yml").read_text())
    assert am["route"]["group_by"] == ["location", "category"]
    assert am["route"]["routes"] == [{"matchers": ['when="outside_working_hours"'], "receiver": "dcops-level-1",
                                      "mute_time_intervals": ["working-hours"]}]
    assert am["inhibit_rules"][1] == {"source_matchers": ['alertname="UtilityOutage"'],
                                      "target_matchers": ['alertname=~"UpsOnBattery"'], "equal": ["location"]}
    october = next(i for i in am["time_intervals"][0]["time_intervals"] if i["months"] == ["10"])
    # National Day week off (1-7 October 2026), Saturday 10 October a make-up working day
    assert october["days_of_month"] == ["8:10", "12:16", "19:23", "26:30"]
    assert am["receivers"] == [{"name": "dcops-level-1",
                                "webhook_configs": [{"url": "http://127.0.0.1:9/hook", "send_resolved": True}]}]


def test_the_cli_exports_and_a_bad_rules_dir_exits_2(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["alerts", "export", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"wrote {tmp_path / 'out' / 'dcops-rules.yml'} (25 rules)"
    bad = tmp_path / "rules"
    bad.mkdir()
    (bad / "r.yml").write_text("rules:\n- name: x\n  category: cooling\n  severity: warning\n  above: 1\n"
                               "  summary: x\n", encoding="utf-8")
    result = runner.invoke(main, ["alerts", "check", "--rules", str(bad)])
    assert result.exit_code == 2
    assert result.output.splitlines() == [f"{bad / 'r.yml'}:2: rule x.metric: missing required key",
                                          f"{NOTIFY_FILE}:30: inhibit[0].source: no rule named 'device-down'",
                                          f"{NOTIFY_FILE}:32: inhibit[1].source: no rule named 'utility-outage'",
                                          f"{NOTIFY_FILE}:33: inhibit[1].targets: no rule named 'ups-on-battery'",
                                          "4 error(s); 0 rule(s) valid"]


class Exporter:
    """/metrics as dcops would serve it with ups-a on battery."""

    BODY = (b'# TYPE dcops_ups_output_source gauge\n'
            b'dcops_ups_output_source{device="ups-a",class="ups",rack="",location="room-1"} 5\n')

    def __init__(self) -> None:
        body = self.BODY

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    for r, _ in servers():
        yield r


@pytest.mark.slow
def test_a_real_prometheus_and_alertmanager_fire_an_exported_rule(tmp_path: Path, receiver: Receiver) -> None:
    prometheus = require_command("prometheus")
    alertmanager = require_command("prometheus-alertmanager")
    out, _ = write(tmp_path, receiver.url("/am"))
    exporter = Exporter()
    am_port, prom_port = free_port(), free_port()
    (out / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["dcops-rules.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [{"job_name": "dcops", "static_configs": [{"targets": [f"127.0.0.1:{exporter.port}"]}]}],
    }), encoding="utf-8")
    procs = [
        subprocess.Popen([alertmanager, "--config.file", str(out / "alertmanager.yml"), "--storage.path",
                          str(tmp_path / "am"), f"--web.listen-address=127.0.0.1:{am_port}",
                          "--cluster.listen-address="], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([prometheus, "--config.file", str(out / "prometheus.yml"), "--storage.tsdb.path",
                          str(tmp_path / "tsdb"), f"--web.listen-address=127.0.0.1:{prom_port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        hooks = receiver.wait(1, "/am", timeout=60)
        assert hooks, "Alertmanager never called the webhook"
        body = hooks[0].body
        assert (body["status"], body["receiver"]) == ("firing", "dcops-level-1")
        assert body["groupLabels"] == {"location": "room-1", "category": "power"}
        names = {a["labels"]["alertname"] for a in body["alerts"]}
        assert names == {"UtilityOutage"}  # UpsOnBattery is inhibited under it, as in dcops
        assert body["alerts"][0]["annotations"]["summary"] == "市电中断：全部 UPS 转为电池供电"
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
        exporter.server.shutdown()
        exporter.server.server_close()
