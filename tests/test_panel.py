"""The panel's promises: the numbers an ops engineer reads, in Chinese first, from local assets only.

The store is filled with a few reference devices' samples and poll reports at
a fixed clock; every other reference device was never polled. `client` is
logged in as a viewer (access control itself: test_panel_auth.py).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient

from conftest import require_command
from dashboards import create_app
from dashboards.users import UserStore
from dcops.types import PollReport, Sample
from inventory import REFERENCE_DIR, load_inventory
from inventory.model import Inventory
from outputs.store import Store

NOW = 1_764_000_000.0  # 2025-11-25 00:00:00 in Asia/Shanghai
FRESH = NOW - 20
OLD = NOW - 600  # older than the default STALE_AFTER (180 s)
STATIC = Path(__file__).resolve().parent.parent / "dashboards" / "static"


def s(device: str, metric: str, value: float, unit: str = "", ts: float = FRESH,
      text: str = "", **labels: str) -> Sample:
    return Sample(device=device, metric=metric, value=value, ts=ts, unit=unit,
                  labels=tuple(labels.items()), text=text)


# device -> (report up?, report time, error, samples)
POLLS: dict[str, tuple[bool, float, str, list[Sample]]] = {
    "probe-A01": (True, FRESH, "", [
        s("probe-A01", "env_temperature_celsius", 22.5, "celsius", sensor_index="1", sensor="inlet"),
        s("probe-A01", "env_humidity_ratio", 0.45, "ratio", sensor_index="1", sensor="inlet"),
    ]),
    "probe-A02": (True, FRESH, "", [
        s("probe-A02", "env_temperature_celsius", 26.8, "celsius", sensor_index="1"),
    ]),
    # two sensors: the rack's inlet is its warmest reading, 21.0
    "probe-B01": (True, FRESH, "", [
        s("probe-B01", "env_temperature_celsius", 18.0, "celsius", sensor_index="1"),
        s("probe-B01", "env_temperature_celsius", 21.0, "celsius", sensor_index="2"),
    ]),
    # last heard of ten minutes ago: stale, and its 10.0 °C must not be the room's minimum
    "probe-A03": (True, OLD, "", [
        s("probe-A03", "env_temperature_celsius", 10.0, "celsius", ts=OLD, sensor_index="1"),
    ]),
    "pdu-A01-a": (True, FRESH, "", [
        s("pdu-A01-a", "pdu_power_watts", 1200.0, "watts", pdu="1"),
        s("pdu-A01-a", "pdu_phase_current_amperes", 5.2, "amperes", phase="1"),
    ]),
    "pdu-A01-b": (True, FRESH, "", [s("pdu-A01-b", "pdu_power_watts", 1100.0, "watts", pdu="1")]),
    "pdu-A02-a": (True, FRESH, "", [s("pdu-A02-a", "pdu_power_watts", 2150.5, "watts", pdu="1")]),
    # down now; its old reading must not count in the IT load
    "pdu-A02-b": (False, FRESH, "timeout <after> 3 retries", [
        s("pdu-A02-b", "pdu_power_watts", 999.0, "watts", ts=OLD, pdu="1"),
    ]),
    "ups-a": (True, FRESH, "", [
        s("ups-a", "ups_output_source", 5, text="battery"),
        s("ups-a", "ups_battery_runtime_seconds", 1500, "seconds"),
        s("ups-a", "ups_battery_charge_ratio", 0.87, "ratio"),
        s("ups-a", "ups_output_load_ratio", 0.42, "ratio", line="1"),
    ]),
    "ups-b": (True, FRESH, "", [
        s("ups-b", "ups_output_source", 3, text="normal"),
        s("ups-b", "ups_battery_runtime_seconds", 3600, "seconds"),
    ]),
    "crac-1": (True, FRESH, "", [
        s("crac-1", "cooling_operate_mode", 2, text="on"),
        s("crac-1", "cooling_supply_air_temperature_celsius", 18.5, "celsius"),
        s("crac-1", "cooling_return_air_temperature_celsius", 27.0, "celsius"),
    ]),
    "leak-1": (True, FRESH, "", [s("leak-1", "env_contact_state", 2, text="normal", sensor_index="1")]),
}
UP, DOWN, STALE, NEVER = 10, 1, 1, 41 - 12  # the reference site has 41 devices
IT_LOAD_KW = "4.45"  # 1200 + 1100 + 2150.5 W


def fill(store: Store, polls: dict[str, tuple[bool, float, str, list[Sample]]]) -> None:
    for device, (up, ts, error, samples) in polls.items():
        store.write(samples, PollReport(device=device, ts=ts, up=up, duration=0.25,
                                        samples=len(samples), error=error,
                                        profiles=("akcp-sensorprobe",)))


@pytest.fixture(scope="session")
def inventory() -> Inventory:
    return load_inventory(REFERENCE_DIR)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = Store(tmp_path / "dcops.db", clock=lambda: NOW)
    fill(st, POLLS)
    yield st
    st.close()


@pytest.fixture
def app(inventory: Inventory, store: Store) -> Flask:
    return create_app({"TESTING": True, "INVENTORY": inventory, "STORE": store,
                       "CLOCK": lambda: NOW})


def login_as(app: Flask, name: str, role: str) -> FlaskClient:
    """A client with `name` (created with `role` if new) logged in, as the login page would leave it."""
    with app.app_context():
        from dashboards.auth import get_users

        users: UserStore = get_users()
        user = users.get(name) or users.add(name, role, "correct horse battery")
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["user"], sess["v"] = user.name, user.version
    return client


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return login_as(app, "ops", "viewer")


class Elements(HTMLParser):
    """The text and attributes of every element with an id, and every element's attributes."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.text: dict[str, str] = {}
        self.attrs: dict[str, dict[str, str]] = {}
        self.all: list[dict[str, str]] = []
        self._open: list[tuple[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.all.append(a)
        self.handle_data(" ")  # an element boundary separates words
        if tag in ("meta", "link", "br", "input", "img"):
            return
        self._open.append((tag, a.get("id")))
        if "id" in a:
            self.text[a["id"]] = ""
            self.attrs[a["id"]] = a

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, ident in self._open:
            if ident:
                self.text[ident] += data

    def words(self, ident: str) -> str:
        return " ".join(self.text[ident].split())


def api(client: FlaskClient, url: str) -> Any:
    resp = client.get(url)
    assert resp.status_code == 200 and resp.mimetype == "application/json", url
    return json.loads(resp.data)


def page(client: FlaskClient, url: str) -> Elements:
    resp = client.get(url)
    assert resp.status_code == 200, url
    return Elements(resp.get_data(as_text=True))


# ------------------------------------------------------------------ overview

def test_overview_shows_the_computed_numbers(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    el = Elements(html)
    assert el.words("devices-up") == "10"
    assert el.words("devices-down") == str(DOWN)
    assert el.words("devices-stale") == str(STALE + NEVER)
    assert el.words("devices-never") == str(NEVER)
    assert el.words("it-load") == f"IT 总负载 {IT_LOAD_KW} kW 全部机柜 PDU 合计"
    assert el.words("inlet-min") == "最低进风温度 21.0 °C 机柜 B01"
    assert el.words("inlet-max") == "最高进风温度 26.8 °C 机柜 A02"


def test_ups_on_battery_is_shown_as_such(client: FlaskClient) -> None:
    el = page(client, "/")
    assert el.attrs["ups-ups-a"]["data-state"] == "battery"
    assert el.words("ups-ups-a") == (
        "A路 UPS 120kVA 输出来源 电池 电池后备时间 25 分钟 电池电量 87 % 输出负载 42 %")
    assert el.attrs["ups-ups-b"]["data-state"] == "normal"
    assert "输出来源 市电 电池后备时间 60 分钟" in el.words("ups-ups-b")


def test_cooling_and_contact_sensors(client: FlaskClient) -> None:
    el = page(client, "/")
    assert el.words("cooling-crac-1") == "1号精密空调 运行模式 运行 送风温度 18.5 °C 回风温度 27.0 °C"
    assert "运行模式 无数据" in el.words("cooling-crac-2")


def test_devices_not_up_say_which_and_why(client: FlaskClient) -> None:
    el = page(client, "/")
    rows = el.words("problems")
    assert "pdu-A02-b 故障 2025-11-24 23:59:40 timeout <after> 3 retries" in rows
    assert "probe-A03 A03 进风温湿度 数据过期 2025-11-24 23:50:00" in rows
    assert "ups-b" not in rows  # up
    assert rows.count("从未采集") == NEVER
    # the down device comes first
    assert rows.index("pdu-A02-b") < rows.index("crac-2")


def test_error_text_is_escaped(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert "timeout &lt;after&gt; 3 retries" in html
    assert "<after>" not in html


# ------------------------------------------------------------------ racks and devices

def test_rack_list_has_every_rack_with_its_figures(client: FlaskClient, inventory: Inventory) -> None:
    el = page(client, "/racks")
    for name in inventory.racks:
        assert f"rack-{name}" in el.text, name
    assert el.words("rack-A01") == "A01 在用 22.5 °C 45 % 2.30 / 6.0 kW 3"
    assert el.words("rack-A03") == "A03 在用 — °C — % — / 6.0 kW 3"  # stale probe, PDUs unpolled
    assert el.words("rack-B06").startswith("B06 预留")
    assert el.words("rack-C01").startswith("C01 空闲")
    assert el.attrs["rack-A01"]["data-state"] == "active"


def test_rack_page_lists_its_feeds_and_devices(client: FlaskClient) -> None:
    html = client.get("/racks/A01").get_data(as_text=True)
    el = Elements(html)
    assert el.words("rack-inlet") == "进风温度 22.5 °C"
    assert el.words("rack-power") == "用电功率 2.30 / 6.0 kW 余量 3.70 kW"
    assert el.words("feed-A01-A") == "A01-A A A路列头柜 / ups-a 230 V · 32 A 1.20 kW 7.4 kW 6.16 kW"
    # either feed alone carries the rack's 2.3 kW: 10 A of a 32 A breaker
    assert el.words("failover-A") == "A 路 B 路 2.30 kW · 10.0 A 32 A (7.4 kW) 可以承载 (31 %)"
    assert el.attrs["failover-B"]["id"] == "failover-B"
    for text in ("pdu-A01-a", "probe-A01", "0U (侧装)", 'id="elevation"', "U42", "U1<"):
        assert text in html


def test_device_page_shows_the_poll_and_every_reading(client: FlaskClient) -> None:
    html = client.get("/devices/ups-a").get_data(as_text=True)
    el = Elements(html)
    assert el.words("device-status") == "在线"
    assert el.words("last-poll") == (
        "时间 2025-11-24 23:59:40 耗时 0.25 秒 结果 在线 样本数 4 错误")
    for text in ("UPS", "一号机房", "127.0.0.1:11161", "akcp-sensorprobe",
                 "ups_output_source", "电池 (battery)", "1500 秒 (25 分钟)", "87.0 %",
                 "<code>line=1</code>", "42.0 %"):
        assert text in html, text


def test_device_in_a_rack_and_a_failed_poll(client: FlaskClient) -> None:
    html = client.get("/devices/pdu-A02-b").get_data(as_text=True)
    el = Elements(html)
    assert el.words("device-status") == "故障"
    assert "timeout &lt;after&gt; 3 retries" in html
    assert 'href="/racks/A02"' in html
    assert 'data-state="stale"' in html  # its only reading is old


def test_never_polled_device(client: FlaskClient) -> None:
    el = page(client, "/devices/smoke-1")
    assert el.words("device-status") == "从未采集"


@pytest.mark.parametrize("url", ["/racks/Z99", "/devices/no-such-device", "/nowhere"])
def test_unknown_pages_are_a_404_page(client: FlaskClient, url: str) -> None:
    resp = client.get(url)
    assert resp.status_code == 404
    html = resp.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "404 · 页面不存在" in html
    assert "返回总览" in html


def test_unknown_device_in_the_api_is_a_json_404(client: FlaskClient) -> None:
    resp = client.get("/api/devices/no-such-device")
    assert resp.status_code == 404
    assert resp.get_json() == {"error": "没有这个设备: no-such-device"}


# ------------------------------------------------------------------ API

def test_health_is_degraded_when_a_device_is_down(client: FlaskClient) -> None:
    resp = client.get("/api/health")
    assert resp.status_code == 200
    assert resp.get_json() == {
        "status": "degraded",
        "devices": {"total": 41, "up": UP, "down": DOWN, "stale": STALE + NEVER},
        "last_poll": FRESH,
        "version": "0.1.0",
    }


def test_health_is_ok_when_every_device_is_up(inventory: Inventory, tmp_path: Path) -> None:
    store = Store(tmp_path / "ok.db", clock=lambda: NOW)
    fill(store, {name: (True, FRESH, "", []) for name in inventory.devices})
    app = create_app({"INVENTORY": inventory, "STORE": store, "CLOCK": lambda: NOW})
    body = api(app.test_client(), "/api/health")
    assert body["status"] == "ok"
    assert body["devices"] == {"total": 41, "up": 41, "down": 0, "stale": 0}


def test_health_answers_200_even_when_the_store_cannot_be_opened(tmp_path: Path) -> None:
    app = create_app({"STORE_PATH": str(tmp_path), "CLOCK": lambda: NOW})  # a directory
    resp = app.test_client().get("/api/health")
    assert resp.status_code == 200
    assert json.loads(resp.data)["status"] == "degraded"
    assert json.loads(resp.data)["devices"] == {"total": 41, "up": 0, "down": 0, "stale": 41}


@pytest.mark.parametrize(("stale_after", "up", "down", "stale"), [
    (180, UP, DOWN, STALE + NEVER),
    (1000, UP + 1, DOWN, NEVER),  # probe-A03's ten-minute-old report counts as fresh
    (10, 0, 0, 41),  # every report is 20 s old: even the failed poll is stale news
])
def test_stale_devices_are_counted_as_stale(inventory: Inventory, store: Store, stale_after: float,
                                            up: int, down: int, stale: int) -> None:
    app = create_app({"INVENTORY": inventory, "STORE": store, "CLOCK": lambda: NOW,
                      "STALE_AFTER": stale_after})
    devices = api(app.test_client(), "/api/health")["devices"]
    assert devices == {"total": 41, "up": up, "down": down, "stale": stale}


def test_api_overview_matches_the_page(client: FlaskClient) -> None:
    body = api(client, "/api/overview")
    assert body["it_load_kw"] == pytest.approx(4.4505)
    assert body["inlet_min"] == {"rack": "B01", "celsius": 21.0}
    assert body["inlet_max"] == {"rack": "A02", "celsius": 26.8}
    ups = {u["name"]: u for u in body["ups"]}
    assert ups["ups-a"]["source"] == "battery" and ups["ups-a"]["on_battery"] is True
    assert ups["ups-a"]["source_label"] == "电池"
    assert ups["ups-a"]["runtime_minutes"] == 25
    assert body["problems"][0]["name"] == "pdu-A02-b"
    assert body["time_text"] == "2025-11-25 00:00:00"


def test_api_racks_and_device(client: FlaskClient) -> None:
    racks = {r["name"]: r for r in api(client, "/api/racks")["racks"]}
    assert len(racks) == 24
    assert racks["A01"]["power_kw"] == pytest.approx(2.3)
    assert racks["A01"]["budget_kw"] == 6.0 and racks["A01"]["devices"] == 3
    dev = api(client, "/api/devices/pdu-A01-a")
    assert dev["status"] == "up" and dev["rack"] == "A01"
    ids = [r["id"] for r in dev["readings"]]
    assert 'pdu_power_watts{pdu="1"}' in ids


def test_metrics_is_404_without_a_source(client: FlaskClient) -> None:
    assert client.get("/metrics").status_code == 404


def test_metrics_serves_what_the_source_renders(inventory: Inventory, store: Store) -> None:
    body = b"# TYPE dcops_up gauge\ndcops_up 1\n"
    app = create_app({"INVENTORY": inventory, "STORE": store,
                      "METRICS": lambda: (body, "text/plain; version=0.0.4; charset=utf-8")})
    resp = app.test_client().get("/metrics")
    assert resp.status_code == 200
    assert resp.data == body
    assert resp.content_type == "text/plain; version=0.0.4; charset=utf-8"


def test_store_path_opens_a_store(inventory: Inventory, tmp_path: Path) -> None:
    path = tmp_path / "var" / "dcops.db"
    app = create_app({"INVENTORY": inventory, "STORE_PATH": str(path)})
    assert api(app.test_client(), "/api/health")["devices"]["stale"] == 41
    assert path.exists()


# ------------------------------------------------------------------ language

def test_english_on_request_and_remembered_by_cookie(client: FlaskClient) -> None:
    resp = client.get("/?lang=en")
    html = resp.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Total IT load" in html and "IT 总负载" not in html
    assert [c for c in resp.headers.getlist("Set-Cookie") if c.startswith("lang=en;")]
    html = client.get("/racks").get_data(as_text=True)  # no ?lang: the cookie keeps it
    assert '<html lang="en">' in html and "Inlet temperature" in html
    assert api(client, "/api/overview")["ups"][0]["source_label"] == "battery"
    html = client.get("/?lang=zh-CN").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "IT 总负载" in html
    assert '<html lang="zh-CN">' in client.get("/").get_data(as_text=True)


def test_unknown_language_falls_back_to_chinese(client: FlaskClient) -> None:
    resp = client.get("/?lang=xx")
    assert '<html lang="zh-CN">' in resp.get_data(as_text=True)
    assert not [c for c in resp.headers.getlist("Set-Cookie") if c.startswith("lang=")]


# ------------------------------------------------------------------ safety

def all_urls(inventory: Inventory) -> list[str]:
    urls = ["/", "/racks", "/devices", "/api/health", "/api/overview", "/api/racks", "/nowhere", "/floor",
            "/power", "/cooling", "/history", "/api/floor", "/api/power", "/api/cooling", "/api/series",
            "/api/openapi.json", "/login", "/admin/users", "/admin/audit"]
    urls += [f"/racks/{name}" for name in inventory.racks]
    urls += [f"/devices/{name}" for name in inventory.devices]
    urls += [f"/api/devices/{name}" for name in inventory.devices]
    return urls


def test_no_secret_appears_on_any_page(client: FlaskClient, inventory: Inventory) -> None:
    secrets = yaml.safe_load((REFERENCE_DIR / "secrets.yml").read_text(encoding="utf-8"))
    values = [str(v) for v in secrets.values()]
    assert values
    for lang in ("zh-CN", "en"):
        for url in all_urls(inventory):
            body = client.get(f"{url}?lang={lang}").get_data(as_text=True)
            leaked = [v for v in values if v in body]
            assert not leaked, (url, leaked)
            assert "community" not in body.lower(), url


def test_no_page_loads_anything_from_outside(client: FlaskClient, inventory: Inventory) -> None:
    external = re.compile(r"https?://|(?:src|href)=[\"']?//|@import|url\(\s*['\"]?(?:https?:)?//")
    for url in [*all_urls(inventory), "/static/panel.css", "/static/panel.js", "/static/charts.js"]:
        resp = client.get(url)
        body = resp.get_data(as_text=True)
        assert not external.search(body), (url, external.search(body))
        if resp.mimetype == "text/html":
            assert resp.headers["Content-Security-Policy"].startswith("default-src 'self'")
            for attrs in Elements(body).all:
                for name in ("src", "href"):
                    if name in attrs:
                        assert attrs[name].startswith(("/", "?", "#")), (url, attrs[name])


def test_the_stylesheet_uses_system_fonts_only() -> None:
    css = (STATIC / "panel.css").read_text(encoding="utf-8")
    for font in ('"PingFang SC"', '"Microsoft YaHei"', '"Noto Sans CJK SC"', "sans-serif"):
        assert font in css
    assert "@font-face" not in css


# ------------------------------------------------------------------ page <-> panel.js contract

MISSING = object()


def lookup(data: Any, keys: list[str]) -> Any:
    """panel.js's lookup: in a list, a step picks the item whose name or id equals it."""
    for key in keys:
        if isinstance(data, list):
            data = next((x for x in data if key in (x.get("name"), x.get("id"))), MISSING)
        elif isinstance(data, dict):
            data = data.get(key, MISSING)
        else:
            return MISSING
        if data is MISSING:
            return MISSING
    return data


@pytest.mark.parametrize("url", ["/", "/racks", "/racks/A01", "/devices", "/devices/ups-a",
                                 "/devices/probe-B01", "/devices/pdu-A01-a", "/floor", "/power", "/cooling"])
def test_every_refreshed_value_is_in_the_json(client: FlaskClient, url: str) -> None:
    el = page(client, url)
    refresh = [a["data-refresh"] for a in el.all if "data-refresh" in a]
    assert len(refresh) == 1
    data = api(client, refresh[0])
    keys = [json.loads(a[attr]) for a in el.all for attr in ("data-key", "data-state-key")
            if attr in a]
    keys += [path for a in el.all if "data-attrs-key" in a for path in json.loads(a["data-attrs-key"]).values()]
    assert keys
    for key in keys:
        assert lookup(data, key) is not MISSING, (url, key)
    for a in el.all:
        if "data-rows" in a or "data-empty" in a:
            assert isinstance(data[a.get("data-rows") or a["data-empty"]], list)


def test_panel_js_is_valid_javascript() -> None:
    node = require_command("node")
    subprocess.run([node, "--check", str(STATIC / "panel.js")], check=True)
