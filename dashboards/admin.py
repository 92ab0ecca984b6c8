"""Administration (admin role): the panel's users and the audit trail of privileged actions."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from .auth import audit, current_user, get_users, require_role
from .data import get_inventory
from .fmt import when
from .users import ADMIN, MIN_PASSWORD, NAME_PATTERN, ROLES, UserError

bp = Blueprint("admin", __name__, url_prefix="/admin")
NAV = ("admin.users", "Users", ADMIN)


def role_choices() -> list[tuple[str, str]]:
    return [(r, _(r)) for r in ROLES]


class AddUserForm(FlaskForm):
    name = StringField(_l("User name"), validators=[DataRequired(), Regexp(NAME_PATTERN)])
    role = SelectField(_l("Role"), choices=ROLES)
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=MIN_PASSWORD, max=256)])


class ChangeUserForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLES)
    disabled = BooleanField(_l("Disabled"))
    password = PasswordField(_l("New password"), validators=[Length(max=256)])


@bp.get("/users")
@require_role(ADMIN)
def users() -> str:
    add = AddUserForm()
    add.role.choices = role_choices()
    change = ChangeUserForm()
    change.role.choices = role_choices()
    tz = get_inventory().site.timezone
    return render_template("admin/users.html", users=get_users().all(), add=add, change=change,
                           created={u.name: when(u.created, tz) for u in get_users().all()})


@bp.post("/users")
@require_role(ADMIN)
def add_user() -> ResponseReturnValue:
    form = AddUserForm()
    form.role.choices = role_choices()
    if not form.validate_on_submit():
        flash(_("Check the form: %(errors)s", errors="; ".join(
            f"{form[f].label.text}: {', '.join(map(str, e))}" for f, e in form.errors.items())), "error")
        return redirect(url_for("admin.users"))
    try:
        user = get_users().add(form.name.data or "", form.role.data or "", form.password.data or "")
    except UserError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.users"))
    audit("user added", user.name, f"role={user.role}")
    flash(_("User %(name)s added.", name=user.name), "ok")
    return redirect(url_for("admin.users"))


@bp.post("/users/<name>")
@require_role(ADMIN)
def change_user(name: str) -> ResponseReturnValue:
    form = ChangeUserForm()
    form.role.choices = role_choices()
    store = get_users()
    user = store.get(name)
    if user is None or not form.validate_on_submit():
        flash(_("No such user or an invalid form."), "error")
        return redirect(url_for("admin.users"))
    me = current_user()
    if me is not None and me.name == name and (form.role.data != ADMIN or form.disabled.data):
        flash(_("You cannot lower or disable your own account."), "error")
        return redirect(url_for("admin.users"))
    try:
        changes = []
        if form.role.data and form.role.data != user.role:
            store.set_role(name, form.role.data)
            changes.append(f"role={form.role.data}")
        if bool(form.disabled.data) != user.disabled:
            store.set_disabled(name, bool(form.disabled.data))
            changes.append(f"disabled={bool(form.disabled.data)}")
        if form.password.data:
            store.set_password(name, form.password.data)
            changes.append("password reset")
    except UserError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.users"))
    if changes:
        audit("user changed", name, ", ".join(changes))
        flash(_("User %(name)s changed.", name=name), "ok")
    return redirect(url_for("admin.users"))


@bp.get("/audit")
@require_role(ADMIN)
def audit_log() -> str:
    actor = request.args.get("actor") or None
    tz = get_inventory().site.timezone
    entries = get_users().audit_log(limit=500, actor=actor)
    return render_template("admin/audit.html", entries=entries, actor=actor,
                           times={e.id: when(e.ts, tz) for e in entries})
