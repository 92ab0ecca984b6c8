"""The panel's extranet page (dashboards/extranet.py) through Flask's test client, logged in as the panel's
tests log in; the onboarding job an operator starts there runs for real against the lab's SSH switches."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from flask import Flask
from flask.testing import FlaskClient
from test_panel import NOW, login_as

from conftest import missing
from dashboards import create_app
from dashboards.i18n import CATALOG_DIR, load_catalogs
from lab.extranet.testing import ExtranetLab, serve_lab
from outputs.store import Store

DASHBOARDS = Path(__file__).resolve().parent.parent / "dashboards"


def area_strings() -> dict[str, str]:
    """Every msgid of the extranet area's code and templates (as `pybabel extract` finds them) -> where."""
    files = [("python", DASHBOARDS / "extranet.py")]
    files += [("jinja2", p) for p in sorted((DASHBOARDS / "templates" / "extranet").glob("*.html"))]
    found: dict[str, str] = {}
    for method, path in files:
        options = {"extensions": "jinja2.ext.i18n"} if method == "jinja2" else {}
        for lineno, message, _c, _x in extract_from_file(
                "jinja2.ext:babel_extract" if method == "jinja2" else "python", path,
                keywords={**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}, options=options):
            for msgid in message if isinstance(message, tuple) else (message,):
                if msgid:
                    found.setdefault(msgid, f"{path.name}:{lineno}")
    return found


def test_every_string_of_the_area_has_a_chinese_text() -> None:
    zh = load_catalogs([CATALOG_DIR])["zh_CN"]  # panel.po and extranet.po merged; a clash would raise here
    strings = area_strings()
    assert {"Onboarding jobs", "Agencies", "rolled-back", "Audit log"} <= set(strings)
    assert [f"{where}: {msgid!r}" for msgid, where in strings.items() if zh.gettext(msgid) == msgid] == []


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExtranetLab]:
    yield from serve_lab(tmp_path_factory.mktemp("panel"), missing)


@pytest.fixture
def app(lab: ExtranetLab, tmp_path: Path) -> Iterator[Flask]:
    store = Store(tmp_path / "dcops.db", clock=lambda: NOW)
    yield create_app({"TESTING": True, "INVENTORY": lab.inventory, "STORE": store, "CLOCK": lambda: NOW,
                      "EXTRANET_STATE": str(lab.state.parent / "extranet.db"), "EXTRANET_WORKERS": 2})
    store.close()


