"""Devices: the list of every polled device, and one device with its last poll and readings."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from . import summary
from .data import _, get_snapshot, lang
from .detail import device_view

bp = Blueprint("devices", __name__)
NAV = ("devices.index", "Devices")


@bp.get("/devices")
def index() -> str:
    snap = get_snapshot()
    views = [device_view(snap, name, lang()) for name in sorted(snap.inventory.devices)]
    return render_template("devices/index.html", devices=views,
                           counts=snap.counts, health=summary.health(snap.counts))


@bp.get("/devices/<name>")
def detail(name: str) -> str:
    snap = get_snapshot()
    if name not in snap.inventory.devices:
        abort(404, description=f"{_('No such device')}: {name}")
    return render_template("devices/detail.html", dev=device_view(snap, name, lang()))
