"""Where a request gets its inventory, store, clock and language (like the tutorial's db.py)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, current_app, g
from flask_babel import gettext

from inventory.model import Inventory
from outputs.store import Store

from .i18n import DEFAULT, LANGUAGES
from .snapshot import Snapshot

STORE_KEY = "dcops.store"
SNAPSHOT_KEY = "dcops.snapshot"
T = TypeVar("T")


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


_snapshot_lock = threading.Lock()
# Views every open page asks for: computed for each new reading before it is shared.
WARM_ENDPOINTS = ("api.overview", "api.floor_plan", "api.racks", "api.power", "api.cooling_units")


def get_snapshot() -> Snapshot:
    """One reading of the store per request, shared by everything the request renders.

    Readings are shared between requests (`SNAPSHOT_TTL` seconds, default 5; 0: one per
    request): when one is older, a background thread reads the store again and computes
    the views every page asks for (`memo`, in the languages read), while requests go on with the
    previous reading. So a room of a thousand devices is read once per period however
    many panels are open, and no request waits for it but the very first.
    """
    if "snapshot" not in g:
        ttl = float(current_app.config.get("SNAPSHOT_TTL", 0.0))
        g.snapshot = _read() if ttl <= 0 else _shared_snapshot(current_app._get_current_object(), ttl)  # type: ignore[attr-defined]
    return cast(Snapshot, g.snapshot)


def _shared_snapshot(app: Flask, ttl: float) -> Snapshot:
    state = app.extensions.setdefault(SNAPSHOT_KEY, {"snap": None, "at": 0.0, "busy": False, "langs": set()})
    with _snapshot_lock:
        state["langs"].add(lang())  # warm the languages that are read
        if state["snap"] is None:
            state["snap"], state["at"] = _read(), time.monotonic()
        elif time.monotonic() - state["at"] > ttl and not state["busy"]:
            state["busy"] = True
            threading.Thread(target=_refresh, args=(app, state), name="snapshot", daemon=True).start()
        return cast(Snapshot, state["snap"])


def _refresh(app: Flask, state: dict[str, Any]) -> None:
    try:
        with app.app_context():
            fresh = _read()
        with _snapshot_lock:
            languages, state["langs"] = set(state["langs"]) or {DEFAULT}, set()
        for language in sorted(languages & set(LANGUAGES)):
            for endpoint in WARM_ENDPOINTS:
                if endpoint in app.view_functions:
                    with app.test_request_context(f"/?lang={language}"):
                        g.lang, g.snapshot = language, fresh
                        app.view_functions[endpoint]()
        with _snapshot_lock:
            state["snap"], state["at"] = fresh, time.monotonic()
    except Exception:  # the store is briefly unreadable: keep the last reading, try again later
        logging.getLogger(__name__).exception("cannot refresh the panel's reading of the store")
    finally:
        state["busy"] = False


def _read() -> Snapshot:
    return Snapshot(get_inventory(), get_store(), now(), float(current_app.config["STALE_AFTER"]))


def memo(key: tuple[str, ...], build: Callable[[], T]) -> T:
    """`build()` once per snapshot and key (a view in one language)."""
    snap = get_snapshot()
    if key not in snap.memo:
        snap.memo[key] = build()
    return cast(T, snap.memo[key])


def lang() -> str:
    return cast(str, g.get("lang", DEFAULT))


def _(message: str, **variables: object) -> str:
    """gettext in the request's language (flask-babel's)."""
    return str(gettext(message, **variables))
