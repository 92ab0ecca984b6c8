"""Access control: no page or API answer without a login, no action below its role, no form without CSRF.

The route tests walk the app's URL map, so a page another engineer adds
tomorrow is checked by the same promise without editing this file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import test_panel
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from test_panel import NOW, login_as
from werkzeug.routing import Rule

from dashboards import create_app
from dashboards.auth import PUBLIC_ENDPOINTS, TOKEN_ENDPOINTS
from dashboards.cli import users as users_cli
from dashboards.users import MAX_USER_FAILURES, ROLES, UserStore
from inventory.model import Inventory
from outputs.store import Store

# the panel's fixtures (a store with a few devices' samples, the app on it)
inventory, store, app = test_panel.inventory, test_panel.store, test_panel.app

PASSWORD = "correct horse battery"


def url_for_rule(rule: Rule, inventory: Inventory) -> str:
    """A concrete URL for a rule: real names where the rule takes them."""
    values = {"name": "A01", "area": "room-1", "metric": "env_temperature_celsius",
              "series_id": "1", "filename": "panel.css"}
    if rule.endpoint.startswith("devices.") or rule.endpoint == "api.device":
        values["name"] = "ups-a"
    if rule.endpoint.startswith("admin."):
        values["name"] = "ops"
    url = rule.rule
    for arg in rule.arguments:
        url = re.sub(rf"<(?:[^:<>]+:)?{arg}>", values.get(arg, "x"), url)
    return url


def guarded_rules(app: Flask) -> list[Rule]:
    return [r for r in app.url_map.iter_rules() if r.endpoint not in PUBLIC_ENDPOINTS | TOKEN_ENDPOINTS]


def csrf_token(client: FlaskClient) -> str:
    html = client.get("/login").get_data(as_text=True)
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def test_the_allowlist_is_small(app: Flask) -> None:
    assert PUBLIC_ENDPOINTS == {"auth.login", "static", "api.health"}
    assert TOKEN_ENDPOINTS == {"metrics.index"}
    assert len(guarded_rules(app)) >= 10


def test_every_route_refuses_an_anonymous_user(app: Flask, inventory: Inventory) -> None:
    client = app.test_client()
    for rule in guarded_rules(app):
        url = url_for_rule(rule, inventory)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            resp = client.open(url, method=method)
            if url.startswith("/api/"):
                assert resp.status_code == 401, (method, url, resp.status_code)
                assert resp.get_json() == {"error": "需要登录"}
            elif method == "GET":
                assert resp.status_code == 302, (method, url, resp.status_code)
                assert resp.headers["Location"].startswith("/login?next="), url
            else:  # a form post without a session: refused before it does anything
                assert resp.status_code in (302, 400), (method, url, resp.status_code)


def test_an_unknown_url_also_asks_for_a_login(app: Flask) -> None:
    resp = app.test_client().get("/nowhere?x=1")
    assert resp.status_code == 302 and resp.headers["Location"] == "/login?next=/nowhere?x%3D1"


def test_health_and_static_need_no_login(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/api/health").status_code == 200
    assert client.get("/static/panel.css").status_code == 200
    assert client.get("/login").status_code == 200


def actions(app: Flask) -> list[tuple[Rule, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        role = getattr(app.view_functions[rule.endpoint], "required_role", None)
        if role is not None:
            found.append((rule, role))
    return found


def test_every_action_refuses_a_role_below_it(inventory: Inventory, store: Store) -> None:
    app = create_app({"INVENTORY": inventory, "STORE": store, "CLOCK": lambda: NOW, "WTF_CSRF_ENABLED": False})
    found = actions(app)
    assert {r.endpoint for r, _ in found} >= {"admin.users", "admin.add_user", "admin.change_user", "power.meter"}
    for rule, role in found:
        url = url_for_rule(rule, inventory)
        for lower in ROLES[: ROLES.index(role)]:
            client = login_as(app, f"a-{lower}", lower)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                resp = client.open(url, method=method)
                assert resp.status_code == 403, (lower, method, url, resp.status_code)
        client = login_as(app, f"a-{role}", role)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            assert client.open(url, method=method).status_code != 403, (role, method, url)


def test_a_post_without_the_csrf_token_is_refused(app: Flask) -> None:
    admin = login_as(app, "root", "admin")
    resp = admin.post("/admin/users", data={"name": "eve", "role": "admin", "password": PASSWORD})
    assert resp.status_code == 400
    assert "表单已过期或不是来自本面板" in resp.get_data(as_text=True)
    with app.app_context():
        from dashboards.auth import get_users

        assert get_users().get("eve") is None


def test_login_logout_and_the_session_cookie(app: Flask) -> None:
    login_as(app, "ops", "viewer")
    client = app.test_client()
    token = csrf_token(client)
    resp = client.post("/login", data={"csrf_token": token, "name": "ops", "password": PASSWORD,
                                       "next": "/racks/A01"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/racks/A01"
    cookie = next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith("dcops_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    page = client.get("/racks/A01").get_data(as_text=True)
    assert 'id="who"' in page and "ops" in page
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/racks/A01").status_code == 302


def test_the_cookie_is_secure_behind_tls(inventory: Inventory, store: Store) -> None:
    app = create_app({"INVENTORY": inventory, "STORE": store, "SESSION_COOKIE_SECURE": True})
    resp = app.test_client().get("/login", base_url="https://panel.local")
    cookie = next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith("dcops_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "racks"])
def test_login_never_redirects_off_site(app: Flask, target: str) -> None:
    login_as(app, "ops", "viewer")
    client = app.test_client()
    resp = client.post("/login", data={"csrf_token": csrf_token(client), "name": "ops", "password": PASSWORD,
                                       "next": target})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"


def test_wrong_passwords_are_throttled_and_audited(app: Flask) -> None:
    login_as(app, "ops", "viewer")
    client = app.test_client()
    token = csrf_token(client)
    for _ in range(MAX_USER_FAILURES):
        resp = client.post("/login", data={"csrf_token": token, "name": "ops", "password": "nope-nope"})
        assert resp.status_code == 401
        assert "用户名或密码错误" in resp.get_data(as_text=True)
    resp = client.post("/login", data={"csrf_token": token, "name": "ops", "password": PASSWORD})
    assert resp.status_code == 429  # even the right password, until the window has passed
    assert int(resp.headers["Retry-After"]) > 0
    assert "登录失败次数过多" in resp.get_data(as_text=True)
    with app.app_context():
        from dashboards.auth import get_users

        actions = [e.action for e in get_users().audit_log(actor="ops")]
    assert actions == ["login refused"] + ["login failed"] * MAX_USER_FAILURES


def test_throttling_ends_after_the_window(tmp_path: Path) -> None:
    now = [1000.0]
    users = UserStore(tmp_path / "u.db", clock=lambda: now[0])
    users.add("ops", "viewer", PASSWORD)
    for _ in range(MAX_USER_FAILURES):
        users.record_failure("ops", "10.0.0.1")
    assert users.locked_for("ops", "10.0.0.2") == 15 * 60
    now[0] += 15 * 60 + 1
    assert users.locked_for("ops", "10.0.0.2") == 0


def test_a_role_change_or_disable_ends_open_sessions(app: Flask) -> None:
    client = login_as(app, "ops", "operator")
    assert client.get("/").status_code == 200
    with app.app_context():
        from dashboards.auth import get_users

        get_users().set_role("ops", "viewer")
    assert client.get("/").status_code == 302
    client = login_as(app, "ops", "viewer")
    with app.app_context():
        get_users().set_disabled("ops", True)
    assert client.get("/").status_code == 302


def test_an_admin_adds_a_user_and_it_is_audited(app: Flask) -> None:
    admin = login_as(app, "root", "admin")
    page = admin.get("/admin/users").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    resp = admin.post("/admin/users", data={"csrf_token": token, "name": "wang", "role": "operator",
                                            "password": PASSWORD})
    assert resp.status_code == 302
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "已添加用户 wang" in page and 'id="user-wang"' in page
    audit = admin.get("/admin/audit").get_data(as_text=True)
    assert "user added" in audit and "role=operator" in audit


def test_metrics_can_require_a_bearer_token(inventory: Inventory, store: Store) -> None:
    app = create_app({"INVENTORY": inventory, "STORE": store, "METRICS_TOKEN": "s3cret",
                      "METRICS": lambda: (b"dcops_up 1\n", "text/plain")})
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).data == b"dcops_up 1\n"


# ------------------------------------------------------------------ dcops users

def test_cli_adds_lists_and_changes_users(tmp_path: Path) -> None:
    db = str(tmp_path / "dcops.db")
    runner = CliRunner()
    result = runner.invoke(users_cli, ["add", "li", "--role", "operator", "--password-stdin", "--store", db],
                           input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert result.output == "added li (operator)\n"
    again = runner.invoke(users_cli, ["add", "li", "--role", "admin", "--password-stdin", "--store", db],
                          input=PASSWORD + "\n")
    assert again.exit_code == 1 and again.output == "Error: user 'li' already exists\n"
    assert runner.invoke(users_cli, ["set-role", "li", "admin", "--store", db]).exit_code == 0
    listed = runner.invoke(users_cli, ["list", "--store", db])
    assert listed.output == "li\tadmin\n"
    users = UserStore(db)
    assert users.verify("li", PASSWORD) is not None
    assert [e.action for e in users.audit_log()] == ["user changed", "user added"]


@pytest.mark.parametrize(("args", "code", "message"), [
    (["add", "li", "--role", "root"], 2, "Invalid value for '--role': 'root' is not one of"),
    (["add", "li lu", "--role", "viewer"], 2, "Invalid value for 'NAME': 1-64 letters"),
    (["add", "li", "--role", "viewer", "--password-stdin"], 1, "Error: the password must have at least 8"),
    (["set-role", "nobody", "admin"], 1, "Error: no user 'nobody'"),
])
def test_cli_errors(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    result = CliRunner().invoke(users_cli, [*args, "--store", str(tmp_path / "d.db")], input="short\n")
    assert result.exit_code == code, result.output
    assert message in result.output


def test_dcops_has_the_users_command() -> None:
    from dcops.cli import main

    result = CliRunner().invoke(main, ["users", "--help"])
    assert result.exit_code == 0 and "viewer < operator < admin" in result.output
