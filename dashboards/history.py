"""History: any reading's chart over 1 h, 24 h, 7 d or 90 d, read from the store's rollups.

`get_rollups()` opens outputs.rollup on the store's database and, unless
`ROLLUP_EVERY` is 0 (or the app is TESTING), starts the job that folds new
samples into the rollups every ROLLUP_EVERY seconds (default 60). A history
query also folds in what is new, at most every CATCH_UP_EVERY seconds.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, cast

from flask import Blueprint, abort, current_app, render_template, request

from outputs.rollup import RANGES, Point, RollupJob, Rollups, SeriesInfo, resolution

from . import fmt
from .data import _, get_snapshot, get_store, lang, now
from .detail import series_id as series_name
from .i18n import metric_text

bp = Blueprint("history", __name__)
NAV = ("history.index", "History")

ROLLUPS_KEY = "dcops.rollups"
CATCH_UP_EVERY = 10.0
DEFAULT_RANGE = "24h"
_lock = threading.Lock()


def get_rollups() -> Rollups:
    opened = current_app.extensions.get(ROLLUPS_KEY)
    if opened is None:
        with _lock:
            opened = current_app.extensions.get(ROLLUPS_KEY)
            if opened is None:
                opened = Rollups(get_store().path)
                every = float(current_app.config.get("ROLLUP_EVERY", 60.0))
                if every > 0 and not current_app.testing:
                    current_app.extensions["dcops.rollup_job"] = RollupJob(opened, every).start()
                current_app.extensions[ROLLUPS_KEY] = opened
                current_app.extensions["dcops.rollup_last"] = 0.0
    rollups = cast(Rollups, opened)
    last = float(current_app.extensions.get("dcops.rollup_last", 0.0))
    if time.monotonic() - last > CATCH_UP_EVERY:
        current_app.extensions["dcops.rollup_last"] = time.monotonic()
        rollups.catch_up()
    return rollups


@dataclass
class SeriesView:
    id: int
    name: str
    device: str
    metric: str
    metric_label: str
    labels: dict[str, str]
    unit: str


@dataclass
class HistoryView:
    series: SeriesView
    range: str
    since: float
    until: float
    source: str
    points: list[list[float]] = field(default_factory=list)  # [ts, avg, min, max]


def series_view(info: SeriesInfo, language: str) -> SeriesView:
    from dcops.types import Sample

    name = series_name(Sample(device=info.device, metric=info.metric, value=0.0, ts=0.0, labels=info.labels))
    return SeriesView(id=info.id, name=name, device=info.device, metric=info.metric,
                      metric_label=metric_text(info.metric, language), labels=dict(info.labels), unit=info.unit)


def scale(unit: str) -> float:
    """Charts show ratios as percent, like the pages."""
    return 100.0 if unit == "ratio" else 1.0


def history_view(series: int, span: str, language: str) -> HistoryView:
    if span not in RANGES:
        abort(400, description=f"{_('Unknown range')}: {span} (1h, 24h, 7d, 90d)")
    rollups = get_rollups()
    info = rollups.series_by_id(series)
    if info is None:
        abort(404, description=f"{_('No such series')}: {series}")
    until = now()
    since = until - RANGES[span]
    points: list[Point] = rollups.history(series, since, until)
    k = scale(info.unit)
    return HistoryView(series=series_view(info, language), range=span, since=since, until=until,
                       source=resolution(until - since),
                       points=[[p.ts, p.avg * k, p.min * k, p.max * k] for p in points])


def series_list(device: str | None, language: str) -> list[SeriesView]:
    known = get_snapshot().inventory.devices
    return [series_view(s, language) for s in get_rollups().series(device) if s.device in known]


def arg_int(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        abort(400, description=f"{name}: {_('not a number')}")
    return int(raw)


@bp.get("/history")
def index() -> str:
    device = request.args.get("device") or None
    span = request.args.get("range", DEFAULT_RANGE)
    if span not in RANGES:
        span = DEFAULT_RANGE
    chosen = arg_int("series")
    every = series_list(None, lang())
    devices = sorted({s.device for s in every})
    shown = [s for s in every if device is None or s.device == device]
    if chosen is None and shown:
        chosen = shown[0].id
    tz = get_snapshot().inventory.site.timezone
    context: dict[str, Any] = {"devices": devices, "device": device, "series": shown, "chosen": chosen,
                               "range": span, "ranges": list(RANGES), "now_text": fmt.when(now(), tz)}
    return render_template("history/index.html", **context)
