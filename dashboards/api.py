"""JSON for panel.js and for scripts: everything the pages show, described at /api/openapi.json.

Every route but /api/health needs a login (auth.py); errors are `{"error": text}`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue

import dcops

from . import cooling, floor, fmt, history, openapi, summary
from .data import _, get_inventory, get_snapshot, lang, memo
from .detail import device_view
from .power import current_power
from .racks import rack_detail

bp = Blueprint("api", __name__, url_prefix="/api")
log = logging.getLogger(__name__)


def _stamp(body: dict[str, Any]) -> dict[str, Any]:
    snap = get_snapshot()
    return {"ts": snap.now, "time_text": fmt.when(snap.now, snap.inventory.site.timezone), **body}


def _shared(name: str, build: Callable[[], dict[str, Any]]) -> Response:
    """The answer built and serialised once per reading of the store and language, for every panel open."""
    body = memo(("json", name, lang()), lambda: current_app.json.dumps(_stamp(build())).encode())
    return current_app.response_class(body, mimetype="application/json")


@bp.get("/health")
def health() -> ResponseReturnValue:
    """Always HTTP 200: `degraded` when a device is down or stale, or the store is unreadable."""
    try:
        snap = get_snapshot()
    except Exception as exc:  # a liveness probe answers even when the store does not
        log.exception("health: cannot read the store")
        total = len(get_inventory().devices)
        return jsonify(status="degraded", devices={"total": total, "up": 0, "down": 0,
                                                   "stale": total},
                       last_poll=None, version=dcops.__version__, error=str(exc))
    counts = snap.counts
    return jsonify(status=summary.health(counts), devices=asdict(counts),
                   last_poll=snap.last_poll, version=dcops.__version__)


@bp.get("/overview")
def overview() -> ResponseReturnValue:
    return _shared("overview", lambda: asdict(memo(("overview", lang()),
                                                   lambda: summary.overview(get_snapshot(), lang()))))


@bp.get("/floor")
def floor_plan() -> ResponseReturnValue:
    return _shared("floor", lambda: asdict(memo(("floor", lang()), lambda: floor.floor_view(get_snapshot(), lang()))))


@bp.get("/racks")
def racks() -> ResponseReturnValue:
    return _shared("racks", lambda: {"racks": [asdict(r) for r in summary.racks(get_snapshot(), lang())]})


@bp.get("/racks/<name>")
def rack(name: str) -> ResponseReturnValue:
    return jsonify(_stamp(asdict(rack_detail(get_snapshot(), name))))


@bp.get("/power")
def power() -> ResponseReturnValue:
    view, note = current_power()
    return _shared(f"power {note}", lambda: {**asdict(view), "manual_note": note})


@bp.get("/cooling")
def cooling_units() -> ResponseReturnValue:
    return _shared("cooling", lambda: asdict(cooling.cooling_view(get_snapshot(), lang())))


@bp.get("/devices/<name>")
def device(name: str) -> ResponseReturnValue:
    snap = get_snapshot()
    if name not in snap.inventory.devices:
        abort(404, description=f"{_('No such device')}: {name}")
    return jsonify(_stamp(asdict(device_view(snap, name, lang()))))


@bp.get("/series")
def series() -> ResponseReturnValue:
    device = request.args.get("device") or None
    return jsonify(_stamp({"series": [asdict(s) for s in history.series_list(device, lang())]}))


@bp.get("/history")
def history_points() -> ResponseReturnValue:
    chosen = history.arg_int("series")
    if chosen is None:
        abort(400, description=f"series: {_('required')}")
    span = request.args.get("range", history.DEFAULT_RANGE)
    return _shared(f"history {chosen} {span}", lambda: asdict(history.history_view(chosen, span, lang())))


@bp.get("/openapi.json")
def openapi_document() -> ResponseReturnValue:
    return jsonify(openapi.document())
