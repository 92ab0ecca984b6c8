"""Access control: every endpoint needs a logged-in user unless it is on the allowlist.

How a page of another area stays safe without doing anything:

- `install(app)` adds an app-wide `before_request` guard. An endpoint not in
  `PUBLIC_ENDPOINTS` (login, static files, /api/health) answers an anonymous
  request with a redirect to the login page (HTML) or a JSON 401 (under
  /api/). /metrics is public unless `METRICS_TOKEN` is configured, then it
  needs `Authorization: Bearer <token>`.
- Viewing needs the `viewer` role; an action needs more, declared with
  `@require_role("operator")` (or `"admin"`) under the route decorator. The
  decorator answers 403 to a lower role and records the role on the view
  (`view.required_role`), so the test suite checks every such action.
- Every state-changing request (POST, PUT, PATCH, DELETE) needs a CSRF
  token (flask-wtf's CSRFProtect, app-wide): forms carry
  `{{ csrf_token() }}`, scripts send the `X-CSRFToken` header with the value
  of `<meta name="csrf-token">` from base.html.
- `audit(action, target, detail)` records who did a privileged action.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any, Final, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from .i18n import lazy_gettext as _l
from .users import ROLES, VIEWER, User, UserStore

bp = Blueprint("auth", __name__)

PUBLIC_ENDPOINTS: Final = frozenset({"auth.login", "static", "api.health"})
TOKEN_ENDPOINTS: Final = frozenset({"metrics.index"})
USERS_KEY: Final = "dcops.users"

F = TypeVar("F", bound=Callable[..., Any])


def get_users() -> UserStore:
    """The configured UserStore (`USERS`), or one on the store's database, opened once."""
    users = current_app.config.get("USERS")
    if users is not None:
        return cast(UserStore, users)
    opened = current_app.extensions.get(USERS_KEY)
    if opened is None:
        from .data import get_store

        opened = current_app.extensions[USERS_KEY] = UserStore(get_store().path, clock=current_app.config["CLOCK"])
    return cast(UserStore, opened)


def current_user() -> User | None:
    """The logged-in user of this request (None when anonymous)."""
    if "user" not in g:
        g.user = None
        name, version = session.get("user"), session.get("v")
        if isinstance(name, str):
            user = get_users().get(name)
            if user is not None and not user.disabled and user.version == version:
                g.user = user
    return cast(User | None, g.user)


def has_role(role: str) -> bool:
    user = current_user()
    return user is not None and user.has(role)


def require_role(role: str) -> Callable[[F], F]:
    """Refuse (403) a user below `role`; put it under the `@bp.post(...)` decorator."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not has_role(role):
                abort(403)
            return view(*args, **kwargs)

        guarded.required_role = role  # type: ignore[attr-defined]
        return cast(F, guarded)

    return decorate


def client_address() -> str:
    return request.remote_addr or ""


def audit(action: str, target: str = "", detail: str = "") -> None:
    """Record a privileged action by the current user."""
    user = current_user()
    get_users().audit(user.name if user else "-", action, target, detail, client_address())


def _metrics_token_ok() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        return True
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def guard() -> ResponseReturnValue | None:
    endpoint = request.endpoint
    if endpoint in PUBLIC_ENDPOINTS:
        return None
    if endpoint in TOKEN_ENDPOINTS:
        if _metrics_token_ok():
            return None
        return jsonify(error="bearer token required"), 401, {"WWW-Authenticate": 'Bearer realm="dcops"'}
    if current_user() is not None and has_role(VIEWER):
        return None
    if request.path.startswith("/api/"):
        return jsonify(error=_("Login required")), 401
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("auth.login", next=target))


def install(app: Flask) -> None:
    app.before_request(guard)

    @app.context_processor
    def auth_context() -> dict[str, Any]:
        return {"current_user": current_user(), "has_role": has_role}


def safe_next(target: str | None) -> str:
    """Only a path on this site: never `//host` or `https://host`, which would be an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("overview.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("overview.index")
    return target


class LoginForm(FlaskForm):
    name = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])
    next = HiddenField()


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        return render_template("auth/login.html", form=form)
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400
    users = get_users()
    name, address = form.name.data or "", client_address()
    wait = users.locked_for(name, address)
    if wait > 0:
        users.audit(name, "login refused", detail=f"throttled for {wait:.0f} s", address=address)
        flash(_("Too many failed logins. Try again in %(minutes)d minutes.", minutes=int(wait // 60) + 1),
              "error")
        return render_template("auth/login.html", form=form), 429, {"Retry-After": str(int(wait) + 1)}
    user = users.verify(name, form.password.data or "")
    if user is None:
        users.record_failure(name, address)
        users.audit(name, "login failed", address=address)
        flash(_("Wrong user name or password."), "error")
        return render_template("auth/login.html", form=form), 401
    users.clear_failures(name)
    session.clear()
    session.permanent = True
    session["user"], session["v"] = user.name, user.version
    users.audit(user.name, "login", address=address)
    return redirect(safe_next(form.next.data))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    user = current_user()
    if user is not None:
        get_users().audit(user.name, "logout", address=client_address())
    session.clear()
    return redirect(url_for("auth.login"))
