"""The `dcops` command.

Exit codes: 0 success; 1 a user error (ClickException) or a device that did
not answer; 2 a usage error or an invalid inventory (every error listed).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from dcops.secrets import SecretStore
from dcops.settings import Settings

INVALID = 2


def _load(inventory_dir: Path, secrets: Path | None):  # type: ignore[no-untyped-def]
    """Load profiles and the inventory; on errors print them all and exit 2."""
    from collectors.modbus import load_register_maps
    from collectors.profile import load_profiles
    from inventory import InventoryError, load_inventory

    try:
        profiles = load_profiles()
        store = SecretStore.from_file(secrets) if secrets else None
        return load_inventory(inventory_dir, secrets=store, profiles=profiles,
                              modbus_profiles=load_register_maps()), profiles
    except InventoryError as exc:
        for err in exc.errors:
            click.echo(str(err), err=True)
        click.echo(f"{len(exc.errors)} error(s) in {inventory_dir}", err=True)
        sys.exit(INVALID)


inventory_option = click.option(
    "--inventory", "inventory_dir", type=click.Path(file_okay=False, path_type=Path),
    default=None, help="Inventory directory (default: $DCOPS_INVENTORY or the reference site).")
secrets_option = click.option(
    "--secrets", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Secrets file (default: $DCOPS_SECRETS or <inventory>/secrets.yml).")


class ShardType(click.ParamType):
    """`i/N`: this poller's share of the devices (collectors/shard.py)."""

    name = "i/N"

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        from collectors.shard import Shard

        if isinstance(value, Shard):
            return value
        try:
            return Shard.parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _http_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from urllib.parse import urlsplit

    if value is not None and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname):
        raise click.BadParameter(f"{value!r} is not an http:// or https:// URL")
    return value


shard_option = click.option(
    "--shard", type=ShardType(), default=None,
    help="Poll only share i of N (1/3, 2/3, 3/3): N pollers together poll every device once.")
INFLUX_OPTIONS = [
    click.option("--influx-url", callback=_http_url, default=None, metavar="URL",
                 help="Also write samples to this InfluxDB (or VictoriaMetrics) as line protocol."),
    click.option("--influx-org", default="dcops", show_default=True),
    click.option("--influx-bucket", default="dcops", show_default=True),
    click.option("--influx-token-secret", default=None, metavar="NAME",
                 help="The secret holding the API token (DCOPS_SECRET_<NAME> or the secrets file)."),
    click.option("--influx-buffer", type=click.Path(dir_okay=False, path_type=Path),
                 default=Path("var/influx-buffer.db"), show_default=True,
                 help="Where samples wait while the database does not answer."),
    click.option("--influx-buffer-max-mb", type=click.IntRange(1, 1 << 20), default=256, show_default=True,
                 help="The buffer's bound; when full the oldest samples are dropped."),
]


def influx_options(command):  # type: ignore[no-untyped-def]
    for option in reversed(INFLUX_OPTIONS):
        command = option(command)
    return command


def _influx(inv, secrets: Path | None, inventory_dir: Path, opts: dict[str, object]):  # type: ignore[no-untyped-def]
    """The InfluxDB output the --influx-* options ask for, or None without --influx-url."""
    from dcops.secrets import env_name
    from outputs.buffer import DiskBuffer
    from outputs.influx import InfluxConfig, InfluxOutput

    if opts["influx_url"] is None:
        return None
    token = None
    name = opts["influx_token_secret"]
    if isinstance(name, str):
        path = secrets or inventory_dir / "secrets.yml"
        store = SecretStore.from_file(path)
        if name not in store:
            raise click.ClickException(f"secret {name!r} for --influx-token-secret is not set "
                                       f"(set {env_name(name)} or add it to {path})")
        token = store.get(name)
    config = InfluxConfig(url=str(opts["influx_url"]), org=str(opts["influx_org"]),
                          bucket=str(opts["influx_bucket"]), token=token)
    buffer = DiskBuffer(Path(str(opts["influx_buffer"])), max_bytes=int(str(opts["influx_buffer_max_mb"])) << 20)
    return InfluxOutput(config, buffer, inventory=inv)


