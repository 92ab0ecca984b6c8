"""Each lab scenario drives the virtual room over real SNMP; the SMTP server and the webhook receiver
on loopback get exactly these notifications, in this order, none twice, the resolve included."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alerts_receivers import Mailbox, Receiver, servers

from alerts.config import load_policy
from alerts.rules import load_rules
from conftest import missing
from dcops.secrets import SecretStore

pytestmark = pytest.mark.slow

EXPECTED = {
    "crac-failure": [
        ("firing", "【告警】严重 一号机房 · 制冷：crac-2 精密空调报警（1 项）（共 2 条）"),
        ("resolved", "【已恢复】一号机房 · 制冷：crac-2 精密空调报警（1 项）"),
    ],
    "utility-outage": [
        ("firing", "【告警】严重 一号机房 · 供电：市电中断：全部 UPS 转为电池供电（共 3 条）"),
        ("resolved", "【已恢复】一号机房 · 供电：市电中断：全部 UPS 转为电池供电"),
    ],
    "water-leak": [
        ("firing", "【告警】严重 一号机房 · 消防与漏水：leak-1 检测到漏水"),
        ("ack", "【已确认】一号机房 · 消防与漏水：leak-1 检测到漏水（李娜）"),
        ("resolved", "【已恢复】一号机房 · 消防与漏水：leak-1 检测到漏水"),
    ],
    "door-forced": [
        ("firing", "【告警】严重 一号机房 · 门禁安防：door-1 非工作时间机房门被打开"),
        ("resolved", "【已恢复】一号机房 · 门禁安防：door-1 非工作时间机房门被打开"),
    ],
    "agent-down": [
        ("firing", "【告警】严重 一号机房 · 监控：pdu-A03-a 无法采集（设备或网络故障）"),
        ("resolved", "【已恢复】一号机房 · 监控：pdu-A03-a 无法采集（设备或网络故障）"),
    ],
}
# What the webhook carries besides the title: the alerts of the first notification, by rule and device.
FIRST_ALERTS = {
    "crac-failure": [("crac-alarm", "crac-2"), ("crac-stopped", "crac-2")],
    "utility-outage": [("utility-outage", ""), ("ups-on-battery", "ups-a"), ("ups-on-battery", "ups-b")],
    "water-leak": [("water-leak", "leak-1")],
    "door-forced": [("door-open-after-hours", "door-1")],
    "agent-down": [("device-down", "pdu-A03-a")],
}


@pytest.fixture(scope="module")
def net() -> Iterator[tuple[Receiver, Mailbox]]:
    from lab.snmpsim import responder_path

    if not responder_path().exists():
        missing("snmpsim (snmpsim-command-responder)")
    yield from servers()


@pytest.mark.parametrize("name", list(EXPECTED))
def test_scenario_notifications(tmp_path: Path, net: tuple[Receiver, Mailbox], name: str) -> None:
    from lab.scenarios import run_scenario

    receiver, box = net
    receiver.requests.clear()
    box.mails.clear()
    (tmp_path / "notify.yml").write_text(f"""\
group_wait: 500ms
channels:
  mail: {{type: email, host: 127.0.0.1, port: {box.port}, from: dcops@dc.example.gov.cn}}
  hook: {{type: webhook, url: {{secret: hook}}}}
people:
  wang: {{label: 王伟, contacts: {{mail: wang@dc.example.gov.cn}}}}
  li: {{label: 李娜, contacts: {{mail: li@dc.example.gov.cn}}}}
oncall:
  working_hours: "08:30-17:30"
  day: [wang]
  rotation: {{start: 2026-01-05, days: 7, people: [li]}}
escalation:
- {{after: 0s, notify: [hook, oncall]}}
inhibit:
- {{source: device-down, equal: [device]}}
- {{source: utility-outage, targets: [ups-on-battery], equal: [room]}}
""", encoding="utf-8")
    rules = load_rules()
    policy = load_policy(tmp_path / "notify.yml", SecretStore({"hook": receiver.url("/hook")}),
                         [r.name for r in rules.rules])
    result = run_scenario(name, workdir=tmp_path / "run", rules=rules, policy=policy)

    hooks = receiver.on("/hook")
    assert [(r.body["kind"], r.body["title"]) for r in hooks] == EXPECTED[name]
    mails = box.wait(len(EXPECTED[name]))
    assert [(m["X-Dcops-Kind"], m["Subject"]) for _, _, m in mails] == EXPECTED[name]
    assert all(rcpts == ["li@dc.example.gov.cn"] for _, rcpts, _ in mails)  # 02:00 on a Wednesday: the rota's turn
    first = [(a["rule"], a["labels"].get("device", "")) for a in hooks[0].body["alerts"]]
    assert first == FIRST_ALERTS[name]
    assert {r.body["incident"] for r in hooks} == {1}
    assert all(d.status == "sent" for d in result.deliveries)
