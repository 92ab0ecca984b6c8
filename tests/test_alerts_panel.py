"""The alerts page: firing, acknowledged, pending, silenced and past incidents, a timeline per incident;
operators acknowledge and silence (viewers cannot), and the engine applies what they did."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import test_panel
from flask import Flask
from test_panel import NOW, login_as

from alerts.config import load_policy
from alerts.engine import Engine
from alerts.rules import load_rules
from alerts.state import AlertStore, OutboxRow
from dashboards import create_app
from dcops.secrets import SecretStore
from dcops.types import Sample
from inventory.model import Inventory
from outputs.store import Store

inventory, store = test_panel.inventory, test_panel.store
PROBE = (("sensor_index", "0"), ("sensor", "inlet"))


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(tmp_path: Path, inventory: Inventory, store: Store) -> Engine:
    """An engine on the panel's store: A01 too hot (notified), a leak pending nothing, a humidity alert pending."""
    (tmp_path / "notify.yml").write_text("group_wait: 0s\nchannels:\n  ops: {type: log}\n"
                                         "escalation:\n- {after: 0s, notify: [ops]}\n", encoding="utf-8")
    rules = [r for r in load_rules().rules if r.name in ("inlet-temperature-high", "humidity-high", "water-leak")]
    clock = Clock()
    sent: list[OutboxRow] = []
    e = Engine(rules, inventory, AlertStore(store.path, clock=clock), clock=clock, submit=sent.append,
               policy=load_policy(tmp_path / "notify.yml", SecretStore({})))
    e.evaluate([Sample("probe-A01", "env_temperature_celsius", 28.5, NOW, labels=PROBE)])
    clock.now += 120
    e.tick()
    e.evaluate([Sample("probe-A02", "env_humidity_ratio", 0.75, clock.now, labels=PROBE),
                Sample("leak-1", "env_contact_state", 4.0, clock.now, labels=PROBE)])
    e.tick()
    e.evaluate([Sample("leak-1", "env_contact_state", 2.0, clock.now, labels=PROBE)])
    clock.now += 1
    e.tick()
    return e


@pytest.fixture
def app(inventory: Inventory, store: Store) -> Flask:
    return create_app({"TESTING": True, "INVENTORY": inventory, "STORE": store, "CLOCK": lambda: NOW + 200,
                       "WTF_CSRF_ENABLED": False})


def text(html: str, ident: str) -> str:
    """The text inside the element with this id (tags dropped, whitespace squeezed)."""
    found = re.search(rf'id="{ident}"[^>]*>(.*?)</(table|div|dl|section)>', html, re.S)
    assert found, ident
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def test_the_page_shows_each_state(app: Flask, engine: Engine) -> None:
    html = login_as(app, "ops", "viewer").get("/alerts").get_data(as_text=True)
    firing = text(html, "firing")
    assert "A01 机柜进风温度 28.5 °C，高于 27 °C" in firing and "warning" not in firing
    assert "leak-1 检测到漏水" in firing and "已锁存，待确认" in firing
    assert "humidity-high probe-A02 env_humidity_ratio = 0.75" in text(html, "pending")
    assert text(html, "acknowledged") == "# 事件 级别 开始时间 告警 已确认 无。"
    assert 'action="/alerts/ack"' not in html and 'id="silence-form"' not in html  # a viewer only reads


def test_an_operator_acknowledges_and_the_engine_applies_it(app: Flask, engine: Engine) -> None:
    leak = next(a.incident for a in engine.snapshot() if a.rule.name == "water-leak")
    viewer = login_as(app, "ops", "viewer")
    assert viewer.post("/alerts/ack", data={"incident": leak}).status_code == 403
    operator = login_as(app, "wang", "operator")
    resp = operator.post("/alerts/ack", data={"incident": leak, "note": "已到现场"})
    assert resp.status_code == 302 and resp.headers["Location"] == f"/alerts/incident/{leak}"
    page = operator.get(resp.headers["Location"]).get_data(as_text=True)
    assert f"已记录对事件 {leak} 的确认。" in page
    engine.clock.now += 1  # type: ignore[attr-defined]
    engine.tick()  # the engine's next maintenance applies it: the latched leak ends
    page = operator.get(f"/alerts/incident/{leak}").get_data(as_text=True)
    assert text(page, "incident-facts").endswith("已确认 wang: 已到现场 升级级别 1")
    events = text(page, "timeline")
    assert "待定" in events and "告警" in events and "锁存" in events and "已确认" in events and "已恢复" in events
    assert "ops" in text(page, "deliveries")
    resp = operator.post("/alerts/ack", data={"incident": leak})
    assert f"事件 {leak} 未处于未关闭状态。" in operator.get("/alerts").get_data(as_text=True)


def test_an_operator_silences_by_matcher_and_a_bad_matcher_is_refused(app: Flask, engine: Engine) -> None:
    operator = login_as(app, "wang", "operator")
    resp = operator.post("/alerts/silence", data={"matchers": "rack~A01", "duration": "2h", "reason": "维保"})
    html = operator.get(resp.headers["Location"]).get_data(as_text=True)
    assert ("bad matcher &#39;rack~A01&#39;: expected label=value, label!=value, label=~regex or label!~regex"
            in html)
    resp = operator.post("/alerts/silence", data={"matchers": "rack=A01", "duration": "two hours", "reason": "x"})
    assert "&#39;two hours&#39; 不是有效的时长（例如 30m、2h、1d）。" in operator.get("/alerts").get_data(as_text=True)
    operator.post("/alerts/silence", data={"matchers": "rack=A01\nalertname=inlet-temperature-high",
                                           "duration": "2h", "reason": "A01 空调维保"})
    html = operator.get("/alerts").get_data(as_text=True)
    assert "已添加静默 1。" in html
    assert text(html, "silences").startswith("# 匹配条件 创建人 截止 原因 1 rack=A01, alertname=inlet-temperature-high "
                                             "wang")
    assert "inlet-temperature-high probe-A01 env_temperature_celsius = 28.50 已静默 #1" in text(html, "silenced")
    (row,) = engine.store.silences(active_at=NOW + 300)
    assert (row.author, row.reason, row.ends - row.starts) == ("wang", "A01 空调维保", 7200)
    operator.post("/alerts/silence/expire", data={"silence": 1})
    assert "静默 1 已结束。" in operator.get("/alerts").get_data(as_text=True)
    assert engine.store.silences(active_at=NOW + 300) == []


def test_past_incidents_and_english(app: Flask, engine: Engine) -> None:
    engine.evaluate([Sample("probe-A01", "env_temperature_celsius", 24.0, engine.clock(), labels=PROBE)])
    engine.tick()
    client = login_as(app, "ops", "viewer")
    html = client.get("/alerts?lang=en").get_data(as_text=True)
    assert "Past incidents" in html and "A01 机柜进风温度 28.5 °C，高于 27 °C" in text(html, "history")
    assert client.get("/alerts/incident/999").status_code == 404
