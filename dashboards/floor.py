"""The floor plan: every rack on its room's grid, coloured by inlet temperature, with its power draw.

The colour is a band of whole degrees (`heat`, 14-36 °C) that panel.css
paints from blue through green (ASHRAE's recommended 18-27 °C) to red; the
server renders it and panel.js updates it from /api/floor, so the plan is
complete without JavaScript and a click on a rack opens it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, render_template

from .data import get_snapshot, lang, memo
from .i18n import gettext
from .snapshot import Snapshot
from .summary import rack_view

bp = Blueprint("floor", __name__)
NAV = ("floor.index", "Floor plan")

HEAT_MIN, HEAT_MAX = 14, 36
RECOMMENDED = (18.0, 27.0)  # ASHRAE TC 9.9 recommended inlet range


def heat(celsius: float | None) -> str:
    """The colour band of an inlet temperature ('' when unknown)."""
    if celsius is None:
        return ""
    return str(min(HEAT_MAX, max(HEAT_MIN, round(celsius))))


def band(celsius: float | None) -> str:
    if celsius is None:
        return "nodata"
    if celsius < RECOMMENDED[0]:
        return "cold"
    if celsius <= RECOMMENDED[1]:
        return "ok"
    return "warm" if celsius <= 32 else "hot"


@dataclass
class Cell:
    name: str
    row: int
    column: int
    status: str
    status_label: str
    in_use: bool
    inlet_celsius: float | None
    heat: str
    band: str
    power_kw: float | None
    budget_kw: float
    load_percent: float | None


@dataclass
class Room:
    name: str
    label: str
    area_m2: float
    rows: int
    columns: int
    racks: int
    in_use: int
    inlet_min: float | None
    inlet_max: float | None
    power_kw: float | None
    cells: list[Cell] = field(default_factory=list)


@dataclass
class FloorView:
    rooms: list[Room]
    heat_min: int = HEAT_MIN
    heat_max: int = HEAT_MAX


def floor_view(snap: Snapshot, language: str) -> FloorView:
    inv = snap.inventory
    rooms = []
    for loc in inv.locations.values():
        cells = []
        for rack in sorted((r for r in inv.racks.values() if r.location == loc.name),
                           key=lambda r: (r.row, r.column)):
            v = rack_view(snap, rack.name, language)
            cells.append(Cell(
                name=rack.name, row=rack.row, column=rack.column, status=rack.status,
                status_label=gettext(rack.status, language), in_use=rack.in_use,
                inlet_celsius=v.inlet_celsius, heat=heat(v.inlet_celsius), band=band(v.inlet_celsius),
                power_kw=v.power_kw, budget_kw=rack.power_budget_kw, load_percent=v.load_percent))
        temps = [c.inlet_celsius for c in cells if c.inlet_celsius is not None]
        powers = [c.power_kw for c in cells if c.power_kw is not None]
        rooms.append(Room(
            name=loc.name, label=loc.label, area_m2=loc.area_m2, rows=loc.rows, columns=loc.columns,
            racks=len(cells), in_use=sum(1 for c in cells if c.in_use),
            inlet_min=min(temps, default=None), inlet_max=max(temps, default=None),
            power_kw=sum(powers) if powers else None, cells=cells))
    return FloorView(rooms=rooms)


@bp.get("/floor")
def index() -> str:
    view = memo(("floor", lang()), lambda: floor_view(get_snapshot(), lang()))
    return render_template("floor/index.html", floor=view)
