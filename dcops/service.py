"""Run dcops as a service: the poller, the store, the outputs and the panel, in one process.

`dcops run` (real devices) and `dcops demo` (the virtual room) both come here;
the demo adds the lab as a *part*: something started before the poller and
stopped after it. SIGINT and SIGTERM stop everything in reverse order.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import click
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from werkzeug.serving import make_server

from alerts.service import for_service as alerting_for
from collectors.background import PollerThread
from collectors.poller import Poller, PollerSettings, Publish
from collectors.profile import Profile
from collectors.traps import TrapReceiver, TrapReceiverError, TrapReceiverThread
from dashboards import create_app
from dcops.settings import Settings
from inventory.model import Device, Inventory
from outputs.prometheus import make_registry
from outputs.store import Store


@dataclass
class Part:
    """Something the service starts before polling and stops after it (the virtual room)."""

    name: str
    start: Callable[[], str]  # returns the line to print once it runs
    stop: Callable[[], None]


def ensure_free(host: str, port: int) -> None:
    """Werkzeug would print its own advice and sys.exit(1); we want one clear error."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug does
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(f"cannot serve the panel on {host}:{port}: {exc.strerror}") from exc


def trap_part(receiver: TrapReceiver) -> Part:
    """The trap receiver in its own thread, started and stopped like the virtual room."""
    thread = TrapReceiverThread(receiver)

    def start() -> str:
        try:
            thread.start()
        except TrapReceiverError as exc:
            raise click.ClickException(str(exc)) from exc
        return f"udp {receiver.host}:{receiver.port}; notifications become events and confirming polls"

    return Part("traps", start, thread.stop)


def serve(
    inventory: Inventory,
    profiles: dict[str, Profile],
    *,
    store_path: Path,
    interval: float,
    host: str,
    port: int,
    parts: Sequence[Part] = (),
    outputs: Sequence[Publish] = (),
    collectors: Sequence[Collector] = (),
    devices: Sequence[Device] | None = None,
    traps: tuple[str, int] | None = None,
) -> None:
    """`collectors` add to /metrics (an output's own state); `devices` is a shard's share;
    `traps` is where the trap receiver listens (none without it)."""
    store = Store(store_path, retention=Settings.from_env().retention_seconds)
    alerting = alerting_for(inventory, store_path, interval, store.latest())  # rules, engine, notifiers
    parts = [Part("alerts", alerting.start, alerting.stop), *parts]

    def metrics() -> tuple[bytes, str]:
        registry = make_registry(store, inventory)
        for collector in collectors:
            registry.register(collector)
        return generate_latest(registry), CONTENT_TYPE_LATEST

    app = create_app({
        "INVENTORY": inventory,
        "STORE": store,
        "METRICS": metrics,
        "STALE_AFTER": max(3 * interval, 30.0),
    })
    ensure_free(host, port)  # a busy port fails before anything starts
    server = make_server(host, port, app, threaded=True)
    poller = PollerThread(Poller(inventory, outputs=[store.publish, alerting.publish, *outputs], profiles=profiles,
                                 devices=devices, settings=PollerSettings(interval=interval)))
    if traps is not None:
        receiver = TrapReceiver(inventory, host=traps[0], port=traps[1],
                                on_event=[store.write_event, alerting.event],
                                request_poll=poller.poller.request_poll)
        collectors = [*collectors, receiver.collector()]
        parts = [trap_part(receiver), *parts]  # listening first, stopped last
    stopping: list[int] = []  # no locks in a signal handler: a second signal may interrupt the first

    def shutdown(signum: int, frame: FrameType | None) -> None:
        if not stopping:
            stopping.append(signum)
            threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {s: signal.signal(s, shutdown) for s in (signal.SIGINT, signal.SIGTERM)}
    started: list[Part] = []
    try:
        for part in parts:
            line = part.start()
            started.append(part)
            click.echo(f"{part.name}: {line}")
        poller.start()
        share = "" if devices is None else f"{len(devices)} of "
        click.echo(f"poller: {share}{len(inventory.devices)} devices every {interval:g} s into {store_path}")
        click.echo(f"panel:  http://{host}:{port}/   (Ctrl-C stops everything)")
        server.serve_forever()
    finally:
        click.echo("stopping: " + ", ".join(["panel", "poller", *(p.name for p in reversed(started))]))
        server.server_close()
        poller.stop()
        for part in reversed(started):
            part.stop()
        store.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
