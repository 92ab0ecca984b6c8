"""`dcops snmp …`: look at one device over SNMP without an inventory.

Exit codes: 0 the device was read; 1 it did not answer (timeout, SNMP
error, unresolvable host); 2 a usage error; 3 it answered but no profile
knows it.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import click

from dcops.secrets import Secret
from inventory.model import AUTH_PROTOCOLS, PRIV_PROTOCOLS, SnmpCredentials

UNKNOWN_DEVICE = 3


def parse_target(text: str) -> tuple[str, int]:
    """HOST, HOST:PORT, [IPv6] or [IPv6]:PORT → (host, port); ValueError says what is wrong."""
    host, port = text, "161"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{text!r} is not HOST[:PORT]")
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not HOST[:PORT] (port 1-65535)")
    return host, int(port)


def _resolve(host: str) -> str:
    try:
        info = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise click.ClickException(f"cannot resolve host {host!r}: {exc}") from exc
    return str(info[0][4][0])


class ProbeFailed(click.ClickException):
    """The device did not answer (exit 1)."""


class UnknownDeviceError(click.ClickException):
    """The device answered but no profile knows it (exit 3)."""

    exit_code = UNKNOWN_DEVICE


@click.group()
def snmp() -> None:
    """Look at one device over SNMP (no inventory needed)."""


@snmp.command()
@click.argument("target", metavar="HOST[:PORT]")
@click.option("--community", "-c", default=None, help="SNMPv2c community.")
@click.option("--user", "-u", default=None, help="SNMPv3 user (authPriv when keys are given).")
@click.option("--auth-protocol", type=click.Choice(AUTH_PROTOCOLS), default="SHA", show_default=True)
@click.option("--auth-key", default=None, help="SNMPv3 authentication key.")
@click.option("--priv-protocol", type=click.Choice(PRIV_PROTOCOLS), default="AES", show_default=True)
@click.option("--priv-key", default=None, help="SNMPv3 privacy key.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array of readings.")
@click.option("--timeout", type=click.FloatRange(0.1, 60), default=2.0, show_default=True)
@click.option("--retries", type=click.IntRange(0, 10), default=1, show_default=True)
def probe(target: str, community: str | None, user: str | None, auth_protocol: str, auth_key: str | None,
          priv_protocol: str, priv_key: str | None, as_json: bool, timeout: float, retries: int) -> None:
    """Detect the device at HOST[:PORT], poll it once and print its readings."""
    from collectors.probe import UnknownDevice, present
    from collectors.probe import probe as run_probe
    from collectors.profile import load_profiles
    from collectors.snmp import SnmpClient, SnmpError, Target

    try:
        host, port = parse_target(target)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="HOST[:PORT]") from exc
    if (community is None) == (user is None):
        raise click.UsageError("give either --community (v2c) or --user (v3)")
    if user is not None:
        creds = SnmpCredentials(
            version="3", user=user,
            auth_protocol=auth_protocol if auth_key else "",
            auth_key=Secret("auth-key", auth_key) if auth_key else None,
            priv_protocol=priv_protocol if priv_key else "",
            priv_key=Secret("priv-key", priv_key) if priv_key else None)
    else:
        creds = SnmpCredentials(version="2c", community=Secret("community", community or ""))
    address = _resolve(host)
    transport = SnmpClient()
    profiles = list(load_profiles().values())

    async def go() -> Any:
        try:
            return await run_probe(transport, Target(address, port, creds, timeout=timeout, retries=retries),
                                   profiles, device=host)
        finally:
            transport.close()

    try:
        result = asyncio.run(go())
    except UnknownDevice as exc:
        raise UnknownDeviceError(f"{host}:{port}: {exc}") from exc
    except SnmpError as exc:
        raise ProbeFailed(f"{host}:{port} did not answer: {exc or 'timeout'}") from exc
    rows = [present(m) for m in result.readings]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    click.echo(f"{host}:{port}  sysObjectID {result.sysobjectid}  profiles {', '.join(result.profiles)}  "
               f"{len(rows)} readings in {result.duration:.2f} s")
    click.echo(_table(rows))


def _table(rows: list[dict[str, Any]]) -> str:
    def value(r: dict[str, Any]) -> str:
        if r["unit"] == "state":
            return f"{r['value']} ({r['text']})" if r.get("text") else str(r["value"])
        return f"{r['value']:.6g}"

    cells = [(r["class"], r["name"], value(r), "" if r["unit"] == "state" else r["unit"], r["oid"], r["profile"])
             for r in rows]
    head = ("CLASS", "NAME", "VALUE", "UNIT", "OID", "PROFILE")
    widths = [min(48, max(len(str(c[i])) for c in [head, *cells])) for i in range(len(head))]
    lines = ["  ".join(str(c[i])[:widths[i]].ljust(widths[i]) for i in range(len(head))).rstrip()
             for c in [head, *cells]]
    return "\n".join(lines)
