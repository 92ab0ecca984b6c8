"""Where a request gets its inventory, store, clock and language (like the tutorial's db.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from flask import current_app, g
from flask_babel import gettext

from inventory.model import Inventory
from outputs.store import Store

from .i18n import DEFAULT
from .snapshot import Snapshot

STORE_KEY = "dcops.store"


def get_inventory() -> Inventory:
    return cast(Inventory, current_app.config["INVENTORY"])


def get_store() -> Store:
    """The configured Store, or the one at STORE_PATH, opened on first use and kept."""
    store = current_app.config.get("STORE")
    if store is not None:
        return cast(Store, store)
    opened = current_app.extensions.get(STORE_KEY)
    if opened is None:
        opened = current_app.extensions[STORE_KEY] = Store(current_app.config["STORE_PATH"])
    return cast(Store, opened)


def now() -> float:
    clock = cast(Callable[[], float], current_app.config["CLOCK"])
    return clock()


def get_snapshot() -> Snapshot:
    """One reading of the store per request, shared by everything the request renders."""
    if "snapshot" not in g:
        g.snapshot = Snapshot(get_inventory(), get_store(), now(),
                              float(current_app.config["STALE_AFTER"]))
    return cast(Snapshot, g.snapshot)


def lang() -> str:
    return cast(str, g.get("lang", DEFAULT))


def _(message: str, **variables: object) -> str:
    """gettext in the request's language (flask-babel's)."""
    return str(gettext(message, **variables))
