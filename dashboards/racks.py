"""Racks: every rack of each machine room, and one rack: elevation, feeds A/B, failover, sensors' charts."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, abort, render_template

from dcops.types import ENV, PDU

from . import summary
from .data import _, get_snapshot, lang
from .i18n import class_text, metric_text
from .powerchain import RackPower, rack_power
from .snapshot import PDU_POWER, Snapshot

bp = Blueprint("racks", __name__)
NAV = ("racks.index", "Racks")
CHARTED = {ENV: ("env_temperature_celsius", "env_humidity_ratio"), PDU: (PDU_POWER,)}


@dataclass
class RackDevice:
    name: str
    label: str
    device_class: str
    class_label: str
    position: int | None
    u_height: int
    status: str
    status_label: str
    power_kw: float | None


@dataclass
class Slot:
    """One row of the elevation: U `u`, the device whose top is there (spanning `span` U) or empty."""

    u: int
    device: str | None
    span: int


@dataclass
class ChartRef:
    series: int
    device: str
    metric: str
    title: str
    unit: str


@dataclass
class RackDetail:
    rack: summary.RackView
    power: RackPower
    devices: list[RackDevice]
    elevation: list[Slot]
    zero_u: list[str]
    charts: list[ChartRef] = field(default_factory=list)


def rack_devices(snap: Snapshot, rack: str) -> list[RackDevice]:
    rows = []
    for d in sorted(snap.inventory.devices_in(rack), key=lambda d: (-(d.position or 0), d.name)):
        st = snap.states[d.name]
        power = snap.value([d], PDU_POWER, sum) if d.device_class == PDU else None
        rows.append(RackDevice(
            name=d.name, label=d.label, device_class=d.device_class, class_label=class_text(d.device_class, lang()),
            position=d.position, u_height=d.u_height, status=st.status,
            status_label=summary.status_label(st, lang()), power_kw=None if power is None else power / 1000,
        ))
    return rows


def elevation(height: int, devices: list[RackDevice]) -> list[Slot]:
    top = {d.position + d.u_height - 1: d for d in devices if d.position}
    slots, u = [], height
    while u >= 1:
        dev = top.get(u)
        if dev is not None:
            span = min(dev.u_height, u)
            slots.append(Slot(u=u, device=dev.name, span=span))
            u -= span
        else:
            slots.append(Slot(u=u, device=None, span=1))
            u -= 1
    return slots


def chart_refs(snap: Snapshot, rack: str) -> list[ChartRef]:
    from .history import get_rollups

    refs = []
    rollups = get_rollups()
    for dev in snap.inventory.devices_in(rack):
        metrics = CHARTED.get(dev.device_class, ())
        for info in rollups.series(dev.name):
            if info.metric in metrics:
                labels = " ".join(v for _, v in info.labels)
                title = f"{dev.label or dev.name} · {metric_text(info.metric, lang())} {labels}".strip()
                refs.append(ChartRef(series=info.id, device=dev.name, metric=info.metric, title=title,
                                     unit=info.unit))
    return refs


def rack_detail(snap: Snapshot, name: str) -> RackDetail:
    if name not in snap.inventory.racks:
        abort(404, description=f"{_('No such rack')}: {name}")
    rack = snap.inventory.racks[name]
    devices = rack_devices(snap, name)
    return RackDetail(
        rack=summary.rack_view(snap, name, lang()), power=rack_power(snap, name, lang()), devices=devices,
        elevation=elevation(rack.u_height, devices), zero_u=[d.name for d in devices if d.position == 0],
        charts=chart_refs(snap, name))


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
    view = rack_detail(snap, name)
    inv = snap.inventory
    return render_template("racks/detail.html", d=view, rack=view.rack,
                           location=inv.locations.get(inv.racks[name].location),
                           devices={dv.name: dv for dv in view.devices})
