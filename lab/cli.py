"""`dcops lab up|down|status`: run the virtual room (and extranet) in the background.

`up` starts `python -m lab` as a detached process tree with a pid file in the
work directory and waits until it serves; `down` stops it and waits until
every child is gone. Other lab commands (scenarios, the extranet) register
themselves on the `lab` group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

DEFAULT_WORKDIR = Path("var/lab")
READY = "serving "


def _group_alive(pgid: int) -> bool:
    """Is any process of the group alive? (Zombies do not count: nobody may reap them yet.)"""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _pid(workdir: Path) -> int | None:
    try:
        pid = int((workdir / "lab.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _group_alive(pid) else None


@click.group()
def lab() -> None:
    """The virtual machine room and extranet on 127.0.0.1."""


workdir_option = click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
                              default=DEFAULT_WORKDIR, show_default=True)


@lab.command()
@workdir_option
@click.option("--port", type=click.IntRange(1024, 65535), default=None,
              help="Serve every room device on this UDP port instead of the inventory's.")
@click.option("--extranet/--no-extranet", default=True, show_default=True,
              help="Also start the virtual extranet's switches (SSH on 127.0.0.1).")
@click.option("--timeout", type=click.FloatRange(1, 300), default=60, show_default=True)
def up(workdir: Path, port: int | None, extranet: bool, timeout: float) -> None:
    """Start the virtual room (and extranet) in the background; exit once they answer."""
    if (pid := _pid(workdir)) is not None:
        raise click.ClickException(f"the lab is already running (pid {pid}); `dcops lab down` first")
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "lab.log"
    cmd = [sys.executable, "-m", "lab", "--workdir", str(workdir)]
    if port is not None:
        cmd += ["--port", str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    (workdir / "lab.pid").write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8", errors="replace")
        if proc.poll() is not None:
            (workdir / "lab.pid").unlink(missing_ok=True)
            raise click.ClickException(f"the lab exited with {proc.returncode}:\n{text.strip()}")
        if READY in text:
            click.echo(text.strip())
            if extranet:
                _extranet_up(workdir, timeout)
            click.echo(f"lab up (pid {proc.pid}); `dcops lab down` stops it")
            return
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGTERM)
    raise click.ClickException(f"the lab did not become ready within {timeout:g} s; see {log}")


def _extranet_up(workdir: Path, timeout: float) -> None:
    from lab.extranet.lab import load_extranet
    from lab.extranet.lab import up as extranet_up

    try:
        pids = extranet_up(workdir, wait=timeout)
    except (RuntimeError, OSError) as exc:
        raise click.ClickException(f"the virtual extranet did not start: {exc}") from exc
    switches = load_extranet(None).switches
    click.echo(f"extranet: {len(switches)} switches over SSH ({', '.join(f'{n} pid {p}' for n, p in pids.items())})")


@lab.command()
@workdir_option
@click.option("--timeout", type=click.FloatRange(1, 120), default=20, show_default=True)
def down(workdir: Path, timeout: float) -> None:
    """Stop the background lab and everything it started."""
    from lab.extranet.lab import down as extranet_down

    for name in extranet_down(workdir):
        click.echo(f"extranet {name} down")
    pid = _pid(workdir)
    if pid is None:
        (workdir / "lab.pid").unlink(missing_ok=True)
        click.echo("the lab is not running")
        return
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _group_alive(pid):
            (workdir / "lab.pid").unlink(missing_ok=True)
            click.echo(f"lab down (pid {pid})")
            return
        time.sleep(0.1)
    os.killpg(pid, signal.SIGKILL)
    (workdir / "lab.pid").unlink(missing_ok=True)
    raise click.ClickException(f"the lab (pid {pid}) did not stop within {timeout:g} s; killed")


@lab.command()
@workdir_option
def status(workdir: Path) -> None:
    """Say whether the background lab runs (exit 0) or not (exit 1)."""
    pid = _pid(workdir)
    if pid is None:
        click.echo("the lab is not running")
        sys.exit(1)
    click.echo(f"the lab is running (pid {pid}); log: {workdir / 'lab.log'}")


from lab.scenarios import scenario  # noqa: E402 - scenarios (lab/scenarios.py) drive the room and the alerts

lab.add_command(scenario)