def token(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert found, html
    return found.group(1)


def wait_for(client: FlaskClient, url: str) -> dict[str, object]:
    for _ in range(600):
        job = client.get(url).get_json()
        if job["status"] != "running":
            return dict(job)
        time.sleep(0.1)
    raise AssertionError(f"{url} still running")


def test_the_page_before_any_run_lists_the_agencies_and_creates_nothing(inventory_copy: Flask,
                                                                           tmp_path: Path) -> None:
    client = login_as(inventory_copy, "ops", "viewer")
    html = client.get("/extranet").get_data(as_text=True)
    assert "共 178 个单位：已接入 4，待开通 172，已撤销 2" in html
    assert re.search(r'<tr id="agency-jz-zfb" data-state="up"><td>jz-zfb</td><td>江州市人民政府办公室</td>'
                     r'<td>在用 · 已接入</td><td>110</td><td>10.80.1.0/27</td><td>10.80.1.1</td><td>acc-jz-1</td>'
                     r'<td>GigabitEthernet0/0/1</td></tr>', html), html
    assert '<tr id="agency-jz-lsj" data-state="retired"><td>jz-lsj</td><td>江州市粮食和物资储备局</td><td>已撤销</td>' \
           '<td>—</td>' in html
    assert "还没有开通任务。" in html and "还没有变更记录。" in html
    assert 'id="start-job"' not in html  # a viewer cannot start a job
    assert client.get("/extranet/data.json").get_json()["jobs"] == []
    assert client.get("/extranet/jobs/1").status_code == 404
    assert not (tmp_path / "nowhere" / "extranet.db").exists()
    assert client.post("/extranet/onboard", data={"agency": "jz-fgw", "csrf_token": token(html)}).status_code == 403
    english = client.get("/extranet?lang=en").get_data(as_text=True)
    assert "178 agencies: 4 live, 172 planned, 2 retired" in english and "Onboarding jobs" in english


@pytest.fixture
def inventory_copy(lab: ExtranetLab, tmp_path: Path) -> Iterator[Flask]:
    """The panel on a state database that does not exist yet."""
    store = Store(tmp_path / "dcops.db", clock=lambda: NOW)
    yield create_app({"TESTING": True, "INVENTORY": lab.inventory, "STORE": store, "CLOCK": lambda: NOW,
                      "EXTRANET_STATE": str(tmp_path / "nowhere" / "extranet.db")})
    store.close()


def test_an_operator_onboards_an_agency_and_follows_the_job(app: Flask, lab: ExtranetLab) -> None:
    client = login_as(app, "netops", "operator")
    html = client.get("/extranet").get_data(as_text=True)
    assert 'id="start-job"' in html and '<option value="ty-wjj">ty-wjj 桃源县卫生健康局</option>' in html
    bad = client.post("/extranet/onboard", data={"agency": "jz-lsj", "csrf_token": token(html)})
    assert bad.status_code == 302 and bad.headers["Location"] == "/extranet"
    assert "未知或已撤销的单位：jz-lsj" in client.get("/extranet").get_data(as_text=True)

    started = client.post("/extranet/onboard", data={"agency": "ty-wjj", "engine": "netmiko",
                                                      "csrf_token": token(html)})
    assert started.status_code == 302
    job_url = started.headers["Location"]
    assert re.fullmatch(r"/extranet/jobs/\d+", job_url)
    page = client.get(job_url).get_data(as_text=True)
    assert 'id="job-switches"' in page and "acc-ty" in page and "agg-ty" in page
    job = wait_for(client, job_url + ".json")
    assert (job["status"], job["status_label"], job["action"], job["user"], job["dry_run"]) == (
        "done", "完成", "开通", "netops", False)
    assert job["summary_text"] == "1 个单位：成功 1，失败 0，中断 0；变更 7 项"
    assert [(s["name"], s["vendor"], s["status_label"], s["done"], s["units"], s["results_text"])  # type: ignore
            for s in job["switches"]] == [("acc-ty", "huawei_vrp", "完成", 1, 1, "1 成功"),
                                          ("agg-ty", "huawei_vrp", "完成", 1, 1, "1 成功")]

    html = client.get("/extranet").get_data(as_text=True)
    row = re.search(r'<tr id="agency-ty-wjj" data-state="up">(.*?)</tr>', html)
    assert row and "<td>规划中 · 已接入</td><td>110</td>" in row.group(1), html
    overview = client.get("/extranet/data.json").get_json()
    assert overview["jobs"][0]["name"] == job_url.rsplit("/", 1)[1]
    assert {(a["user"], a["action"], a["agency"], a["switch"], a["result_label"]) for a in overview["audit"]} >= {
        ("netops", "开通", "ty-wjj", "acc-ty", "成功"), ("netops", "开通", "ty-wjj", "agg-ty", "成功")}
    with app.app_context():
        from dashboards.auth import get_users

        entry = get_users().audit_log(actor="netops")[0]
    assert (entry.action, entry.target, entry.detail) == ("extranet onboard", "ty-wjj", "engine=netmiko")


def test_a_dry_run_through_the_ansible_engine_changes_nothing(app: Flask, lab: ExtranetLab) -> None:
    before = lab.running("acc-ty")
    client = login_as(app, "netops", "operator")
    html = client.get("/extranet").get_data(as_text=True)
    started = client.post("/extranet/onboard", data={"agency": "ty-scj", "engine": "ansible", "dry_run": "1",
                                                      "csrf_token": token(html)})
    job = wait_for(client, started.headers["Location"] + ".json")
    assert (job["status"], job["engine"], job["dry_run"]) == ("done", "ansible", True)
    assert job["summary_text"] == "1 个单位：成功 1，失败 0，中断 0；变更 7 项"
    assert lab.running("acc-ty") == before
    assert "演练" in client.get(started.headers["Location"]).get_data(as_text=True)
