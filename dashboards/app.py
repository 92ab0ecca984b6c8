"""The machine-room panel: `create_app()` like the Flask tutorial's factory.

Configuration (all optional; tests pass them as `test_config`):

- `INVENTORY`: an `Inventory` (or a directory to load); default the reference site.
- `STORE`: a `Store`; or `STORE_PATH` to open one (default `var/dcops.db` under the cwd).
- `METRICS`: a callable returning `(body_bytes, content_type)` served at /metrics.
- `CLOCK`: a callable returning the time (default `time.time`).
- `STALE_AFTER`: seconds after which a device's last report is stale (default 180).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, jsonify, render_template, request
from markupsafe import Markup, escape
from werkzeug.exceptions import NotFound

from inventory import REFERENCE_DIR, load_inventory

from . import api, devices, i18n, metrics, overview, racks
from .data import _, get_inventory, lang, now
from .fmt import num, when

DEFAULT_STALE_AFTER = 180.0
COOKIE_MAX_AGE = 365 * 86400
# Everything a page needs is served by the app itself: no CDN, no external font.
CSP = "default-src 'self'; img-src 'self' data:; base-uri 'self'; form-action 'self'"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        INVENTORY=None,
        STORE=None,
        STORE_PATH=str(Path.cwd() / "var" / "dcops.db"),
        METRICS=None,
        CLOCK=time.time,
        STALE_AFTER=DEFAULT_STALE_AFTER,
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(test_config)
    inv = app.config["INVENTORY"]
    if inv is None or isinstance(inv, str | Path):
        app.config["INVENTORY"] = load_inventory(REFERENCE_DIR if inv is None else inv)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Chinese stays readable

    for module in (overview, racks, devices, api, metrics):
        app.register_blueprint(module.bp)
    _install_language(app)
    _install_templates(app)
    app.register_error_handler(404, not_found)
    return app


def _install_language(app: Flask) -> None:
    @app.before_request
    def choose_language() -> None:
        g.lang = i18n.pick(request.args.get("lang"), request.cookies.get(i18n.COOKIE))

    @app.after_request
    def remember_language(resp: Response) -> Response:
        asked = request.args.get("lang")
        if asked in i18n.LANGUAGES and request.cookies.get(i18n.COOKIE) != asked:
            resp.set_cookie(i18n.COOKIE, asked, max_age=COOKIE_MAX_AGE, samesite="Lax",
                            httponly=True)
        resp.vary.add("Cookie")
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        return resp


def key(*path: str, digits: int | None = None) -> Markup:
    """`data-key` (and `data-digits`): where panel.js finds this value in the API's JSON."""
    attrs = f' data-key="{escape(json.dumps(list(path), ensure_ascii=False))}"'
    if digits is not None:
        attrs += f' data-digits="{digits}"'
    return Markup(attrs)


def state_key(*path: str) -> Markup:
    """A `data-state-key` attribute: panel.js copies that JSON value into `data-state`."""
    return Markup(f' data-state-key="{escape(json.dumps(list(path), ensure_ascii=False))}"')


def _install_templates(app: Flask) -> None:
    app.jinja_env.globals.update(_=_, num=num, key=key, state_key=state_key)

    @app.context_processor
    def panel_context() -> dict[str, Any]:
        current = lang()
        site = get_inventory().site
        return {
            "lang": current,
            "other_lang": i18n.EN if current == i18n.ZH else i18n.ZH,
            "site": site,
            "time_text": when(now(), site.timezone),
        }


def not_found(err: NotFound) -> tuple[Any, int]:
    message = err.description if err.description != NotFound.description else _("Page not found")
    if request.path.startswith("/api/"):
        return jsonify(error=message), 404
    return render_template("errors/404.html", message=message), 404
