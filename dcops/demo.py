"""`dcops demo`: the virtual room, the poller, the store and the panel in one process tree.

snmpsim is our only child process, tied to us so that even a SIGKILL
leaves no agent behind; the rest is `dcops run` with the lab as a part.
The panel needs a login: the demo (lab only) makes the admin user `demo`
with a new random password at every start and prints both.
"""

from __future__ import annotations

from pathlib import Path

from collectors.profile import load_profiles
from dashboards.users import demo_login
from dcops.service import Part, serve
from inventory import REFERENCE_DIR, load_inventory
from lab import LabRunner, at_address
from lab.traps import udp_port_free


def run_demo(*, port: int, snmp_port: int | None, workdir: Path, interval: float,
             host: str = "127.0.0.1", trap_port: int = 0) -> None:
    profiles = load_profiles()
    inventory = load_inventory(REFERENCE_DIR, profiles=profiles)
    if snmp_port is not None:
        inventory = at_address(inventory, "127.0.0.1", snmp_port)
    workdir.mkdir(parents=True, exist_ok=True)
    lab = LabRunner(inventory, workdir / "lab")

    def start_lab() -> str:
        lab.start()
        endpoints = ", ".join(f"{h}:{p}" for h, p in lab.room.endpoints)
        return f"{len(lab.room.devices)} devices answering SNMP on {endpoints}"

    traps = (host, trap_port) if trap_port and udp_port_free(host, trap_port) else None
    if trap_port and traps is None:  # another demo has it: the demo runs on, without traps
        print(f"traps: udp {host}:{trap_port} is taken; not receiving traps (--trap-port 0 says so quietly)")
    serve(inventory, profiles, store_path=workdir / "dcops.db", interval=interval, host=host, port=port,
          traps=traps,
          parts=[Part("login", lambda: demo_login(workdir / "dcops.db"), lambda: None),
                 Part("virtual room", start_lab, lab.stop)])
