"""`dcops extranet …`: onboard agencies, audit drift, list allocations, release a retired agency.

Exit codes: 0 done; 1 a user error (unknown agency) or a failed onboarding or drift found;
2 a usage error or an invalid inventory.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .onboard import Context, Report

ENGINES = ("netmiko",)


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
@click.option("--engine", type=click.Choice(ENGINES), default="netmiko", show_default=True)
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
        with click.progressbar(length=sum(len(_switches(ctx, c)) for c in codes), label="onboarding",
                               file=sys.stderr) as bar:
            ctx.progress = lambda result: bar.update(1)
            report = run(ctx, codes, dry_run=dry_run, engine=engine)
    else:
        report = run(ctx, codes, dry_run=dry_run, engine=engine)
    _show(report, verbose=agency is not None)
    if report.failed:
        sys.exit(1)


def _switches(ctx: Context, code: str) -> list[str]:
    from .intent import path_to_gateway

    a = ctx.extranet.agencies[code]
    return list(dict.fromkeys([a.switch, *(s for link in path_to_gateway(ctx.extranet, a.switch) for s in
                                         (link[0], link[2]))]))


def _show(report: Report, verbose: bool) -> None:
    for o in report.outcomes.values():
        alloc = o.allocation
        where = f"vid {alloc.vid}, {alloc.prefix}, gateway {alloc.gateway}" if alloc else "no allocation"
        if verbose or o.failed:
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
    click.echo(f"{len(report.outcomes)} agencies: {ok} ok, {len(report.failed)} failed; "
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
@with_common
def release(agency: str, inventory_dir: Path | None, secrets: Path | None, state: Path | None,
            workers: int) -> None:
    """Give a retired AGENCY's vid and subnet back to IPAM."""
    from .ipam import IPAM

    ctx = _context(inventory_dir, secrets, state, workers)
    a = ctx.extranet.agencies.get(agency)
    if a is None:
        raise click.ClickException(f"unknown agency {agency!r}")
    if a.status != "retired":
        raise click.ClickException(f"agency {agency} is {a.status}: set status: retired in the inventory first")
    held = IPAM(ctx.db(), ctx.extranet).release(agency)
    click.echo(f"{agency}: released vid {held.vid} and {held.prefix}" if held else f"{agency}: held nothing")
