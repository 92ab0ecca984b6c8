"""Alerts: open incidents (firing, acknowledged), pending and silenced alerts, history, a timeline per
incident; operators acknowledge and silence here.

The page reads the alert tables the engine keeps in the same store file
(alerts/state.py). An acknowledgement is left as a command that the engine
applies on its next tick (within a second under `dcops run`); a silence is
written at once and the engine reads it within a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange

from alerts.format import CATEGORY, SEVERITY
from alerts.matchers import MatcherError, match_all, parse_matchers
from alerts.rules import load_rules, parse_duration
from alerts.service import paths
from alerts.state import CLOSED, FAILED, OPEN, AlertStore, IncidentRow

from .auth import audit, current_user, require_role
from .data import get_inventory, get_store, lang, now
from .fmt import when
from .users import OPERATOR

bp = Blueprint("alerts", __name__)
NAV = ("alerts.index", "Alerts")
KEY = "dcops.alerts"


class AckForm(FlaskForm):
    incident = IntegerField(validators=[InputRequired(), NumberRange(min=1)])
    note = StringField(_l("Note"), validators=[Length(max=500)])


class SilenceForm(FlaskForm):
    matchers = TextAreaField(_l("Matchers"), validators=[InputRequired(), Length(max=2000)])
    duration = StringField(_l("Silence for"), default="2h", validators=[InputRequired(), Length(max=20)])
    reason = StringField(_l("Reason"), validators=[InputRequired(), Length(max=500)])


class ExpireForm(FlaskForm):
    silence = IntegerField(validators=[InputRequired(), NumberRange(min=1)])


def alert_store() -> AlertStore:
    st = current_app.extensions.get(KEY)
    if st is None:
        st = current_app.extensions[KEY] = AlertStore(get_store().path)
    return st  # type: ignore[no-any-return]


def rule_meta() -> dict[str, tuple[str, str]]:
    """Each rule's (severity, category), read once."""
    meta = current_app.extensions.get(KEY + ".rules")
    if meta is None:
        meta = current_app.extensions[KEY + ".rules"] = {
            r.name: (r.severity, r.category) for r in load_rules(paths()[0]).rules}
    return meta  # type: ignore[no-any-return]


@dataclass
class AlertRow:
    key: str
    rule: str
    state: str
    severity: str
    category: str
    labels: dict[str, str]
    value: float
    since: str
    incident: int
    latched: bool
    acked: bool
    silenced_by: int


@dataclass
class IncidentView:
    row: IncidentRow
    opened: str
    alerts: list[AlertRow] = field(default_factory=list)
    resolved: str = ""


def _view() -> dict[str, Any]:
    st, t, tz = alert_store(), now(), get_inventory().site.timezone
    meta = rule_meta()
    silences = []
    for s in st.silences(active_at=t):
        try:
            silences.append((s, parse_matchers(s.matchers)))
        except MatcherError:
            continue
    alerts: list[AlertRow] = []
    for row in st.alerts():
        severity, category = meta.get(row["rule"], ("", ""))
        full = {**row["labels"], "alertname": row["rule"], "severity": severity, "category": category}
        silenced = next((s.id for s, m in silences if match_all(m, full)), 0)
        alerts.append(AlertRow(row["key"], row["rule"], row["state"], severity, category, row["labels"],
                               row["value"], when(row["fired_at"] or row["active_since"], tz), row["incident"],
                               row["latched"], row["acked"], silenced))
    open_incidents = [IncidentView(i, when(i.opened_at, tz)) for i in st.incidents(state=OPEN)]
    by_id = {i.row.id: i for i in open_incidents}
    for a in alerts:
        if a.incident in by_id and a.state == "firing":
            by_id[a.incident].alerts.append(a)
    history = [IncidentView(i, when(i.opened_at, tz), resolved=when(i.resolved_at, tz))
               for i in st.incidents(state=CLOSED, limit=50)]
    return {
        "firing": [i for i in open_incidents if not i.row.acked_by],
        "acknowledged": [i for i in open_incidents if i.row.acked_by],
        "pending": [a for a in alerts if a.state == "pending"],
        "silenced": [a for a in alerts if a.silenced_by],
        "silences": [(s, when(s.ends, tz)) for s, _ in silences],
        "history": history,
        "failed": st.outbox(status=FAILED, limit=20),
        "severity_text": SEVERITY if lang() == "zh-CN" else {k: k for k in SEVERITY},
        "category_text": CATEGORY if lang() == "zh-CN" else {k: k for k in CATEGORY},
    }


