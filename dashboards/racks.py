"""Racks: every rack of each machine room, and one rack with its feeds and devices."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, render_template

from dcops.types import PDU

from . import summary
from .data import _, get_snapshot, lang
from .i18n import class_text
from .snapshot import PDU_POWER, Snapshot

bp = Blueprint("racks", __name__)
NAV = ("racks.index", "Racks")


@dataclass
class RackDevice:
    name: str
    label: str
    class_label: str
    position: int | None
    u_height: int
    status: str
    status_label: str
    power_kw: float | None


def rack_devices(snap: Snapshot, rack: str) -> list[RackDevice]:
    rows = []
    for d in sorted(snap.inventory.devices_in(rack), key=lambda d: (-(d.position or 0), d.name)):
        st = snap.states[d.name]
        power = snap.value([d], PDU_POWER, sum) if d.device_class == PDU else None
        rows.append(RackDevice(
            name=d.name, label=d.label, class_label=class_text(d.device_class, lang()), position=d.position,
            u_height=d.u_height, status=st.status, status_label=summary.status_label(st, lang()),
            power_kw=None if power is None else power / 1000,
        ))
    return rows


@bp.get("/racks")
def index() -> str:
    snap = get_snapshot()
    rows = summary.racks(snap, lang())
    locations = [(loc, [r for r in rows if r.location == loc.name])
                 for loc in snap.inventory.locations.values()]
    return render_template("racks/index.html", locations=locations)


@bp.get("/racks/<name>")
def detail(name: str) -> str:
    snap = get_snapshot()
    if name not in snap.inventory.racks:
        abort(404, description=f"{_('No such rack')}: {name}")
    inv = snap.inventory
    feeds = [(f, inv.panels.get(f.panel)) for f in inv.feeds_of(name)]
    return render_template(
        "racks/detail.html", rack=summary.rack_view(snap, name, lang()),
        location=inv.locations.get(inv.racks[name].location), feeds=feeds,
        devices=rack_devices(snap, name),
    )
