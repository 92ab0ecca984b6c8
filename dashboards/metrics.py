"""/metrics: the Prometheus exposition, when the app was given a METRICS callable.

The CLI passes `METRICS=lambda: render_metrics(store, inventory)` (outputs/prometheus.py);
without it the panel has no metrics of its own to offer, and says so with a 404.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, abort, current_app

from .data import _

bp = Blueprint("metrics", __name__)

MetricsSource = Callable[[], tuple[bytes, str]]


@bp.get("/metrics")
def index() -> Response:
    source: MetricsSource | None = current_app.config.get("METRICS")
    if source is None:
        abort(404, description=_("Metrics are not enabled."))
    body, content_type = source()
    return Response(body, content_type=content_type)
