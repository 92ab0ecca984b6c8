"""`dcops alerts`: check and export the rules, list incidents, acknowledge, silence.

Acknowledgements are left in the store for the engine (in `dcops run` or
`dcops demo`) to apply on its next tick, so they work from any shell.
Exit codes: 0 done; 1 a user error (no such incident); 2 invalid rules,
notify config or arguments (every error listed).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from dcops.secrets import SecretStore
from dcops.settings import Settings

from .matchers import MatcherError, parse_matchers
from .rules import parse_duration

INVALID = 2

rules_option = click.option("--rules", "rules_dir", type=click.Path(exists=True, path_type=Path), default=None,
                            help="Rules directory (default: $DCOPS_ALERT_RULES or alerts/rules).")
notify_option = click.option("--notify", type=click.Path(dir_okay=False, path_type=Path), default=None,
                             help="Notify config (default: $DCOPS_ALERT_NOTIFY or alerts/notify.yml).")
secrets_option = click.option("--secrets", type=click.Path(dir_okay=False, path_type=Path), default=None,
                              help="Secrets file (default: $DCOPS_SECRETS).")
store_option = click.option("--store", "store_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                            help="The embedded store (default: $DCOPS_STORE or var/dcops.db).")


def _store(path: Path | None):  # type: ignore[no-untyped-def]
    from .state import AlertStore

    return AlertStore(path or Settings.from_env().store)


def _load(rules_dir: Path | None, notify: Path | None, secrets: Path | None):  # type: ignore[no-untyped-def]
    from .config import ConfigError, load_policy
    from .rules import load_rules
    from .service import paths

    default_rules, default_notify = paths()
    rules = load_rules(rules_dir or default_rules)
    errors = [str(e) for e in rules.errors]
    policy = None
    try:
        store = SecretStore.from_file(secrets or Settings.from_env().secrets)
        policy = load_policy(notify or default_notify, store, [r.name for r in rules.rules])
    except ConfigError as exc:
        errors += [str(e) for e in exc.errors]
    return rules, policy, errors


@click.group()
def alerts() -> None:
    """Alert rules, incidents, acknowledgements and silences."""


@alerts.command()
@rules_option
@notify_option
@secrets_option
def check(rules_dir: Path | None, notify: Path | None, secrets: Path | None) -> None:
    """Validate the rules and the notify config: exit 0 when valid, 2 with every error listed."""
    rules, policy, errors = _load(rules_dir, notify, secrets)
    for err in errors:
        click.echo(err, err=True)
    if errors:
        click.echo(f"{len(errors)} error(s); {len(rules.rules)} rule(s) valid", err=True)
        sys.exit(INVALID)
    assert policy is not None
    click.echo(f"{len(rules.rules)} rules, {len(policy.channels)} channels, {len(policy.people)} people, "
               f"{len(policy.escalation)} escalation levels: valid")


@alerts.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@rules_option
@notify_option
@secrets_option
@click.option("--interval", type=click.FloatRange(1, 3600), default=30.0, show_default=True,
              help="The poll interval, for the staleness rule.")
def export(directory: Path, rules_dir: Path | None, notify: Path | None, secrets: Path | None,
           interval: float) -> None:
    """Write Prometheus rule files, their unit tests and an Alertmanager config into DIRECTORY."""
    from .export import export as write

    rules, policy, errors = _load(rules_dir, notify, secrets)
    if errors:
        for err in errors:
            click.echo(err, err=True)
        sys.exit(INVALID)
    assert policy is not None
    for line in write(rules.rules, policy, directory, interval=interval):
        click.echo(line)


@alerts.command("list")
@store_option
def list_(store_path: Path | None) -> None:
    """Open incidents with their alerts, active silences and failed deliveries."""
    from .state import FAILED, OPEN

    store = _store(store_path)
    now = time.time()
    alerts_by_incident: dict[int, list[str]] = {}
    pending = []
    for a in store.alerts():
        line = f"  {a['state']:<8} {a['key']}" + ("  (latched)" if a["latched"] else "")
        if a["incident"]:
            alerts_by_incident.setdefault(a["incident"], []).append(line)
        else:
            pending.append(line)
    incidents = store.incidents(state=OPEN)
    for inc in incidents:
        acked = f"acknowledged by {inc.acked_by}" if inc.acked_by else "not acknowledged"
        level = f"level {inc.level + 1}" if inc.level >= 0 else "not notified yet"
        click.echo(f"#{inc.id} {inc.group_key} {inc.severity or '-'} ({level}, {acked}) {inc.title}")
        for line in alerts_by_incident.get(inc.id, []):
            click.echo(line)
    for line in pending:
        click.echo(line)
    for s in store.silences(active_at=now):
        click.echo(f"silence {s.id}: {', '.join(s.matchers)} by {s.author} until "
                   f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(s.ends))}: {s.reason}")
    for row in store.outbox(status=FAILED, limit=20):
        click.echo(f"FAILED delivery {row.id} (incident {row.incident}, {row.kind}) on {row.channel} "
                   f"after {row.attempts} attempts: {row.last_error}")
    if not incidents and not pending:
        click.echo("no open incident")


@alerts.command()
@click.argument("incident", type=click.IntRange(1))
@click.option("--by", "who", required=True, help="Who acknowledges (name).")
@click.option("--note", default="", help="What is being done.")
@click.option("--wait", type=click.FloatRange(0, 60), default=3.0, show_default=True,
              help="Seconds to wait for the running engine to apply it.")
@store_option
def ack(incident: int, who: str, note: str, wait: float, store_path: Path | None) -> None:
    """Acknowledge INCIDENT: stops its escalation and ends its latched alerts whose reading cleared."""
    from .state import OPEN

    store = _store(store_path)
    row = store.incident(incident)
    if row is None:
        raise click.ClickException(f"no incident {incident}")
    if row.state != OPEN:
        raise click.ClickException(f"incident {incident} is already resolved")
    cid = store.add_command("ack", {"incident": incident, "by": who, "note": note})
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if (result := store.command_result(cid)) is not None:
            click.echo(result)
            return
        time.sleep(0.1)
    click.echo(f"acknowledgement of incident {incident} recorded; the engine applies it when it runs")


@alerts.group()
def silence() -> None:
    """Silence alerts by label matchers for a while."""


def _matchers(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    try:
        parse_matchers(list(value))
    except MatcherError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> float:
    seconds = parse_duration(value)
    if seconds is None or seconds <= 0:
        raise click.BadParameter(f"{value!r} is not a duration (like 30m, 2h, 1d)")
    return seconds


@silence.command("add")
@click.option("--match", "-m", "matchers", multiple=True, required=True, callback=_matchers,
              help="label=value, label!=value, label=~regex or label!~regex (repeatable; all must match).")
@click.option("--duration", default="2h", show_default=True, callback=_duration, help="How long (30m, 2h, 1d).")
@click.option("--author", required=True)
@click.option("--reason", required=True)
@store_option
def silence_add(matchers: tuple[str, ...], duration: float, author: str, reason: str,
                store_path: Path | None) -> None:
    """Silence the alerts every matcher matches, from now for --duration."""
    now = time.time()
    sid = _store(store_path).add_silence(list(matchers), now, now + duration, author, reason)
    click.echo(f"silence {sid}: {', '.join(matchers)} until "
               f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(now + duration))}")


@silence.command("list")
@store_option
def silence_list(store_path: Path | None) -> None:
    """Active silences."""
    now = time.time()
    rows = _store(store_path).silences(active_at=now)
    for s in rows:
        click.echo(f"{s.id}\t{', '.join(s.matchers)}\t{s.author}\t"
                   f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(s.ends))}\t{s.reason}")
    if not rows:
        click.echo("no active silence")


@silence.command("expire")
@click.argument("silence_id", type=click.IntRange(1))
@store_option
def silence_expire(silence_id: int, store_path: Path | None) -> None:
    """End a silence now."""
    if not _store(store_path).expire_silence(silence_id, time.time()):
        raise click.ClickException(f"no active silence {silence_id}")
    click.echo(f"silence {silence_id} expired")
