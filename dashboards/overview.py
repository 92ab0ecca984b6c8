"""The overview: the room at a glance (devices, inlet temperatures, IT load, UPS, cooling)."""

from __future__ import annotations

from flask import Blueprint, render_template

from . import summary
from .data import get_snapshot, lang, memo

bp = Blueprint("overview", __name__)
NAV = ("overview.index", "Overview")


@bp.get("/")
def index() -> str:
    ov = memo(("overview", lang()), lambda: summary.overview(get_snapshot(), lang()))
    return render_template("overview/index.html", ov=ov)
