"""`dcops users add|list|set-role|passwd|disable|enable`: the panel's accounts, in the store's database.

Exit codes: 0 done; 1 a refused request (a duplicate name, an unknown
user, a short password); 2 a usage error (an unknown role, a bad name).
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click

from .users import NAME_PATTERN, ROLES, UserError, UserStore

store_option = click.option(
    "--store", "store_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="The embedded store the panel uses (default: $DCOPS_STORE or var/dcops.db).")


def _open(store_path: Path | None) -> UserStore:
    from dcops.settings import Settings

    return UserStore(store_path or Settings.from_env().store)


def _name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not NAME_PATTERN.match(value):
        raise click.BadParameter("1-64 letters, digits, '_', '.', '@' or '-'")
    return value


def _password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@click.group()
def users() -> None:
    """Manage the panel's users (roles: viewer < operator < admin)."""


@users.command("add")
@click.argument("name", callback=_name)
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@store_option
def add(name: str, role: str, password_stdin: bool, store_path: Path | None) -> None:
    """Add the user NAME with a role; the password is asked for (or read from stdin)."""
    store = _open(store_path)
    try:
        store.add(name, role, _password(password_stdin))
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    store.audit(_actor(), "user added", name, f"role={role}")
    click.echo(f"added {name} ({role})")


@users.command("list")
@store_option
def list_users(store_path: Path | None) -> None:
    """List the users with their roles."""
    for user in _open(store_path).all():
        click.echo("\t".join([user.name, user.role, *(["disabled"] if user.disabled else [])]))


@users.command("set-role")
@click.argument("name", callback=_name)
@click.argument("role", type=click.Choice(ROLES))
@store_option
def set_role(name: str, role: str, store_path: Path | None) -> None:
    """Give NAME another role (their open sessions end)."""
    _change(store_path, name, "user changed", f"role={role}", lambda s: s.set_role(name, role))


@users.command("passwd")
@click.argument("name", callback=_name)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@store_option
def passwd(name: str, password_stdin: bool, store_path: Path | None) -> None:
    """Set NAME's password (their open sessions end)."""
    password = _password(password_stdin)
    _change(store_path, name, "user changed", "password reset", lambda s: s.set_password(name, password))


@users.command("disable")
@click.argument("name", callback=_name)
@store_option
def disable(name: str, store_path: Path | None) -> None:
    """Stop NAME from logging in (their open sessions end)."""
    _change(store_path, name, "user changed", "disabled=True", lambda s: s.set_disabled(name, True))


@users.command("enable")
@click.argument("name", callback=_name)
@store_option
def enable(name: str, store_path: Path | None) -> None:
    """Let a disabled NAME log in again."""
    _change(store_path, name, "user changed", "disabled=False", lambda s: s.set_disabled(name, False))


def _change(store_path: Path | None, name: str, action: str, detail: str, do: object) -> None:
    store = _open(store_path)
    try:
        do(store)  # type: ignore[operator]
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    store.audit(_actor(), action, name, detail)
    click.echo(f"{name}: {detail}")
