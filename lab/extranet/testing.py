"""The lab extranet for a test or a benchmark: a copy of the reference inventory on free ports, served.

`lab_inventory` copies the reference inventory, moves every switch to a free
port on 127.0.0.1 (so a test never meets a `dcops lab up` someone else is
running) and can keep only some agencies (the live ones always stay: the
lab's base configuration carries them). `ExtranetLab` serves it as the tests
need it: our VRP/Comware simulator on a thread of this process (so a test can
break a switch: `sims.down`, `sims.reject`, `sims.drop`) and fake-switches for
IOS as a child process.
"""

from __future__ import annotations

import importlib
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from inventory import REFERENCE_DIR
from inventory.model import Extranet

from .lab import load_extranet, served_switches
from .sshd import SwitchLab


def free_tcp_ports(count: int) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def lab_inventory(target: Path, keep: Callable[[dict[str, Any]], bool] | None = None) -> Path:
    """The reference inventory copied to `target`, its switches on free ports, its agencies filtered by `keep`."""
    shutil.copytree(REFERENCE_DIR, target)
    extranet = target / "extranet.yml"
    text = extranet.read_text("utf-8")
    old = sorted(set(re.findall(r"address: 127\.0\.0\.1:(\d+)", text)))
    for port, new in zip(old, free_tcp_ports(len(old)), strict=True):
        text = text.replace(f"address: 127.0.0.1:{port}\n", f"address: 127.0.0.1:{new}\n")
    extranet.write_text(text, "utf-8")
    if keep is not None:
        path = target / "agencies.yml"
        data = yaml.safe_load(path.read_text("utf-8"))
        data["agencies"] = [a for a in data["agencies"] if a["status"] == "active" or keep(a)]
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return target


# what a lab needs beyond dcops' own dependencies, and how to get it
NEEDS = {"fake_switches": "fake-switches (pip install --no-deps fake-switches==1.5.0)",
         "asyncssh": "asyncssh (pip install -e '.[extranet]')",
         "ansible_runner": "ansible-runner (pip install -e '.[extranet]')"}


def serve_lab(work: Path, missing: Callable[[str], object],
              keep: Callable[[dict[str, Any]], bool] | None = None) -> Iterator[ExtranetLab]:
    """A test fixture's body: calls `missing(what)` for an absent component (the test suite's skip-or-fail),
    else serves a lab inventory in `work` until the generator is closed."""
    for module, what in NEEDS.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing(what)
    if shutil.which("ansible-playbook", path=str(Path(sys.executable).parent)) is None:
        missing("ansible-playbook (pip install -e '.[extranet]' installs ansible)")
    with ExtranetLab(lab_inventory(work / "inventory", keep), work / "state") as running:
        yield running


class ExtranetLab:
    """Every switch of `inventory` served on 127.0.0.1 while the `with` block runs."""

    def __init__(self, inventory: Path, state: Path):
        self.inventory = inventory
        self.state = state
        self.extranet: Extranet = load_extranet(inventory)
        self.sims: SwitchLab | None = None
        self.ios: subprocess.Popen[str] | None = None

    def __enter__(self) -> ExtranetLab:
        self.sims = SwitchLab(served_switches(self.inventory, self.state, ("huawei_vrp", "hp_comware"))).start()
        self.ios = subprocess.Popen([sys.executable, "-m", "lab.extranet.cisco", "--state", str(self.state),
                                     "--inventory", str(self.inventory)], stdout=subprocess.PIPE, text=True)
        assert self.ios.stdout is not None
        first = self.ios.stdout.readline()
        if not first.startswith("serving"):
            self.__exit__(None, None, None)
            raise RuntimeError(f"fake-switches did not start: {first!r}")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.ios is not None:
            self.ios.terminate()
            self.ios.wait(10)
            self.ios = None
        if self.sims is not None:
            self.sims.stop()
            self.sims = None

    def running(self, name: str) -> str:
        """A switch's running configuration: straight from our simulator, or over SSH from fake-switches."""
        assert self.sims is not None
        if name in self.sims.switches:
            return self.sims.switches[name].device.running()
        from playbooks.driver import DRIVERS

        driver = DRIVERS["netmiko"](self.extranet.switches[name])
        try:
            text = driver.running()
        finally:
            driver.close()
        return re.sub(r"^Current configuration : \d+ bytes$", "", text, flags=re.M)  # IOS counts its bytes


def agency_presence(lab: ExtranetLab, db_path: Path, codes: list[str]) -> dict[str, str]:
    """Per agency, how much of its allocation's configuration the switches hold: "all", "none" or "partial"
    (which would be a half-applied agency). An agency without an allocation is "none"."""
    from playbooks.intent import agency_intent
    from playbooks.ipam import IPAM
    from playbooks.render import profiles
    from playbooks.state import connect

    db = connect(db_path)
    held = IPAM(db, lab.extranet).all()
    db.close()
    parsed: dict[str, Any] = {}
    out: dict[str, str] = {}
    for code in codes:
        if code not in held:
            out[code] = "none"
            continue
        seen: set[str] = set()  # per fact: "as intended", "absent" or "different"
        for name, facts in agency_intent(lab.extranet, lab.extranet.agencies[code], held[code]).facts.items():
            profile = profiles()[lab.extranet.switches[name].vendor]
            if name not in parsed:
                parsed[name] = profile.parse(lab.running(name))
            for f in facts:
                have = parsed[name].get(f.ident)
                seen.add("absent" if have is None else "as intended" if have == profile.project(f) else "different")
        out[code] = {frozenset({"as intended"}): "all", frozenset({"absent"}): "none"}.get(frozenset(seen), "partial")
    return out
