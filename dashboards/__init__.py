"""The Flask panel: overview, racks, devices, JSON API and /metrics (see app.create_app)."""

from .app import create_app

__all__ = ["create_app"]
