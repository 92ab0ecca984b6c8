"""Switch drivers: how dcops talks to a switch. The extension point is the `Driver` protocol and the
`DRIVERS` registry (DESIGN.md convention 6); netmiko is the one we ship.

Errors a caller can act on: SwitchUnreachable (no TCP or SSH), AuthenticationFailed,
CommandRejected (the switch answered a command with its error message).
"""

from __future__ import annotations

from typing import Any, Protocol

from dcops.registry import Registry
from inventory.model import Switch

from .render import Profile, profiles


class SwitchError(Exception):
    def __init__(self, switch: str, message: str):
        self.switch = switch
        super().__init__(f"{switch}: {message}")


class SwitchUnreachable(SwitchError):
    pass


class AuthenticationFailed(SwitchError):
    pass


class CommandRejected(SwitchError):
    pass


class Driver(Protocol):
    profile: Profile

    def running(self) -> str: ...

    def show(self, command: str, parse: bool = False) -> Any: ...

    def configure(self, commands: list[str]) -> str: ...

    def save(self) -> str: ...

    def close(self) -> None: ...


class NetmikoDriver:
    """netmiko over SSH, with fast_cli; VRP's slow config-mode check gets the pattern it lacks."""

    def __init__(self, switch: Switch, timeout: float = 10.0):
        from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException

        self.switch = switch
        self.profile = profiles()[switch.vendor]
        params: dict[str, Any] = {
            "device_type": self.profile.device_type, "host": switch.host, "port": switch.port,
            "username": switch.username, "password": switch.password.reveal(), "fast_cli": True,
            "conn_timeout": timeout, "auth_timeout": timeout, "banner_timeout": timeout,
            "global_cmd_verify": True}  # wait for each echo and prompt, never for a quiet period (~2 s)
        if switch.vendor == "cisco_ios":
            params["secret"] = switch.password.reveal()
        try:
            self.conn = _netmiko_class(self.profile.device_type, self.profile.config_mode_pattern)(**params)
            if params.get("secret"):
                self.conn.enable()
        except NetmikoAuthenticationException:
            raise AuthenticationFailed(switch.name, "authentication failed (wrong username or password?)") from None
        except (NetmikoTimeoutException, OSError, EOFError) as exc:
            raise SwitchUnreachable(switch.name, f"unreachable at {switch.address} ({type(exc).__name__})") from None

    def _guard(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except (OSError, EOFError) as exc:
            raise SwitchUnreachable(self.switch.name, f"connection lost ({exc or type(exc).__name__})") from None
        except Exception as exc:  # netmiko's ReadTimeout and friends: the session is unusable
            if type(exc).__name__ in ("ReadTimeout", "NetmikoTimeoutException"):
                raise SwitchUnreachable(self.switch.name, f"no answer ({type(exc).__name__})") from None
            raise

    def running(self) -> str:
        cmd = self.profile.command("running")
        assert cmd
        return str(self._guard(self.conn.send_command, cmd, read_timeout=60))

    def show(self, command: str, parse: bool = False) -> Any:
        return self._guard(self.conn.send_command, command, use_textfsm=parse, read_timeout=60)

    def configure(self, commands: list[str]) -> str:
        out = str(self._guard(self.conn.send_config_set, commands, read_timeout=60))
        m = self.profile.error_re.search(out)
        if m:
            raise CommandRejected(self.switch.name, f"rejected a command: {m.group(0).strip()}")
        return out

    def save(self) -> str:
        return str(self._guard(self.conn.save_config))

    def close(self) -> None:
        try:
            self.conn.disconnect()
        except Exception:  # noqa: BLE001 - a dead session is closed enough
            pass


def _netmiko_class(device_type: str, pattern: str | None) -> Any:
    """The netmiko class for `device_type`, mended twice: a session the switch (or the network) closed raises
    EOFError at once instead of waiting out the read timeout, and a vendor whose check_config_mode has no
    pattern (VRP waits ~2 s per call, components.md) is given one."""
    from netmiko.base_connection import BaseConnection
    from netmiko.ssh_dispatcher import CLASS_MAPPER

    base: Any = CLASS_MAPPER[device_type]

    def read_channel(self: Any) -> str:
        out = str(base.read_channel(self))
        chan = getattr(self, "remote_conn", None)
        if not out and chan is not None and (chan.closed or chan.eof_received) and not chan.recv_ready():
            raise EOFError("the switch closed the session")
        return out

    methods: dict[str, Any] = {"read_channel": read_channel}
    if pattern:
        def check_config_mode(self: Any, check_string: str = "]", pattern: str = pattern,
                              force_regex: bool = False) -> bool:
            return BaseConnection.check_config_mode(self, check_string=check_string, pattern=pattern)

        methods["check_config_mode"] = check_config_mode
    return type(f"Dcops{base.__name__}", (base,), methods)


DRIVERS: Registry[type[NetmikoDriver]] = Registry("switch driver")
DRIVERS.register("netmiko", NetmikoDriver)
