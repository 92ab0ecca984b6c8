"""Alerting inside `dcops run` and `dcops demo`: rules, policy, engine, dispatcher and a ticker thread.

The engine is one more output of the poller (`publish`) and gets trap events
through `event`; the ticker calls `engine.tick()` every `tick` seconds so
that `for`, group waits, staleness and escalation happen without samples.
Rules come from $DCOPS_ALERT_RULES (a directory, default alerts/rules), who
is notified from $DCOPS_ALERT_NOTIFY (default alerts/notify.yml). A bad rule
is logged and left out; a bad notify config stops the start with every error.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from dcops.secrets import SecretStore
from dcops.types import Sample
from inventory.model import Inventory

from .config import NOTIFY_FILE, Policy, load_policy
from .engine import Engine
from .notifiers.dispatch import Dispatcher
from .rules import RULES_DIR, RuleSet, load_rules
from .state import AlertStore

log = logging.getLogger(__name__)


def paths(environ: Mapping[str, str] | None = None) -> tuple[Path, Path]:
    env = os.environ if environ is None else environ
    return Path(env.get("DCOPS_ALERT_RULES", str(RULES_DIR))), Path(env.get("DCOPS_ALERT_NOTIFY", str(NOTIFY_FILE)))


class Alerting:
    def __init__(
        self,
        inventory: Inventory,
        store_path: Path,
        *,
        rules: RuleSet,
        policy: Policy,
        interval: float = 30.0,
        clock: Callable[[], float] = time.time,
        latest: Iterable[Sample] = (),
        tick: float = 0.1,
    ) -> None:
        for err in rules.errors:
            log.error("alert rule left out: %s", err)
        self.rules = rules
        self.store = AlertStore(store_path, clock=clock)
        self.dispatcher = Dispatcher(self.store, policy.channels, policy.retry, clock=clock)
        self.engine = Engine(rules.rules, inventory, self.store, policy=policy, clock=clock, interval=interval,
                             submit=self.dispatcher.submit, latest=latest)
        self.publish = self.engine.publish
        self.event = self.engine.event
        self.tick = tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_files(cls, inventory: Inventory, store_path: Path, *, rules_dir: Path | None = None,
                   notify: Path | None = None, secrets: SecretStore | None = None, **kwargs: object) -> Alerting:
        default_rules, default_notify = paths()
        rules = load_rules(rules_dir or default_rules)
        policy = load_policy(notify or default_notify, secrets, [r.name for r in rules.rules])
        return cls(inventory, store_path, rules=rules, policy=policy, **kwargs)  # type: ignore[arg-type]

    def start(self) -> str:
        self.dispatcher.start()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="alerts-tick", daemon=True)
        self._thread.start()
        return (f"{len(self.rules.rules)} rules ({len(self.rules.errors)} left out), "
                f"{len(self.dispatcher.workers)} channels")

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.engine.tick()
            except Exception:  # keep ticking: a failed tick is retried on the next one
                log.exception("alert engine tick failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self.dispatcher.stop()
        self.store.close()


def for_service(inventory: Inventory, store_path: Path, interval: float, latest: Iterable[Sample] = ()) -> Alerting:
    """The alerting of `dcops run`/`dcops demo`; a bad notify config stops the start with every error."""
    import click

    from dcops.settings import Settings

    from .config import ConfigError

    secrets = Settings.from_env().secrets
    try:
        return Alerting.from_files(inventory, store_path, secrets=SecretStore.from_file(secrets),
                                   interval=interval, latest=latest)
    except ConfigError as exc:
        raise click.ClickException("the notify config is not valid:\n" + str(exc)) from None