def _influx_summary(output) -> str:  # type: ignore[no-untyped-def]
    st = output.stats
    line = f"influx: {st.written + st.replayed} points written to {output.config.url}"
    if len(output.buffer):
        line += f"; {len(output.buffer)} waiting in {output.buffer.path} (replayed at the next start)"
    return line


@click.group()
@click.version_option(package_name="dcops")
def main() -> None:
    """dcops: machine-room and extranet operations for a government data center."""


@main.group()
def inventory() -> None:
    """Inspect and validate the inventory."""


@inventory.command("check")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@secrets_option
def inventory_check(directory: Path | None, secrets: Path | None) -> None:
    """Validate DIRECTORY: exit 0 when valid, 2 with every error listed when not."""
    settings = Settings.from_env()
    directory = directory or settings.inventory
    inv, _ = _load(directory, secrets or settings.secrets)
    active = sum(1 for r in inv.racks.values() if r.in_use)
    click.echo(f"{directory}: valid — site {inv.site.slug}, {len(inv.locations)} room(s), "
               f"{len(inv.racks)} racks ({active} in use), {len(inv.feeds)} power feeds, "
               f"{len(inv.devices)} devices")


@main.command()
@click.option("--once", is_flag=True, required=True, help="Poll every device once and exit.")
@inventory_option
@secrets_option
@click.option("--store", "store_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the samples to this store.")
@click.option("--timeout", type=click.FloatRange(0.1, 60), default=2.0, show_default=True)
@click.option("--retries", type=click.IntRange(0, 10), default=1, show_default=True)
@click.option("--concurrency", type=click.IntRange(1, 1000), default=32, show_default=True)
@shard_option
@influx_options
def poll(once: bool, inventory_dir: Path | None, secrets: Path | None, store_path: Path | None,
         timeout: float, retries: int, concurrency: int, shard, **influx) -> None:  # type: ignore[no-untyped-def]
    """Poll every device once; one line per device, then a summary.

    Exits 0 when every device answered, 1 when any did not.
    """
    import time

    from collectors.poller import Poller, PollerSettings
    from outputs.store import Store

    settings = Settings.from_env()
    inventory_dir = inventory_dir or settings.inventory
    inv, profiles = _load(inventory_dir, secrets or settings.secrets)
    outputs = []
    if store_path is not None:
        outputs.append(Store(store_path, retention=settings.retention_seconds).publish)
    influx_output = _influx(inv, secrets or settings.secrets, inventory_dir, influx)
    if influx_output is not None:
        outputs.append(influx_output.publish)
    devices = shard.select(inv.devices.values()) if shard else None
    poller = Poller(inv, outputs=outputs, profiles=profiles, devices=devices,
                    settings=PollerSettings(timeout=timeout, retries=retries, concurrency=concurrency))
    started = time.monotonic()
    results = asyncio.run(_poll_once(poller))
    elapsed = time.monotonic() - started
    if influx_output is not None:
        influx_output.close()
    width = max((len(r.device) for r, _ in results), default=10)
    for report, _ in sorted(results, key=lambda x: x[0].device):
        if report.up:
            click.echo(f"{report.device:<{width}}  up    {report.samples:4d} samples  "
                       f"{report.duration * 1000:7.1f} ms  {','.join(report.profiles)}")
        else:
            click.echo(f"{report.device:<{width}}  DOWN  {report.duration * 1000:7.1f} ms  {report.error}")
    up = sum(1 for r, _ in results if r.up)
    total_samples = sum(r.samples for r, _ in results)
    share = f" (shard {shard} of {len(inv.devices)} devices)" if shard else ""
    click.echo(f"{up}/{len(results)} devices answered{share}, {total_samples} samples in {elapsed:.2f} s")
    if influx_output is not None:
        click.echo(_influx_summary(influx_output))
    sys.exit(0 if up == len(results) else 1)


