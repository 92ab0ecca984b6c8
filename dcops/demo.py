"""`dcops demo`: the virtual room, the poller, the store and the panel in one process tree.

snmpsim is our only child process; the poller runs in a thread, the panel in
the main thread. SIGINT and SIGTERM shut everything down in reverse order,
and the child is tied to us so that even a SIGKILL leaves no agent behind.
"""

from __future__ import annotations

import signal
import socket
import threading
from pathlib import Path
from types import FrameType

import click
from werkzeug.serving import make_server

from collectors.background import PollerThread
from collectors.poller import Poller, PollerSettings
from collectors.profile import load_profiles
from dashboards import create_app
from dcops.settings import Settings
from inventory import REFERENCE_DIR, load_inventory
from lab import LabRunner, at_address
from outputs.prometheus import render_metrics
from outputs.store import Store


def ensure_free(host: str, port: int) -> None:
    """Werkzeug would print its own advice and sys.exit(1); we want one clear error."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug does
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(f"cannot serve the panel on {host}:{port}: {exc.strerror}") from exc


def run_demo(*, port: int, snmp_port: int | None, workdir: Path, interval: float,
             host: str = "127.0.0.1") -> None:
    profiles = load_profiles()
    inventory = load_inventory(REFERENCE_DIR, profiles=profiles)
    if snmp_port is not None:
        inventory = at_address(inventory, "127.0.0.1", snmp_port)
    workdir.mkdir(parents=True, exist_ok=True)
    store = Store(workdir / "dcops.db", retention=Settings.from_env().retention_seconds)
    app = create_app({
        "INVENTORY": inventory,
        "STORE": store,
        "METRICS": lambda: render_metrics(store, inventory),
        "STALE_AFTER": max(3 * interval, 30.0),
    })
    ensure_free(host, port)  # a busy port fails before anything starts
    server = make_server(host, port, app, threaded=True)
    lab = LabRunner(inventory, workdir / "lab")
    poller = PollerThread(Poller(inventory, outputs=[store.publish], profiles=profiles,
                                 settings=PollerSettings(interval=interval)))
    stopping: list[int] = []  # no locks in a signal handler: a second signal may interrupt the first

    def shutdown(signum: int, frame: FrameType | None) -> None:
        if not stopping:
            stopping.append(signum)
            threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {s: signal.signal(s, shutdown) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        lab.start()
        endpoints = ", ".join(f"{h}:{p}" for h, p in lab.room.endpoints)
        click.echo(f"virtual room: {len(lab.room.devices)} devices answering SNMP on {endpoints}")
        poller.start()
        click.echo(f"poller: every {interval:g} s into {workdir / 'dcops.db'}")
        click.echo(f"panel:  http://{host}:{port}/   (Ctrl-C stops everything)", color=False)
        server.serve_forever()
    finally:
        click.echo("stopping: panel, poller, virtual room")
        server.server_close()
        poller.stop()
        lab.stop()
        store.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
