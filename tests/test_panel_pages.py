"""The floor plan, power, cooling and history pages: the answers an ops engineer reads from them.

Uses test_panel's store (a few reference devices at a fixed clock): A01 draws
1.2 kW on feed A and 1.1 kW on feed B; A02's B-side PDU is down.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import test_panel
from flask import Flask
from flask.testing import FlaskClient
from test_panel import NOW, Elements, api, login_as, page, s

from dashboards import create_app
from dashboards.floor import band, heat
from dashboards.powerchain import OK, OVER, TIGHT, UNKNOWN, verdict
from dcops.types import PollReport, Sample
from inventory.model import Inventory
from outputs.rollup import Rollups, resolution
from outputs.store import Store

inventory, store, app = test_panel.inventory, test_panel.store, test_panel.app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return login_as(app, "ops", "viewer")


# ------------------------------------------------------------------ floor plan

@pytest.mark.parametrize(("celsius", "heat_", "band_"), [
    (None, "", "nodata"), (10.0, "14", "cold"), (17.9, "18", "cold"), (22.5, "22", "ok"), (27.0, "27", "ok"),
    (27.1, "27", "warm"), (33.0, "33", "hot"), (50.0, "36", "hot"),
])
def test_heat_bands(celsius: float | None, heat_: str, band_: str) -> None:
    assert heat(celsius) == heat_ and band(celsius) == band_


def test_floor_plan_has_every_rack_on_its_grid(client: FlaskClient, inventory: Inventory) -> None:
    el = page(client, "/floor")
    for name in inventory.racks:
        assert f"cell-{name}" in el.text, name
    assert el.words("cell-A01") == "A01 22.5 °C 2.30 / 6.0 kW"
    assert el.attrs["cell-A01"]["data-heat"] == "22" and el.attrs["cell-A01"]["href"] == "/racks/A01"
    assert el.attrs["cell-A02"]["data-heat"] == "27"  # 26.8 °C
    assert el.words("cell-A03") == "A03 — °C — / 6.0 kW"  # stale probe: no colour, no number
    assert el.attrs["cell-A03"]["data-heat"] == ""
    assert el.words("cell-C01") == "C01 空闲" and el.attrs["cell-C01"]["data-in-use"] == "false"
    assert el.words("cell-B06") == "B06 预留"
    body = api(client, "/api/floor")
    (room,) = body["rooms"]
    assert (room["rows"], room["columns"], room["racks"], room["in_use"]) == (4, 6, 24, 11)
    assert (room["inlet_min"], room["inlet_max"]) == (21.0, 26.8)


# ------------------------------------------------------------------ power

@pytest.mark.parametrize(("load", "capacity", "answer"), [
    (None, 7.36, UNKNOWN), (2.3, 0.0, UNKNOWN), (2.3, 7.36, OK), (5.888, 7.36, OK), (6.0, 7.36, TIGHT),
    (7.36, 7.36, TIGHT), (7.4, 7.36, OVER),
])
def test_failover_verdicts(load: float | None, capacity: float, answer: str) -> None:
    assert verdict(load, capacity) == answer


def test_power_page_answers_failover_for_every_rack(client: FlaskClient) -> None:
    el = page(client, "/power")
    assert el.words("power-A01") == ("A01 2.30 / 6.0 kW 3.70 kW 1.20 / 7.4 kW 1.10 / 7.4 kW "
                                     "可以承载 · 31 % 可以承载 · 31 %")
    # A02's B PDU is down: the rack's draw is unknown, and so is the answer
    assert el.words("power-A02").endswith("无数据 无数据")
    assert len([i for i in el.text if i.startswith("power-") and i != "power-racks"]) == 11
    body = api(client, "/api/power")
    a01 = next(r for r in body["racks"] if r["name"] == "A01")
    assert [(f["failed"], f["carrier"], f["verdict"]) for f in a01["failover"]] == [("A", "B", "ok"), ("B", "A", "ok")]
    assert a01["failover"][0]["amperes"] == pytest.approx(2300 / 230)
    assert body["pue"] is None and body["it_load_kw"] == pytest.approx(4.4505)
    ups = {u["name"]: u for u in body["ups"]}
    assert ups["ups-a"]["capacity_kw"] == pytest.approx(108) and ups["ups-a"]["load_percent"] == pytest.approx(42)


def test_an_overloaded_rack_is_flagged(inventory: Inventory, tmp_path: Path) -> None:
    st = Store(tmp_path / "d.db", clock=lambda: NOW)
    test_panel.fill(st, {"pdu-A01-a": (True, NOW - 20, "", [s("pdu-A01-a", "pdu_power_watts", 4000.0, "watts")]),
                         "pdu-A01-b": (True, NOW - 20, "", [s("pdu-A01-b", "pdu_power_watts", 3500.0, "watts")])})
    client = login_as(create_app({"INVENTORY": inventory, "STORE": st, "CLOCK": lambda: NOW}), "ops", "viewer")
    a01 = next(r for r in api(client, "/api/power")["racks"] if r["name"] == "A01")
    assert [f["verdict"] for f in a01["failover"]] == ["over", "over"]  # 7.5 kW > 7.36 kW
    assert a01["headroom_kw"] == pytest.approx(-1.5)
    assert Elements(client.get("/racks/A01").get_data(as_text=True)).words("failover-A").endswith("过载 (102 %)")


def csrf(client: FlaskClient, url: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', client.get(url).get_data(as_text=True))
    assert found
    return found.group(1)


def test_an_operator_enters_a_meter_reading_and_the_pue_follows(app: Flask) -> None:
    viewer = login_as(app, "ops", "viewer")
    assert 'id="meter-form"' not in viewer.get("/power").get_data(as_text=True)
    assert viewer.post("/power/meter", data={"csrf_token": csrf(viewer, "/power"), "kilowatts": "9"}).status_code == 403
    operator = login_as(app, "li", "operator")
    resp = operator.post("/power/meter", data={"csrf_token": csrf(operator, "/power"), "kilowatts": "7.2"})
    assert resp.status_code == 302
    body = api(operator, "/api/power")
    assert body["facility_kw"] == 7.2 and body["facility_source"] == "manual"
    assert body["pue"] == pytest.approx(7.2 / 4.4505)
    assert body["manual_note"] == "2025-11-25 00:00:00 · li"
    bad = operator.post("/power/meter", data={"csrf_token": csrf(operator, "/power"), "kilowatts": "-3"})
    assert bad.status_code == 302 and api(operator, "/api/power")["facility_kw"] == 7.2
    admin = login_as(app, "root", "admin")
    assert "meter reading" in admin.get("/admin/audit").get_data(as_text=True)


# ------------------------------------------------------------------ cooling

def test_cooling_page(client: FlaskClient) -> None:
    el = page(client, "/cooling")
    assert el.words("unit-crac-1") == ("1号精密空调 运行模式 运行 送风温度 18.5 °C 回风温度 27.0 °C ΔT 8.5 °C "
                                       "风机 — % 制冷量 — / 25 kW")
    assert el.words("spread") == "进风温差 5.8 °C 21.0 ( B01) – 26.8 °C ( A02)"
    body = api(client, "/api/cooling")
    assert body["running"] == 1 and body["capacity_kw"] == 25
    assert [r["rack"] for r in body["racks"]] == ["B01", "A01", "A02"]


# ------------------------------------------------------------------ rollups and history

def fill_days(store: Store, days: int, every: float = 300.0) -> None:
    """probe-A01 inlet: 20 °C + (hour of the day) / 10, one sample every `every` seconds."""
    start = NOW - days * 86400
    samples = [Sample("probe-A01", "env_temperature_celsius", 20 + ((i * every) % 86400) // 3600 / 10,
                      start + i * every, "celsius", (("sensor_index", "1"), ("sensor", "inlet")))
               for i in range(int(days * 86400 / every))]
    for i in range(0, len(samples), 5000):
        store.write(samples[i:i + 5000])


def test_rollups_keep_average_minimum_and_maximum(tmp_path: Path) -> None:
    st = Store(tmp_path / "r.db", retention=400 * 86400, clock=lambda: NOW)
    st.write([Sample("d", "m", v, NOW - 3600 + i * 60) for i, v in enumerate([1.0, 5.0, 3.0, 7.0, 4.0])])
    rollups = Rollups(st.path)
    assert rollups.catch_up() == 5 and rollups.catch_up() == 0  # incremental: nothing new, nothing done
    sid = rollups.series_id("d", "m")
    assert sid is not None
    (hour,) = rollups.history(sid, NOW - 7200, NOW, source="rollup_1h")
    assert (hour.avg, hour.min, hour.max) == (4.0, 1.0, 7.0)
    st.write([Sample("d", "m", 10.0, NOW - 3600 + 300)])  # a late sample folds into the same hour
    assert rollups.catch_up() == 1
    (hour,) = rollups.history(sid, NOW - 7200, NOW, source="rollup_1h")
    assert (hour.avg, hour.min, hour.max) == (5.0, 1.0, 10.0)
    assert [(p.min, p.max) for p in rollups.history(sid, NOW - 7200, NOW, source="rollup_5m")] == [
        (1.0, 7.0), (10.0, 10.0)]  # minutes 0-4, then 5


@pytest.mark.parametrize(("span", "source"), [(3600, "raw"), (86400, "rollup_5m"), (7 * 86400, "rollup_1h"),
                                              (90 * 86400, "rollup_1h")])
def test_resolution(span: float, source: str) -> None:
    assert resolution(span) == source


def test_history_api_for_every_range(inventory: Inventory, tmp_path: Path) -> None:
    st = Store(tmp_path / "h.db", retention=400 * 86400, clock=lambda: NOW)
    fill_days(st, 91, every=900)
    st.write([], PollReport("probe-A01", NOW - 10, True, 0.1, 1))
    app = create_app({"INVENTORY": inventory, "STORE": st, "CLOCK": lambda: NOW, "TESTING": True})
    client = login_as(app, "ops", "viewer")
    (series,) = api(client, "/api/series?device=probe-A01")["series"]
    assert series["name"] == 'env_temperature_celsius{sensor="inlet",sensor_index="1"}'
    counts = {}
    for span in ("1h", "24h", "7d", "90d"):
        body = api(client, f"/api/history?series={series['id']}&range={span}")
        counts[span] = (body["source"], len(body["points"]))
        ts = [p[0] for p in body["points"]]
        spans = {"1h": 3600, "24h": 86400, "7d": 7 * 86400, "90d": 90 * 86400}
        assert ts == sorted(ts) and ts[0] >= NOW - spans[span] - 3600
        assert all(p[2] <= p[1] <= p[3] for p in body["points"])
    assert counts == {"1h": ("raw", 4), "24h": ("rollup_5m", 96), "7d": ("rollup_1h", 168),
                      "90d": ("rollup_1h", 2160)}
    hourly = api(client, f"/api/history?series={series['id']}&range=7d")["points"]
    assert {round(p[3] - p[2], 6) for p in hourly} == {0.0}  # one value per hour in this data
    page_html = client.get(f"/history?series={series['id']}&range=90d").get_data(as_text=True)
    assert f'data-series="{series["id"]}" data-range="90d"' in page_html


@pytest.mark.parametrize(("query", "code", "error"), [
    ("", 400, "series: 必填"), ("series=abc", 400, "series: 不是数字"),
    ("series=1&range=1y", 400, "未知的时间范围: 1y"),
    ("series=999", 404, "没有这个序列: 999"),
])
def test_history_api_errors(client: FlaskClient, query: str, code: int, error: str) -> None:
    resp = client.get(f"/api/history?{query}")
    assert resp.status_code == code and resp.get_json()["error"].startswith(error)


def test_api_rack_detail(client: FlaskClient) -> None:
    body = api(client, "/api/racks/A01")
    assert body["rack"]["name"] == "A01" and body["power"]["power_kw"] == pytest.approx(2.3)
    assert len(body["elevation"]) == 42 and body["zero_u"] == ["pdu-A01-a", "pdu-A01-b", "probe-A01"]
    assert {c["device"] for c in body["charts"]} == {"pdu-A01-a", "pdu-A01-b", "probe-A01"}
    assert client.get("/api/racks/Z9").status_code == 404