async def _poll_once(poller):  # type: ignore[no-untyped-def]
    try:
        return await poller.poll_once()
    finally:
        poller.transport.close()


@main.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True,
              help="Panel port on 127.0.0.1.")
@click.option("--snmp-port", type=click.IntRange(1024, 65535), default=None,
              help="Serve the virtual room on this UDP port instead of the inventory's.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("var/demo"),
              show_default=True, help="Recordings, logs and the store of the demo.")
@click.option("--interval", type=click.FloatRange(1, 3600), default=10.0, show_default=True,
              help="Poll interval in seconds.")
@click.option("--trap-port", type=click.IntRange(0, 65535), default=1162, show_default=True,
              help="Receive traps and informs on this UDP port of 127.0.0.1 (0: do not).")
def demo(port: int, snmp_port: int | None, workdir: Path, interval: float, trap_port: int) -> None:
    """Run the virtual machine room, the poller, the store and the panel; Ctrl-C stops all."""
    from dcops.demo import run_demo

    run_demo(port=port, snmp_port=snmp_port, workdir=workdir, interval=interval, trap_port=trap_port)


def _host_port(value: str | None, hint: str) -> tuple[str, int] | None:
    if value is None:
        return None
    host, colon, port = value.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint=hint)
    return host.strip("[]"), int(port)


@main.command()
@inventory_option
@secrets_option
@click.option("--store", "store_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The embedded store (default: $DCOPS_STORE or var/dcops.db).")
@click.option("--listen", default="127.0.0.1:8080", show_default=True, metavar="HOST:PORT",
              help="Where the panel, /api and /metrics listen.")
@click.option("--interval", type=click.FloatRange(1, 3600), default=30.0, show_default=True,
              help="Default poll interval in seconds (a device's own `interval` wins).")
@click.option("--traps", default=None, metavar="HOST:PORT",
              help="Receive traps and informs here (e.g. 0.0.0.0:162, or an unprivileged 127.0.0.1:1162).")
@shard_option
@influx_options
def run(inventory_dir: Path | None, secrets: Path | None, store_path: Path | None, listen: str,
        interval: float, traps: str | None, shard, **influx) -> None:  # type: ignore[no-untyped-def]
    """Poll the inventory's devices and serve the panel until Ctrl-C or SIGTERM."""
    from dcops.service import Part, serve

    settings = Settings.from_env()
    inventory_dir = inventory_dir or settings.inventory
    inv, profiles = _load(inventory_dir, secrets or settings.secrets)
    host, colon, port = listen.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{listen!r} is not HOST:PORT", param_hint="--listen")
    influx_output = _influx(inv, secrets or settings.secrets, inventory_dir, influx)
    parts, outputs, collectors = [], [], []
    if influx_output is not None:  # stopped after the poller: what it published last is written or buffered
        parts.append(Part("influx", lambda: f"writing to {influx_output.config.url}, buffering to "
                          f"{influx_output.buffer.path}", influx_output.close))
        outputs.append(influx_output.publish)
        collectors.append(influx_output)
    serve(inv, profiles, store_path=store_path or settings.store, interval=interval,
          host=host, port=int(port),
          traps=_host_port(traps, "--traps"), parts=parts, outputs=outputs, collectors=collectors,
          devices=shard.select(inv.devices.values()) if shard else None)


from lab.cli import lab  # noqa: E402  (command groups of the other folders)

main.add_command(lab)

from playbooks.cli import extranet  # noqa: E402 - the extranet group lives with its playbooks

main.add_command(extranet)

from alerts.cli import alerts  # noqa: E402 - the alerts group lives with the alerts

main.add_command(alerts)

from collectors.cli import snmp  # noqa: E402 - the snmp group lives with its collectors

main.add_command(snmp)
from dashboards.cli import users  # noqa: E402, I001 - the panel's accounts live with the panel
main.add_command(users)


if __name__ == "__main__":
    main()
