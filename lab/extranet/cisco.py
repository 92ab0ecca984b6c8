"""Serve the lab's Cisco IOS switches with fake-switches, its launcher's defects fixed here.

components.md lists three, each mended without editing the installed package:
the stock launcher passes the enable password as bytes, so `enable` always
fails (we give the switch core a str); configuration mode has no `end`, so
netmiko cannot leave it (`end` hands itself up to the configuration processor, which has one here); and
`show privilege` answers nothing, so Ansible's cisco.ios cannot confirm enable
(it answers `Current privilege level is 15`). An unknown command gets IOS's
`% Invalid input detected at '^' marker.` instead of fake-switches' own text.
`write memory` also saves `show running-config` to the state directory, and a
switch boots from that file, as the VRP/Comware simulator does.

    python -m lab.extranet.cisco --state DIR [--inventory DIR]
"""

from __future__ import annotations

import argparse
import io
import logging
from pathlib import Path
from typing import Any

from fake_switches.cisco.cisco_core import CiscoShellSession, CiscoSwitchCore
from fake_switches.cisco.command_processor.config import ConfigCommandProcessor
from fake_switches.cisco.command_processor.config_interface import ConfigInterfaceCommandProcessor
from fake_switches.cisco.command_processor.config_vlan import ConfigVlanCommandProcessor
from fake_switches.cisco.command_processor.config_vrf import ConfigVRFCommandProcessor
from fake_switches.cisco.command_processor.enabled import EnabledCommandProcessor
from fake_switches.switch_configuration import Port, SwitchConfiguration
from fake_switches.terminal import TerminalController
from fake_switches.transports.ssh_service import SwitchSshService


class Config(ConfigCommandProcessor):
    def do_end(self) -> None:
        """`end` leaves configuration mode; a sub-mode that does not know it hands it up to here."""
        self.is_done = True


class Enabled(EnabledCommandProcessor):
    save_to: Path | None = None

    def do_show(self, *args: str) -> None:
        if args and "privilege".startswith(args[0]) and len(args[0]) >= 4:
            self.write_line("Current privilege level is 15")
            return
        super().do_show(*args)

    def do_write(self, *args: str) -> None:
        super().do_write(*args)
        if self.save_to is not None:
            self.save_to.parent.mkdir(parents=True, exist_ok=True)
            self.save_to.write_text(running(self), "utf-8")


class Shell(CiscoShellSession):
    def handle_unknown_command(self, line: str) -> None:
        prompt = self.command_processor.get_prompt() if hasattr(self.command_processor, "get_prompt") else ""
        self.command_processor.terminal_controller.write(" " * len(prompt) + "^\n")
        self.command_processor.terminal_controller.write("% Invalid input detected at '^' marker.\n\n")


class Core(CiscoSwitchCore):
    save_to: Path | None = None

    def new_command_processor(self) -> Enabled:
        enabled = Enabled(config=Config(config_vlan=ConfigVlanCommandProcessor(),
                                        config_vrf=ConfigVRFCommandProcessor(),
                                        config_interface=ConfigInterfaceCommandProcessor()))
        enabled.save_to = self.save_to
        return enabled

    def launch(self, protocol: str, terminal_controller: Any) -> Shell:
        session = super().launch(protocol, terminal_controller)
        return Shell(session.command_processor)


class _Capture(TerminalController):  # type: ignore[misc]
    def __init__(self) -> None:
        self.text = io.StringIO()

    def write(self, text: str) -> None:
        self.text.write(text)

    def add_any_key_handler(self, callback: Any, *params: Any) -> None:
        return None

    def remove_any_key_handler(self) -> None:
        return None


def running(processor: Enabled) -> str:
    capture = _Capture()
    saved, processor.terminal_controller = processor.terminal_controller, capture
    try:
        processor.show_run()
    finally:
        processor.terminal_controller = saved
    return capture.text.getvalue()


def type_in(core: Core, lines: list[str]) -> str:
    """Type configuration lines at a privileged terminal (to boot or seed a switch); returns what it printed."""
    capture = _Capture()
    core.switch_configuration.auto_enabled = True
    try:
        shell = core.launch("boot", capture)
        shell.receive("configure terminal")
        for line in lines:
            shell.receive(line)
        shell.receive("end")
    finally:
        core.switch_configuration.auto_enabled = False
    return capture.text.getvalue()


def config_lines(saved: str) -> list[str]:
    """A saved `show running-config` as lines to type back in configuration mode."""
    out: list[str] = []
    for line in saved.splitlines():
        if not line.strip() or line.startswith(("Building", "Current configuration", "version ", "end")):
            continue
        out.append("exit" if line.strip() == "!" else line)
    return out


def make_core(name: str, ports: list[str], password: str, save_to: Path | None) -> Core:
    config = SwitchConfiguration("127.0.0.1", name=name, privileged_passwords=[password],
                                 ports=[Port(p) for p in ports])
    core = Core(config)
    core.save_to = save_to
    return core


def main(argv: list[str] | None = None) -> int:
    from twisted.internet import reactor

    from .lab import base_commands, load_extranet

    parser = argparse.ArgumentParser(description="Serve the lab's Cisco IOS switches (fake-switches) over SSH.")
    parser.add_argument("--inventory", type=Path, default=None)
    parser.add_argument("--state", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    x = load_extranet(args.inventory)
    count = 0
    for sw in x.switches.values():
        if sw.vendor != "cisco_ios":
            continue
        path = args.state / f"{sw.name}.cfg"
        core = make_core(sw.name, list(sw.ports), sw.password.reveal(), path)
        lines = config_lines(path.read_text("utf-8")) if path.exists() else base_commands(x, sw.name)
        out = type_in(core, lines)
        if "Invalid input" in out:
            raise SystemExit(f"{sw.name}: could not load its configuration:\n{out}")
        service = SwitchSshService(ip=sw.host, port=sw.port, switch_core=core,
                                   users={sw.username: sw.password.reveal().encode()})
        service.hook_to_reactor(reactor)
        count += 1
    print(f"serving {count} switches", flush=True)
    reactor.run()  # type: ignore[misc]  # SIGTERM and SIGINT stop it
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
