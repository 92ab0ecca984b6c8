"""Cooling: each air conditioner's state, supply and return air, and the room's temperature spread."""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import mean

from flask import Blueprint, render_template

from dcops.types import COOLING

from .data import get_snapshot, lang
from .i18n import gettext, state_text
from .snapshot import Snapshot
from .summary import RackTemp

bp = Blueprint("cooling", __name__)
NAV = ("cooling.index", "Cooling")

RUNNING = "on"


@dataclass
class UnitView:
    name: str
    label: str
    status: str
    mode: str
    mode_label: str
    running: bool
    supply_celsius: float | None
    return_celsius: float | None
    delta_celsius: float | None
    fan_percent: float | None
    output_kw: float | None
    rating_kw: float | None
    alarms: float | None


@dataclass
class CoolingView:
    units: list[UnitView]
    running: int
    capacity_kw: float | None
    inlet_min: float | None
    inlet_max: float | None
    inlet_avg: float | None
    spread_celsius: float | None
    humidity_min: float | None
    humidity_max: float | None
    hottest: str | None
    coldest: str | None
    racks: list[RackTemp] = field(default_factory=list)


def unit_view(snap: Snapshot, name: str, language: str) -> UnitView:
    dev = snap.inventory.devices[name]
    mode = snap.text(name, "cooling_operate_mode")
    supply = snap.value([dev], "cooling_supply_air_temperature_celsius")
    ret = snap.value([dev], "cooling_return_air_temperature_celsius")
    fan = snap.value([dev], "cooling_fan_speed_ratio")
    out = snap.value([dev], "cooling_output_watts")
    return UnitView(
        name=name, label=dev.label, status=snap.states[name].status, mode=mode or "nodata",
        mode_label=state_text(mode, language) if mode else gettext("No data", language),
        running=mode == RUNNING, supply_celsius=supply, return_celsius=ret,
        delta_celsius=None if supply is None or ret is None else ret - supply,
        fan_percent=None if fan is None else fan * 100, output_kw=None if out is None else out / 1000,
        rating_kw=dev.rating, alarms=snap.value([dev], "cooling_active_alarms"))


def cooling_view(snap: Snapshot, language: str) -> CoolingView:
    inv = snap.inventory
    units = [unit_view(snap, d.name, language) for d in inv.devices_of(COOLING)]
    temps = sorted(((name, t) for name in inv.racks if (t := snap.rack_inlet(name)) is not None),
                   key=lambda x: x[1])
    hums = [h * 100 for name in inv.racks if (h := snap.rack_humidity(name)) is not None]
    values = [t for _, t in temps]
    ratings = [u.rating_kw for u in units if u.running]
    return CoolingView(
        units=units, running=sum(1 for u in units if u.running),
        capacity_kw=sum(r for r in ratings if r is not None) if ratings else None,
        inlet_min=values[0] if values else None, inlet_max=values[-1] if values else None,
        inlet_avg=mean(values) if values else None,
        spread_celsius=values[-1] - values[0] if values else None,
        humidity_min=min(hums, default=None), humidity_max=max(hums, default=None),
        hottest=temps[-1][0] if temps else None, coldest=temps[0][0] if temps else None,
        racks=[RackTemp(name, t) for name, t in temps])


@bp.get("/cooling")
def index() -> str:
    return render_template("cooling/index.html", cool=cooling_view(get_snapshot(), lang()))
