"""The JSON API against its OpenAPI document: schemathesis finds no 500 and no answer off the schema.

The app runs in-process (WSGI) over test_panel's store plus a day of history;
every generated request carries a viewer's session cookie, and the document
itself is read through the same login.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
import test_panel
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import ignored_auth, negative_data_rejection
from test_panel import NOW, POLLS, fill

from dashboards import create_app
from dashboards.users import UserStore
from dcops.types import Sample
from inventory import REFERENCE_DIR, load_inventory
from outputs.store import Store

STORE = Store(Path(tempfile.mkdtemp(prefix="dcops-api-")) / "dcops.db", clock=lambda: NOW)
fill(STORE, POLLS)
STORE.write([Sample("probe-A01", "env_temperature_celsius", 20 + (i % 12) / 4, NOW - i * 300, "celsius",
                    (("sensor_index", "1"), ("sensor", "inlet"))) for i in range(288)])
UserStore(STORE.path).add("ops", "viewer", "correct horse battery")
APP = create_app({"INVENTORY": load_inventory(REFERENCE_DIR), "STORE": STORE, "CLOCK": lambda: NOW,
                  "TESTING": True})


def session_cookie() -> dict[str, str]:
    serializer = APP.session_interface.get_signing_serializer(APP)  # type: ignore[attr-defined]
    user = UserStore(STORE.path).get("ops")
    assert serializer is not None and user is not None
    return {APP.config["SESSION_COOKIE_NAME"]: serializer.dumps({"user": user.name, "v": user.version})}


COOKIES = session_cookie()


def load_schema() -> schemathesis.BaseSchema:
    """The document as /api/openapi.json serves it to a logged-in user, bound to the WSGI app."""
    client = APP.test_client()
    for name, value in COOKIES.items():
        client.set_cookie(name, value)
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200
    loaded = schemathesis.openapi.from_dict(resp.get_json())
    loaded.app = APP
    return loaded


schema = load_schema()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_to_its_schema(case: schemathesis.Case) -> None:
    # Every request carries the session cookie, so the checks that drop authentication to see it
    # refused cannot apply here; test_panel_auth.py proves every /api route refuses a request without it.
    case.call_and_validate(cookies=COOKIES, excluded_checks=[ignored_auth, negative_data_rejection])


def test_the_document_names_every_api_route() -> None:
    documented = set(schema.raw_schema["paths"])
    routes = {r.rule.replace("<name>", "{name}") for r in APP.url_map.iter_rules()
              if r.rule.startswith("/api/") and r.rule != "/api/openapi.json"}
    assert routes <= documented, routes - documented


def test_the_document_needs_a_login() -> None:
    assert APP.test_client().get("/api/openapi.json").status_code == 401


@pytest.fixture(autouse=True, scope="module")
def _keep_fixtures_importable() -> None:
    assert test_panel.NOW == NOW
