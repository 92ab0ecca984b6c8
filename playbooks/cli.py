"""`dcops extranet …`: onboard agencies, audit drift, list allocations, release a retired agency.

Exit codes: 0 done; 1 a user error (unknown agency) or a failed onboarding or drift found;
2 a usage error or an invalid inventory; 130 interrupted (SIGINT or SIGTERM): the units at hand
were finished, incomplete agencies rolled back, and running the same command again does the rest.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from .batch import SwitchRun, UnitResult
from .onboard import Context, Report

ENGINES = ("netmiko", "ansible")
INTERRUPTED_EXIT = 130


def _context(inventory_dir: Path | None, secrets: Path | None, state: Path | None, workers: int) -> Context:
    from dcops.secrets import SecretStore
    from dcops.settings import Settings
    from inventory import InventoryError, load_inventory

    from .state import default_db

    settings = Settings.from_env()
    directory = inventory_dir or settings.inventory
    secrets = secrets or settings.secrets
    try:
        store = SecretStore.from_file(secrets) if secrets else None
        inv = load_inventory(directory, secrets=store)
    except InventoryError as exc:
        for err in exc.errors:
            click.echo(str(err), err=True)
        click.echo(f"{len(exc.errors)} error(s) in {directory}", err=True)
        sys.exit(2)
    return Context(inv.extranet, state or default_db(), workers=workers)


common = [
    click.option("--inventory", "inventory_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                 help="Inventory directory (default: $DCOPS_INVENTORY or the reference site)."),
    click.option("--secrets", type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="Secrets file (default: $DCOPS_SECRETS or <inventory>/secrets.yml)."),
    click.option("--state", type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="State database (default: $DCOPS_VAR/extranet.db, var/extranet.db)."),
    click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True,
                 help="Switches worked on at once."),
]


def with_common(f):  # type: ignore[no-untyped-def]
    for option in reversed(common):
        f = option(f)
    return f


@click.group()
def extranet() -> None:
    """Onboard agencies onto the e-government extranet and watch it for drift."""


@extranet.command()
@click.argument("agency", required=False)
@click.option("--all", "everyone", is_flag=True, help="Every planned agency.")
@click.option("--dry-run", is_flag=True, help="Show the diff and the exact commands per switch; change nothing.")
@click.option("--engine", type=click.Choice(ENGINES), default="netmiko", show_default=True,
              help="netmiko: threads in this process; ansible: ansible-runner running playbooks/apply.yml.")
@with_common
def onboard(agency: str | None, everyone: bool, dry_run: bool, engine: str, inventory_dir: Path | None,
            secrets: Path | None, state: Path | None, workers: int) -> None:
    """Allocate, render, diff, apply, verify AGENCY (or --all planned ones); roll back on failure."""
    if bool(agency) == everyone:
        raise click.UsageError("give one AGENCY or --all")
    ctx = _context(inventory_dir, secrets, state, workers)
    x = ctx.extranet
    if agency is not None and agency not in x.agencies:
        raise click.ClickException(f"unknown agency {agency!r}")
    codes = [agency] if agency else [a.code for a in x.agencies.values() if a.planned]
    from .onboard import onboard as run

    if everyone and not dry_run:
        units = {c: _switches(ctx, c) for c in codes}
        with _progress(ctx, sum(len(s) for s in units.values()), len({s for v in units.values() for s in v})), \
                _interruptible(ctx):
            report = run(ctx, codes, dry_run=dry_run, engine=engine)
    else:
        with _interruptible(ctx):
            report = run(ctx, codes, dry_run=dry_run, engine=engine)
    _show(report, verbose=agency is not None)
    _exit(report)


def _exit(report: Report) -> None:
    if report.interrupted:
        click.echo(f"interrupted: {len(report.interrupted)} agencies not done (nothing of them is left on any "
                   f"switch); run the same command again to finish")
        sys.exit(INTERRUPTED_EXIT)
    if report.failed:
        sys.exit(1)


@contextmanager
def _interruptible(ctx: Context) -> Iterator[None]:
    """SIGINT and SIGTERM stop the run gracefully: the unit at hand finishes, no other starts."""
    def stop(signum: int, frame: object) -> None:
        if not ctx.stop.is_set():
            click.echo(f"\n{signal.Signals(signum).name}: finishing the units at hand, then rolling back "
                       f"agencies left incomplete", err=True)
        ctx.stop.set()

    before = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


@contextmanager
def _progress(ctx: Context, units: int, switches: int) -> Iterator[None]:
    """A progress bar on a terminal; elsewhere (a log, a pipe) one line per switch as it finishes."""
    if sys.stderr.isatty():
        with click.progressbar(length=units, label="onboarding", file=sys.stderr) as bar:
            ctx.progress = lambda result: bar.update(1)
            yield
        return
    done = {"units": 0, "switches": 0}

    def on_switch(run: SwitchRun) -> None:
        done["switches"] += 1
        done["units"] += len(run.results)
        counts = _counts(run.results)
        click.echo(f"[{done['switches']}/{switches} switches, {done['units']}/{units} units] {run.switch}: "
                   f"{counts} ({run.seconds:.1f} s){' — ' + run.error if run.error else ''}", err=True)

    ctx.on_switch = on_switch
    yield


def _counts(results: list[UnitResult]) -> str:
    by: dict[str, int] = {}
    for r in results:
        by[r.status] = by.get(r.status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in sorted(by.items()))


def _switches(ctx: Context, code: str) -> list[str]:
    from .intent import path_to_gateway

    a = ctx.extranet.agencies[code]
    return list(dict.fromkeys([a.switch, *(s for link in path_to_gateway(ctx.extranet, a.switch) for s in
                                         (link[0], link[2]))]))


def _show(report: Report, verbose: bool) -> None:
    for o in report.outcomes.values():
        alloc = o.allocation
        where = f"vid {alloc.vid}, {alloc.prefix}, gateway {alloc.gateway}" if alloc else "no allocation"
        if verbose or (o.failed and o.status != "interrupted"):
            click.echo(f"{o.agency}: {'would change' if report.dry_run and o.changes else o.status} ({where})")
            for r in o.results:
                click.echo(f"  {r.switch}: {r.status}{' — ' + r.error if r.error else ''}")
                for line in r.diff:
                    click.echo(f"    {line}")
                if report.dry_run and r.commands:
                    click.echo("    commands:")
                    for cmd in r.commands:
                        click.echo(f"      {cmd}")
            if o.error:
                click.echo(f"  {o.error}")
    ok = sum(1 for o in report.outcomes.values() if not o.failed)
    verb = "would make" if report.dry_run else "made"
    failed = len(report.failed) - len(report.interrupted)
    stopped = f", {len(report.interrupted)} interrupted" if report.interrupted else ""
    click.echo(f"{len(report.outcomes)} agencies: {ok} ok, {failed} failed{stopped}; "
               f"{verb} {report.changes} changes in {report.seconds:.1f} s")


@extranet.command()
@with_common
def audit(inventory_dir: Path | None, secrets: Path | None, state: Path | None, workers: int) -> None:
    """Compare the intent with every switch's running configuration; exit 1 when anything drifted."""
    from .drift import audit as run

    ctx = _context(inventory_dir, secrets, state, workers)
    drifts, unreadable = run(ctx)
    for d in drifts:
        click.echo(f"{d.switch}: {d.agency + ': ' if d.agency else ''}{d.what}")
    for err in unreadable:
        click.echo(f"unreadable: {err}")
    click.echo(f"{len(drifts)} difference(s) on {len({d.switch for d in drifts})} switch(es); "
               f"{len(unreadable)} switch(es) unreadable")
    sys.exit(1 if drifts or unreadable else 0)


