"""The lab extranet: which switches to serve, their starting configuration, and `lab up` / `lab down`.

A switch starts from its saved configuration in the state directory when it
has one (as a real switch boots its startup configuration); otherwise from a
base configuration: uplinks as trunks, plus the configuration of the agencies
the inventory says are live already (status `active`, vid and prefix pinned),
typed through the simulator's own command line.

`up(workdir)` starts two processes (our VRP/Comware simulator, fake-switches
for IOS) and returns their pids; `down(workdir)` stops them. The lab CLI calls
these two functions.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from dcops.secrets import SecretStore
from inventory import REFERENCE_DIR, load_inventory
from inventory.model import ACTIVE, Extranet

from .cli import Session
from .device import Device
from .sshd import Served

PROCESSES = {"vrp-comware": "lab.extranet.sshd", "ios": "lab.extranet.cisco"}


def load_extranet(inventory: Path | None) -> Extranet:
    directory = inventory or REFERENCE_DIR
    secrets = SecretStore.from_file(directory / "secrets.yml")
    return load_inventory(directory, secrets=secrets).extranet


def base_commands(x: Extranet, name: str) -> list[str]:
    """Configuration-mode commands for a switch's uplinks and its live agencies."""
    from playbooks.facts import diff
    from playbooks.intent import agency_intent
    from playbooks.ipam import Allocation
    from playbooks.render import profiles

    sw = x.switches[name]
    profile = profiles()[sw.vendor]
    trunk_ports = {up.port for up in sw.uplinks} | {up.peer_port for other in x.switches.values()
                                                     for up in other.uplinks if up.peer == name}
    commands: list[str] = []
    for port in sorted(trunk_ports):
        commands += profile.data["lab"]["trunk_port"].format(port=port).splitlines()
    for agency in x.agencies.values():
        if agency.status != ACTIVE or agency.vid is None or agency.prefix is None:
            continue
        group = x.group_of(agency)
        alloc = Allocation(agency.code, group.name, agency.vid, group.pool, agency.prefix)
        facts = agency_intent(x, agency, alloc).facts.get(name, [])
        commands += profile.render(diff([profile.project(f) for f in facts], {}))
    return commands


def served_switches(inventory: Path | None, state: Path, vendors: Sequence[str]) -> list[Served]:
    x = load_extranet(inventory)
    out: list[Served] = []
    for sw in x.switches.values():
        if sw.vendor not in vendors:
            continue
        device = Device.new(sw.vendor, sw.name, list(sw.ports))
        served = Served(device, sw.host, sw.port, sw.username, sw.password.reveal(), state / f"{sw.name}.cfg")
        session = Session(device)
        if served.config_path and served.config_path.exists():
            session.boot(served.config_path.read_text("utf-8"))
        else:
            session.execute("system-view")
            for line in base_commands(x, sw.name):
                out_text = session.execute(line)
                if "position." in out_text:
                    raise RuntimeError(f"{sw.name}: the lab's base configuration failed at {line!r}:\n{out_text}")
            served.save(device.running())
        out.append(served)
    return out


def up(workdir: Path, inventory: Path | None = None, *, wait: float = 20.0) -> dict[str, int]:
    """Start the lab extranet's two server processes; returns {name: pid}. Waits until every port answers."""
    import socket

    state = workdir / "extranet"
    state.mkdir(parents=True, exist_ok=True)
    pids: dict[str, int] = {}
    for name, module in PROCESSES.items():
        args = [sys.executable, "-m", module, "--state", str(state)]
        if inventory is not None:
            args += ["--inventory", str(inventory)]
        log = open(state / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        (state / f"{name}.pid").write_text(str(proc.pid))
        pids[name] = proc.pid
    x = load_extranet(inventory)
    deadline = time.monotonic() + wait
    for sw in x.switches.values():
        while True:
            try:
                socket.create_connection((sw.host, sw.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    down(workdir)
                    raise RuntimeError(f"lab switch {sw.name} did not listen on {sw.address} within {wait:.0f} s "
                                       f"(see {state}/*.log)") from None
                time.sleep(0.1)
    return pids


def down(workdir: Path) -> list[str]:
    """Stop what `up` started (by the pids it wrote); returns the names stopped."""
    state = workdir / "extranet"
    stopped: list[str] = []
    for name in PROCESSES:
        pidfile = state / f"{name}.pid"
        if not pidfile.exists():
            continue
        pid = int(pidfile.read_text())
        try:
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                if _reaped(pid):
                    break
                os.kill(pid, 0)
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        pidfile.unlink()
        stopped.append(name)
    return stopped


def _reaped(pid: int) -> bool:
    """Our own child is reaped here (else it lingers as a zombie); another's simply is gone or not."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return False
