"""Serve simulated VRP and Comware switches over SSH (asyncssh), one port per switch on 127.0.0.1.

`SwitchLab` runs the servers on an event loop in a background thread, so a
test can start, break and stop them; `python -m lab.extranet.sshd` runs them
in the foreground for `dcops lab up`. Faults a test can inject: a switch that
refuses a command (`reject`), a switch that is unreachable (`down`), a
session that drops when a command arrives (`drop`: a link that flaps in the
middle of a batch; the switch keeps what it took so far and answers again).
Passwords are the inventory's switch secrets; a wrong one is refused.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from .cli import Session
from .device import Device


@dataclass
class Served:
    device: Device
    host: str
    port: int
    username: str
    password: str
    config_path: Path | None = None
    reject: re.Pattern[str] | None = None
    drop: re.Pattern[str] | None = None
    server: asyncssh.SSHAcceptor | None = None
    sessions: list[SwitchShell] = field(default_factory=list)

    def save(self, text: str) -> None:
        if self.config_path is not None:
            self.config_path.parent.mkdir(parents=True, exist_ok=True)
            self.config_path.write_text(text, "utf-8")


class SwitchServer(asyncssh.SSHServer):
    def __init__(self, served: Served):
        self.served = served

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == self.served.username and password == self.served.password

    def session_requested(self) -> SwitchShell:
        return SwitchShell(self.served)


class SwitchShell(asyncssh.SSHServerSession):  # type: ignore[type-arg]
    """One terminal: echoes what is typed, runs each line, prints the prompt."""

    def __init__(self, served: Served):
        self.served = served
        self.session = Session(served.device, reject=self._rejects, on_save=served.save)
        self.buffer = ""
        self.chan: asyncssh.SSHServerChannel | None = None  # type: ignore[type-arg]

    def _rejects(self, line: str) -> bool:
        return bool(self.served.reject and self.served.reject.search(line))

    def connection_made(self, chan: asyncssh.SSHServerChannel) -> None:  # type: ignore[type-arg]
        self.chan = chan
        self.served.sessions.append(self)

    def pty_requested(self, term_type: str, term_size: tuple[int, int, int, int], term_modes: object) -> bool:
        return True

    def shell_requested(self) -> bool:
        return True

    def session_started(self) -> None:
        self._write(self.session.banner() + self.session.prompt)

    def data_received(self, data: str, datatype: object) -> None:
        for ch in data:
            if ch in "\r\n":
                if ch == "\n" and self.buffer == "" and getattr(self, "_cr", False):
                    self._cr = False
                    continue
                self._cr = ch == "\r"
                line, self.buffer = self.buffer, ""
                self._line(line)
            elif ch in "\x08\x7f":
                self.buffer = self.buffer[:-1]
            else:
                self._cr = False
                self.buffer += ch
                self._write(ch)
        if self.session.closed and self.chan is not None:
            self.chan.exit(0)

    def _line(self, line: str) -> None:
        if self.session.closed:
            return
        drop = self.served.drop
        if drop is not None and drop.search(" ".join(line.split())) and self.chan is not None:
            self.served.drop = None  # once: the next session works
            self.session.closed = True
            self.chan.get_extra_info("connection").abort()
            return
        out = self.session.execute(line)
        if self.session.closed:
            self._write("\r\n")
            return
        text = "\r\n" + (out.replace("\n", "\r\n") + "\r\n" if out else "")
        self._write(text + ("" if self.session.pending else self.session.prompt))

    def _write(self, text: str) -> None:
        if self.chan is not None and not self.chan.is_closing():
            self.chan.write(text)

    def connection_lost(self, exc: Exception | None) -> None:
        self.chan = None  # writing to a lost connection only makes asyncio log `socket.send() raised exception.`
        if self in self.served.sessions:
            self.served.sessions.remove(self)


def _not_a_closed_peer(record: logging.LogRecord) -> bool:
    """A client that drops TCP right after `quit` (netmiko does) makes asyncssh's goodbye land on a closed socket,
    and asyncio logs `socket.send() raised exception.` for each write: noise, not a fault of the switch."""
    return record.msg != "socket.send() raised exception."


class SwitchLab:
    """The simulated switches, served from a background thread."""

    def __init__(self, switches: Iterable[Served]):
        if _not_a_closed_peer not in logging.getLogger("asyncio").filters:
            logging.getLogger("asyncio").addFilter(_not_a_closed_peer)
        self.switches = {s.device.name: s for s in switches}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="switch-lab", daemon=True)
        self.key = asyncssh.generate_private_key("ssh-ed25519")

    def start(self) -> SwitchLab:
        self.thread.start()
        for name in self.switches:
            self.up(name)
        return self

    def _run(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)  # type: ignore[arg-type]

    def up(self, name: str) -> None:
        served = self.switches[name]

        async def listen() -> asyncssh.SSHAcceptor:
            return await asyncssh.create_server(
                lambda: SwitchServer(served), served.host, served.port, server_host_keys=[self.key],
                line_editor=False, reuse_address=True)

        served.server = self._run(listen())  # type: ignore[assignment]

    def down(self, name: str) -> None:
        """The switch becomes unreachable: its listener closes and its sessions drop."""
        served = self.switches[name]

        async def close() -> None:
            for shell in list(served.sessions):
                if shell.chan is not None:
                    shell.chan.get_extra_info("connection").abort()
            if served.server is not None:
                served.server.close()
                await served.server.wait_closed()

        self._run(close())
        served.server = None

    def reject(self, name: str, pattern: str | None) -> None:
        """From now on `name` answers lines matching `pattern` with `Unrecognized command`."""
        self.switches[name].reject = re.compile(pattern) if pattern else None

    def drop(self, name: str, pattern: str | None) -> None:
        """The next session of `name` that receives a line matching `pattern` is cut there (once), before it
        runs that line."""
        self.switches[name].drop = re.compile(pattern) if pattern else None

    def stop(self) -> None:
        for name, served in self.switches.items():
            if served.server is not None:
                self.down(name)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def main(argv: list[str] | None = None) -> int:
    from .lab import served_switches

    parser = argparse.ArgumentParser(description="Serve the lab's Huawei VRP and H3C Comware switches over SSH.")
    parser.add_argument("--inventory", type=Path, default=None)
    parser.add_argument("--state", type=Path, required=True, help="Directory of the switches' saved configurations.")
    args = parser.parse_args(argv)
    lab = SwitchLab(served_switches(args.inventory, args.state, vendors=("huawei_vrp", "hp_comware"))).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"serving {len(lab.switches)} switches", flush=True)
    stop.wait()
    lab.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
