"""`dcops lab scenario NAME`: break the virtual room on a script and show who hears what, when.

A scenario runs its own lab in-process: the reference room served by a real
snmpsim on a free port, polled over real SNMP every 30 s of *simulated* time,
fed to the real alert engine and notifiers. The clock is ours (the room's
physics, the poller's time stamps and the engine all read it), so a 20-minute
incident plays in seconds and the same script always yields the same
notifications. Each step sets or clears a fault from `lab.Faults`, or
acknowledges the open incidents as the on-call engineer would.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from alerts.config import Policy, load_policy
from alerts.rules import RuleSet, load_rules
from alerts.service import Alerting
from alerts.state import OPEN
from collectors.poller import Poller, PollerSettings
from dcops.secrets import SecretStore
from inventory import REFERENCE_DIR, load_inventory

from .room import LabRunner, at_address
from .snmpsim import free_udp_port

STEP = 30.0  # seconds of simulated time between polls
# 02:00 on a Wednesday night: outside working hours, when the door matters and the rota's turn is on call.
DEFAULT_START = dt.datetime(2026, 11, 25, 2, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


@dataclass(frozen=True)
class Step:
    at: float  # seconds after the start
    fault: str = ""
    value: Any = None
    ack: tuple[str, str] | None = None  # (who, note): acknowledge every open incident

    def describe(self) -> str:
        if self.ack is not None:
            return f"{self.ack[0]} acknowledges: {self.ack[1]}"
        return f"fault {self.fault} = {sorted(self.value) if isinstance(self.value, set) else self.value}"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    duration: float
    steps: tuple[Step, ...]


SCENARIOS = {s.name: s for s in (
    Scenario("crac-failure", "crac-2 fails at 1 min and is repaired at 6 min", 480,
             (Step(60, "crac_failed", {"crac-2"}), Step(360, "crac_failed", set()))),
    Scenario("utility-outage", "the mains fail at 1 min and return at 10 min; the UPSes carry the room", 720,
             (Step(60, "utility_lost", True), Step(600, "utility_lost", False))),
    Scenario("water-leak", "the leak rope gets wet at 1 min, dries at 5 min; the on-call acknowledges at 8 min",
             720, (Step(60, "leak", True), Step(300, "leak", False), Step(480, ack=("李娜", "已到现场，已排水")))),
    Scenario("door-forced", "the machine-room door opens at 02:01 and closes at 02:03", 300,
             (Step(60, "door_open", True), Step(180, "door_open", False))),
    Scenario("agent-down", "pdu-A03-a's management card stops answering at 1 min and is back at 5 min", 480,
             (Step(60, "agent_down", {"pdu-A03-a"}), Step(300, "agent_down", set()))),
)}


@dataclass
class SimClock:
    now: float

    def __call__(self) -> float:
        return self.now


@dataclass
class Delivery:
    at: float  # seconds after the start
    kind: str
    channel: str
    recipients: list[str]
    title: str
    status: str
    incident: int

    def line(self) -> str:
        m, s = divmod(int(self.at), 60)
        who = f" ({', '.join(self.recipients)})" if self.recipients else ""
        return f"[+{m:02d}:{s:02d}] {self.kind:<10} → {self.channel}{who}: {self.title}  [{self.status}]"


@dataclass
class Result:
    scenario: Scenario
    deliveries: list[Delivery] = field(default_factory=list)


def run_scenario(
    name: str,
    *,
    workdir: Path | None = None,
    rules: RuleSet | None = None,
    policy: Policy | None = None,
    start: float = DEFAULT_START,
    echo: Callable[[str], None] = lambda line: None,
) -> Result:
    """Play scenario `name`; return every delivery the notifiers made (also `echo`ed as they happen)."""
    scenario = SCENARIOS[name]
    rules = rules or load_rules()
    policy = policy or load_policy(secrets=SecretStore({}), rule_names=[r.name for r in rules.rules])
    with tempfile.TemporaryDirectory(prefix="dcops-scenario-") as tmp:
        work = workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        return asyncio.run(_play(scenario, work, rules, policy, start, echo))


async def _play(scenario: Scenario, work: Path, rules: RuleSet, policy: Policy, start: float,
                echo: Callable[[str], None]) -> Result:
    clock = SimClock(start)
    inventory = at_address(load_inventory(REFERENCE_DIR), "127.0.0.1", free_udp_port())
    result = Result(scenario)
    alerting = Alerting(inventory, work / "dcops.db", rules=rules, policy=policy, interval=STEP, clock=clock)
    alerting.dispatcher.start()
    poller = Poller(inventory, outputs=[alerting.publish], clock=clock,
                    settings=PollerSettings(timeout=1.0, retries=1, interval=STEP))
    shown = 0

    def settle() -> None:
        nonlocal shown
        alerting.engine.tick()
        alerting.dispatcher.drain()
        for row in alerting.store.outbox()[shown:]:
            d = Delivery(row.created - start, row.kind, row.channel, row.recipients, row.message["title"],
                         row.status, row.incident)
            result.deliveries.append(d)
            echo(d.line())
        shown = len(result.deliveries)

    lab = LabRunner(inventory, work / "lab", clock, interval=3600)
    try:
        lab.start()
        echo(f"{scenario.name}: {scenario.description}")
        steps = list(scenario.steps)
        t = 0.0
        while t <= scenario.duration:
            clock.now = start + t
            while steps and steps[0].at <= t:
                step = steps.pop(0)
                echo(f"[+{int(t) // 60:02d}:{int(t) % 60:02d}] {step.describe()}")
                if step.ack is not None:
                    for inc in alerting.store.incidents(state=OPEN):
                        alerting.engine.ack(inc.id, *step.ack)
                else:
                    lab.faults[step.fault] = step.value
            lab.room.render(clock.now)
            await poller.poll_once()
            settle()
            clock.now += policy.group_wait + 0.1  # the group wait passes before the next poll
            settle()
            t += STEP
    finally:
        lab.stop()
        close = getattr(poller.transport, "close", None)
        if close is not None:
            close()
        alerting.stop()
    return result


def _start(ctx: click.Context, param: click.Parameter, value: str | None) -> float:
    if value is None:
        return DEFAULT_START
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date and time like 2026-11-25T02:00") from None
    return (when if when.tzinfo else when.replace(tzinfo=ZoneInfo("Asia/Shanghai"))).timestamp()


@click.command("scenario")
@click.argument("name", type=click.Choice(sorted(SCENARIOS)))
@click.option("--notify", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Notify config (default: $DCOPS_ALERT_NOTIFY or alerts/notify.yml: the log channel).")
@click.option("--rules", "rules_dir", type=click.Path(exists=True, path_type=Path), default=None,
              help="Rules directory (default: $DCOPS_ALERT_RULES or alerts/rules).")
@click.option("--secrets", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--start", callback=_start, default=None, metavar="YYYY-MM-DDTHH:MM",
              help="Simulated start, Asia/Shanghai unless given [default: 2026-11-25T02:00, a Wednesday night].")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the lab, the store and the log here (default: a temporary directory).")
def scenario(name: str, notify: Path | None, rules_dir: Path | None, secrets: Path | None, start: float,
             workdir: Path | None) -> None:
    """Play scenario NAME on an in-process virtual room, on simulated time, and print every notification."""
    from alerts.config import ConfigError
    from alerts.service import paths

    default_rules, default_notify = paths()
    rules = load_rules(rules_dir or default_rules)
    for err in rules.errors:
        click.echo(f"rule left out: {err}", err=True)
    try:
        policy = load_policy(notify or default_notify, SecretStore.from_file(secrets),
                             [r.name for r in rules.rules])
    except ConfigError as exc:
        raise click.ClickException("the notify config is not valid:\n" + str(exc)) from None
    result = run_scenario(name, workdir=workdir, rules=rules, policy=policy, start=start, echo=click.echo)
    failed = [d for d in result.deliveries if d.status != "sent"]
    click.echo(f"{len(result.deliveries)} deliveries, {len(failed)} not sent")