@extranet.command()
@with_common
def allocations(inventory_dir: Path | None, secrets: Path | None, state: Path | None, workers: int) -> None:
    """List every agency's vid and subnet."""
    from .ipam import IPAM

    ctx = _context(inventory_dir, secrets, state, workers)
    for code, a in IPAM(ctx.db(), ctx.extranet).all().items():
        click.echo(f"{code:<12} {a.group:<4} vid {a.vid:<5} {a.prefix:<18} gateway {a.gateway}")


@extranet.command()
@click.argument("agency")
@click.option("--dry-run", is_flag=True, help="Show what would be removed from which switch; change nothing.")
@click.option("--engine", type=click.Choice(ENGINES), default="netmiko", show_default=True)
@click.option("--keep-config", is_flag=True,
              help="Give the vid and subnet back without touching the switches (a switch gone for good).")
@with_common
def release(agency: str, dry_run: bool, engine: str, keep_config: bool, inventory_dir: Path | None,
            secrets: Path | None, state: Path | None, workers: int) -> None:
    """Remove a retired AGENCY's configuration from its switches, then give its vid and subnet back to IPAM.

    The removal goes through the same diff, apply, verify and rollback as onboarding, and removes only
    what is still the agency's (an access port that now carries another VLAN is left alone)."""
    from .onboard import retire

    ctx = _context(inventory_dir, secrets, state, workers)
    a = ctx.extranet.agencies.get(agency)
    if a is None:
        raise click.ClickException(f"unknown agency {agency!r}")
    if a.status != "retired":
        raise click.ClickException(f"agency {agency} is {a.status}: set status: retired in the inventory first")
    with _interruptible(ctx):
        report = retire(ctx, [agency], dry_run=dry_run, engine=engine, keep_config=keep_config)
    o = report.outcomes[agency]
    held = o.allocation
    if held is None:
        click.echo(f"{agency}: held nothing")
        return
    for r in o.results:
        click.echo(f"  {r.switch}: {r.status}{' — ' + r.error if r.error else ''}")
        for line in r.diff:
            click.echo(f"    {line}")
        if dry_run and r.commands:
            click.echo("    commands:")
            click.echo("\n".join(f"      {cmd}" for cmd in r.commands))
    switches = sum(1 for r in o.results if r.changed)
    if o.failed:
        click.echo(f"{agency}: not released ({o.status}): {o.reason}")
        _exit(report)
    elif dry_run:
        click.echo(f"{agency}: would remove {sum(len(r.diff) for r in o.results)} item(s) from {switches} "
                   f"switch(es) and release vid {held.vid} and {held.prefix}")
    else:
        where = "left the switches alone" if keep_config else f"removed its configuration from {switches} switch(es)"
        click.echo(f"{agency}: {where}; released vid {held.vid} and {held.prefix}")
