"""The machine-room panel: `create_app()` like the Flask tutorial's factory.

Configuration (all optional; tests pass them as `test_config`; in service
any key can come from the environment as `DCOPS_PANEL_<KEY>`):

- `INVENTORY`: an `Inventory` (or a directory to load); default the reference site.
- `STORE`: a `Store`; or `STORE_PATH` to open one (default `var/dcops.db` under the cwd).
- `USERS`: a `UserStore`; default one on the store's database.
- `METRICS`: a callable returning `(body_bytes, content_type)` served at /metrics.
- `METRICS_TOKEN`: when set, /metrics needs `Authorization: Bearer <token>`.
- `SECRET_KEY`: signs the session cookie; default a key generated once and kept
  in the store's database (so sessions survive a restart).
- `SESSION_COOKIE_SECURE`: set it when the panel is served over TLS.
- `PERMANENT_SESSION_LIFETIME`: idle time before a login expires (default 8 h;
  an open page refreshes every few seconds and so stays logged in).
- `CLOCK`: a callable returning the time (default `time.time`).
- `STALE_AFTER`: seconds after which a device's last report is stale (default 180).
- `SNAPSHOT_TTL`: seconds a reading of the store is shared between requests (default 5: polls come every
  10-30 s; 0: none).
- `REFRESH_EVERY`: seconds between a page's updates without a reload (default 10).
- `ROLLUP_EVERY`: seconds between runs of the rollup job (default 60; 0: only on history queries).

**Adding a page area**: write `dashboards/<area>.py` with a Blueprint `bp`
(and optionally `NAV = ("<area>.index", "Menu text")` for the top menu), add
one line to `BLUEPRINTS` below. Access control needs nothing more: the guard
in auth.py requires a login for every endpoint, and `@require_role(...)`
marks actions. Translations: see i18n.py.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Mapping
from datetime import timedelta
from importlib import import_module
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from flask import Flask, Response, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException, NotFound

from inventory import REFERENCE_DIR, load_inventory

from . import auth, i18n
from .data import _, get_inventory, lang, now
from .fmt import num, when

# One line per area: a module of this package with a Blueprint `bp` (and an optional NAV).
BLUEPRINTS: Final = (
    ".auth",
    ".overview",
    ".floor",
    ".racks",
    ".power",
    ".cooling",
    ".history",
    ".alerts",
    ".devices",
    ".extranet",
    ".admin",
    ".api",
    ".metrics",
)

DEFAULT_STALE_AFTER = 180.0
COOKIE_MAX_AGE = 365 * 86400
# Everything a page needs is served by the app itself: no CDN, no external font.
CSP = "default-src 'self'; img-src 'self' data:; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
log = logging.getLogger(__name__)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        INVENTORY=None,
        STORE=None,
        STORE_PATH=str(Path.cwd() / "var" / "dcops.db"),
        USERS=None,
        METRICS=None,
        METRICS_TOKEN=None,
        SECRET_KEY=None,
        CLOCK=time.time,
        STALE_AFTER=DEFAULT_STALE_AFTER,
        ROLLUP_EVERY=60.0,
        REFRESH_EVERY=10,
        SNAPSHOT_TTL=5.0,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,
        SESSION_COOKIE_NAME="dcops_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    )
    app.config.from_prefixed_env("DCOPS_PANEL")
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(test_config)
    inv = app.config["INVENTORY"]
    if inv is None or isinstance(inv, str | Path):
        app.config["INVENTORY"] = load_inventory(REFERENCE_DIR if inv is None else inv)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Chinese stays readable

    i18n.install(app)
    _install_language(app)  # before the guard: a login page is in the user's language too
    auth.install(app)
    CSRFProtect(app)
    nav = []
    for name in BLUEPRINTS:
        module = import_module(name, __package__)
        app.register_blueprint(module.bp)
        if hasattr(module, "NAV"):  # (endpoint, msgid[, lowest role that sees it])
            endpoint, text, *role = module.NAV
            nav.append((endpoint, text, role[0] if role else "viewer"))
    app.config["NAV"] = nav
    _install_templates(app)
    with app.app_context():
        _install_secret_key(app)
    app.register_error_handler(CSRFError, csrf_error)
    app.register_error_handler(HTTPException, http_error)
    return app


def _install_secret_key(app: Flask) -> None:
    if app.config.get("SECRET_KEY"):
        return
    try:
        app.config["SECRET_KEY"] = auth.get_users().secret_key()
    except Exception:  # an unreadable store: the panel still answers /api/health
        log.exception("cannot keep a session key in the store; logins last until the panel stops")
        app.config["SECRET_KEY"] = secrets.token_hex(32)


def _install_language(app: Flask) -> None:
    @app.before_request
    def choose_language() -> None:
        g.lang = i18n.pick(request.args.get("lang"), request.cookies.get(i18n.COOKIE))

    @app.after_request
    def remember_language(resp: Response) -> Response:
        asked = request.args.get("lang")
        if asked in i18n.LANGUAGES and request.cookies.get(i18n.COOKIE) != asked:
            resp.set_cookie(i18n.COOKIE, asked, max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=True,
                            secure=bool(app.config["SESSION_COOKIE_SECURE"]))
        resp.vary.add("Cookie")
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        if resp.mimetype == "text/html" or request.path.startswith("/api/"):
            resp.headers.setdefault("Cache-Control", "no-store")
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


def attrs_key(**paths: list[str]) -> Markup:
    """`data-attrs-key`: panel.js copies each JSON value into the attribute (`data_heat` -> `data-heat`)."""
    spec = {name.replace("_", "-"): list(path) for name, path in paths.items()}
    return Markup(f' data-attrs-key="{escape(json.dumps(spec, ensure_ascii=False))}"')


def _install_templates(app: Flask) -> None:
    app.jinja_env.globals.update(num=num, key=key, state_key=state_key, attrs_key=attrs_key)

    @app.context_processor
    def panel_context() -> dict[str, Any]:
        current = lang()
        site = get_inventory().site
        return {
            "lang": current,
            "other_lang": i18n.EN if current == i18n.ZH else i18n.ZH,
            "site": site,
            "time_text": when(now(), site.timezone),
            "nav": app.config["NAV"],
            "refresh_every": app.config["REFRESH_EVERY"],
            "lang_url": url_for_lang(i18n.EN if current == i18n.ZH else i18n.ZH),
        }


def url_for_lang(target: str) -> str:
    """This page in the other language: the same path and arguments, `lang` replaced."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    return "?" + urlencode([*args, ("lang", target)])


def csrf_error(err: CSRFError) -> tuple[Any, int]:
    return _error(400, _("The form has expired or did not come from this panel. Please try again."))


def http_error(err: HTTPException) -> Any:
    code = err.code or 500
    if code == 404 and err.description == NotFound.description:
        message = _("Page not found")
    elif code == 403:
        message = _("Your role does not allow this.")
    else:
        message = str(err.description)
    body, status = _error(code, message)
    # keep what the exception says besides its body: `Allow` on a 405, `WWW-Authenticate`, ...
    extra = [(k, v) for k, v in err.get_headers() if k.lower() != "content-type"]
    return body, status, extra


def _error(code: int, message: str) -> tuple[Any, int]:
    if request.path.startswith("/api/"):
        return jsonify(error=message), code
    return render_template("errors/error.html", code=code, message=message), code