@bp.get("/alerts")
def index() -> str:
    return render_template("alerts/index.html", ack_form=AckForm(), silence_form=SilenceForm(),
                           expire_form=ExpireForm(), **_view())


@bp.get("/alerts/incident/<int:incident>")
def incident(incident: int) -> str:
    st, tz = alert_store(), get_inventory().site.timezone
    row = st.incident(incident)
    if row is None:
        abort(404, _("No such incident"))
    events = [(when(ts, tz), alert, event, detail) for ts, _i, alert, event, detail in st.timeline(incident=incident)]
    deliveries = [(when(d.created, tz), d) for d in st.outbox(incident=incident)]
    return render_template("alerts/incident.html", incident=row, opened=when(row.opened_at, tz),
                           resolved=when(row.resolved_at, tz) if row.resolved_at else "", events=events,
                           deliveries=deliveries, ack_form=AckForm())


def _actor() -> str:
    user = current_user()
    return user.name if user else "-"


@bp.post("/alerts/ack")
@require_role(OPERATOR)
def ack() -> ResponseReturnValue:
    form = AckForm()
    if not form.validate_on_submit() or form.incident.data is None:
        flash(_("Name the incident to acknowledge."), "error")
        return redirect(url_for("alerts.index"))
    st, iid = alert_store(), int(form.incident.data)
    row = st.incident(iid)
    if row is None or row.state != OPEN:
        flash(_("Incident %(id)d is not open.", id=iid), "error")
        return redirect(url_for("alerts.index"))
    note = (form.note.data or "").strip()
    st.add_command("ack", {"incident": iid, "by": _actor(), "note": note})
    audit("acknowledge", f"incident {iid}", note)
    flash(_("Acknowledgement of incident %(id)d recorded.", id=iid), "ok")
    return redirect(url_for("alerts.incident", incident=iid))


@bp.post("/alerts/silence")
@require_role(OPERATOR)
def silence() -> ResponseReturnValue:
    form = SilenceForm()
    if not form.validate_on_submit():
        flash(_("Give matchers, a duration and a reason."), "error")
        return redirect(url_for("alerts.index"))
    texts = [t.strip() for t in (form.matchers.data or "").replace(",", "\n").splitlines() if t.strip()]
    try:
        parse_matchers(texts)
    except MatcherError as exc:
        flash(str(exc), "error")
        return redirect(url_for("alerts.index"))
    seconds = parse_duration(form.duration.data or "")
    if not seconds:
        flash(_("%(value)s is not a duration (like 30m, 2h, 1d).", value=repr(form.duration.data)), "error")
        return redirect(url_for("alerts.index"))
    t = now()
    sid = alert_store().add_silence(texts, t, t + seconds, _actor(), (form.reason.data or "").strip())
    audit("silence", ", ".join(texts), form.reason.data or "")
    flash(_("Silence %(id)d added.", id=sid), "ok")
    return redirect(url_for("alerts.index"))


@bp.post("/alerts/silence/expire")
@require_role(OPERATOR)
def expire() -> ResponseReturnValue:
    form = ExpireForm()
    if not form.validate_on_submit() or form.silence.data is None:
        flash(_("Name the silence to end."), "error")
        return redirect(url_for("alerts.index"))
    sid = int(form.silence.data)
    if not alert_store().expire_silence(sid, now()):
        flash(_("Silence %(id)d is not active.", id=sid), "error")
    else:
        audit("expire silence", f"silence {sid}")
        flash(_("Silence %(id)d ended.", id=sid), "ok")
    return redirect(url_for("alerts.index"))
