"""Power: the chain utility → UPS → feeds → PDUs → racks, headroom at each level, failover, PUE.

An operator may enter the utility meter's reading (kW) when no meter is
polled: PUE = that reading / the IT load (the sum of the rack PDUs). A
reading older than MANUAL_VALID seconds no longer counts.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField
from wtforms.validators import InputRequired, NumberRange

from .auth import audit, current_user, get_users, require_role
from .data import get_snapshot, lang, memo, now
from .fmt import when
from .powerchain import PowerView, power_view
from .users import OPERATOR

bp = Blueprint("power", __name__)
NAV = ("power.index", "Power")
MANUAL_VALID = 24 * 3600.0


class MeterForm(FlaskForm):
    kilowatts = DecimalField(_l("Utility meter (kW)"), places=1,
                             validators=[InputRequired(), NumberRange(min=0.1, max=100000)])


def manual_reading() -> tuple[float | None, str]:
    """The operator's last utility meter reading if recent: (kW, 'time by whom')."""
    reading = get_users().meter_reading()
    if reading is None or now() - reading[0] > MANUAL_VALID:
        return None, ""
    ts, actor, kw = reading
    return kw, f"{when(ts, get_snapshot().inventory.site.timezone)} · {actor}"


def current_power() -> tuple[PowerView, str]:
    manual, note = manual_reading()
    return memo(("power", lang(), str(manual)), lambda: power_view(get_snapshot(), lang(), manual)), note


@bp.get("/power")
def index() -> str:
    view, note = current_power()
    return render_template("power/index.html", power=view, manual_note=note, form=MeterForm())


@bp.post("/power/meter")
@require_role(OPERATOR)
def meter() -> ResponseReturnValue:
    form = MeterForm()
    if not form.validate_on_submit() or form.kilowatts.data is None:
        flash(_("Enter the meter's reading in kW (0.1 to 100000)."), "error")
        return redirect(url_for("power.index"))
    kw = float(form.kilowatts.data)
    user = current_user()
    get_users().add_meter_reading(user.name if user else "-", kw)
    audit("meter reading", "utility", f"{kw:g} kW")
    flash(_("Utility meter reading saved: %(kw)s kW.", kw=f"{kw:g}"), "ok")
    return redirect(url_for("power.index"))
