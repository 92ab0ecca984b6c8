"""The alert engine: every sample batch and trap event moves alerts inactive → pending → firing → resolved.

It is an output of the poller (`engine.publish(report, samples)`, like the
store) and is ticked by the service (`engine.tick()`, ten times a second) so
that `for` durations, staleness, group waits and escalations happen on time
even when no sample arrives. Time comes from the injected `clock`; nothing
sleeps. Thresholds have hysteresis: an alert fires when the value crosses
`threshold` and clears only when it crosses back over `clear`. Latching
rules (leak, smoke) stay firing after the reading clears until someone
acknowledges. Grouping, inhibition, silences, acknowledgements and
escalation are in incidents.py; what they decide is stored before it is sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from dcops.types import PollReport, Sample
from inventory.model import Inventory

from .config import Policy
from .incidents import Incidents
from .model import (
    ABOVE,
    BELOW,
    DURING_WORKING_HOURS,
    EQUALS,
    EVENT,
    FIRING,
    IMBALANCE,
    OUTSIDE_WORKING_HOURS,
    PENDING,
    RESOLVED,
    STALE,
    UP_METRIC,
    Alert,
    Rule,
    alert_key,
)
from .state import AlertStore, OutboxRow

SeriesKey = tuple[str, str, tuple[tuple[str, str], ...]]
CLEARED = "cleared"
MAINTENANCE_EVERY = 1.0  # seconds between staleness, silence and command checks


class Event(Protocol):
    """A trap or inform as the trap receiver hands it over (dcops.types.TrapEvent has these fields)."""

    @property
    def device(self) -> str: ...
    @property
    def ts(self) -> float: ...
    @property
    def kind(self) -> str: ...  # on_battery, leak, door_open, smoke, link_down, ...
    @property
    def severity(self) -> str: ...  # critical, warning, info, or cleared: the condition ended


@dataclass
class _Series:
    labels: dict[str, str]
    rules: list[Rule]
    aggregates: list[tuple[Rule, str]]  # (rule, group key)
    interval: float
    last_seen: float = 0.0
    rating: float | None = None


@dataclass
class _Aggregate:
    labels: dict[str, str]
    members: dict[SeriesKey, bool] = field(default_factory=dict)


class Engine:
    def __init__(
        self,
        rules: Sequence[Rule],
        inventory: Inventory,
        store: AlertStore,
        *,
        policy: Policy | None = None,
        clock: Callable[[], float] = time.time,
        interval: float = 30.0,
        submit: Callable[[OutboxRow], None] = lambda row: None,
        latest: Iterable[Sample] = (),
    ) -> None:
        self.rules = list(rules)
        self.inventory = inventory
        self.store = store
        self.policy = policy or Policy()
        self.clock = clock
        self.interval = interval
        self.lock = threading.RLock()
        self.alerts: dict[str, Alert] = {}
        self.series: dict[SeriesKey, _Series] = {}
        self.aggregates: dict[tuple[str, str], _Aggregate] = {}
        self._by_metric: dict[str, list[Rule]] = {}
        self._agg_by_metric: dict[str, list[Rule]] = {}
        self._stale = [r for r in self.rules if r.kind == STALE]
        self._events = [r for r in self.rules if r.kind == EVENT]
        for r in self.rules:
            if r.kind in (ABOVE, BELOW, EQUALS, IMBALANCE):
                (self._agg_by_metric if r.aggregate else self._by_metric).setdefault(r.metric, []).append(r)
        self._changes: list[tuple[str, tuple[Any, ...]]] = []
        self._last_values: dict[SeriesKey, float] = {}
        self._siblings: dict[tuple[str, str], list[SeriesKey]] = {}  # a device's series of one metric
        self._last_maintenance = 0.0
        self._working: tuple[int, bool] = (-1, False)
        self.incidents = Incidents(self, submit)
        self.started = clock()
        self._restore(latest)

    # ------------------------------------------------------------------ inputs

    def publish(self, report: PollReport, samples: Sequence[Sample]) -> None:
        """The poller output: evaluate one device's poll (its report becomes the `up` series)."""
        now = self.clock()
        up = Sample(report.device, UP_METRIC, 1.0 if report.up else 0.0, report.ts)
        with self.lock:
            self._sample(up, now)
            for s in samples:
                self._sample(s, now)
            self._commit()

    def evaluate(self, samples: Iterable[Sample]) -> None:
        """Evaluate samples that come without a poll report (tests, the benchmark, other collectors)."""
        now = self.clock()
        with self.lock:
            for s in samples:
                self._sample(s, now)
            self._commit()

    def event(self, ev: Event) -> None:
        """A trap or inform: fires the event rules of its kind at once; a `cleared` one ends them."""
        now = self.clock()
        with self.lock:
            labels = self._device_labels(ev.device)
            for rule in self._events:
                if ev.kind != rule.event or not self._matches(rule, labels):
                    continue
                if ev.severity != CLEARED and not self._when_ok(rule, now):
                    continue
                if ev.severity == CLEARED:
                    if a := self.alerts.get(alert_key(rule.name, labels)):
                        self._clear(a, now)
                else:
                    a = self._alert(rule, labels)
                    a.last_seen = now
                    if a.state != FIRING:
                        a.active_since = now
                        self._fire(a, now)
                    elif a.latched:
                        a.latched = False
                        self._save(a, "relatched", "")
            self._commit()
            self.incidents.tick(now)

    def tick(self, now: float | None = None) -> None:
        """Promote due pending alerts, end event alerts, check staleness, notify and escalate."""
        now = self.clock() if now is None else now
        with self.lock:
            for a in [a for a in self.alerts.values() if a.state == PENDING]:
                if now - a.active_since >= a.rule.for_:
                    self._fire(a, now)
            for a in [a for a in self.alerts.values() if a.rule.kind == EVENT and a.state == FIRING]:
                if a.rule.resolve_after and not a.latched and now - a.last_seen >= a.rule.resolve_after:
                    self._clear(a, now)
            if now - self._last_maintenance >= MAINTENANCE_EVERY:
                self._last_maintenance = now
                self._check_stale(now)
                self.incidents.maintenance(now)
            self._commit()
            self.incidents.tick(now)
            self._commit()

    # -------------------------------------------------------------- evaluation

    def _device_labels(self, device: str) -> dict[str, str]:
        dev = self.inventory.devices.get(device)
        if dev is None:
            return {"device": device, "class": "", "rack": "", "room": ""}
        room = self.inventory.racks[dev.rack].location if dev.rack in self.inventory.racks else dev.location
        return {"device": device, "class": dev.device_class, "rack": dev.rack or "", "room": room}

    @staticmethod
    def _matches(rule: Rule, labels: dict[str, str]) -> bool:
        return all(labels.get(k, "") in values for k, values in rule.match.items())

    def _series(self, s: Sample) -> _Series:
        key = s.key
        info = self.series.get(key)
        if info is None:
            labels = {**self._device_labels(s.device), **dict(s.labels), "metric": s.metric}
            dev = self.inventory.devices.get(s.device)
            rules = [r for r in self._by_metric.get(s.metric, ()) if self._matches(r, labels)]
            aggs = []
            for r in self._agg_by_metric.get(s.metric, ()):
                if self._matches(r, labels):
                    glabels = {b: labels.get(b, "") for b in r.by}
                    gkey = alert_key(r.name, glabels)
                    self.aggregates.setdefault((r.name, gkey), _Aggregate(glabels))
                    aggs.append((r, gkey))
            interval = (dev.interval if dev is not None and dev.interval else None) or self.interval
            info = _Series(labels, rules, aggs, interval, rating=dev.rating if dev is not None else None)
            self.series[key] = info
            self._siblings.setdefault((s.device, s.metric), []).append(key)
        return info

    def _alert(self, rule: Rule, labels: dict[str, str]) -> Alert:
        key = alert_key(rule.name, labels)
        a = self.alerts.get(key)
        if a is None:
            a = self.alerts[key] = Alert(rule, dict(labels))
        return a

    def _sample(self, s: Sample, now: float) -> None:
        info = self._series(s)
        info.last_seen = max(info.last_seen, s.ts)
        if self._stale:
            for rule in self._stale:
                a = self.alerts.get(alert_key(rule.name, info.labels))
                if a is not None:
                    self._clear(a, now)
        for rule in info.rules:
            if rule.kind == IMBALANCE:
                self._imbalance(rule, s, info, now)
                continue
            thr, clr = rule.threshold, rule.clear
            if rule.of_rating:
                if not info.rating:
                    continue
                thr, clr = thr * info.rating, clr * info.rating
            a = self.alerts.get(alert_key(rule.name, info.labels))
            firing = a is not None and a.state == FIRING and not a.latched
            self._judge(rule, info.labels, a, self._test(rule, s.value, clr if firing else thr), s.value, now)
        for rule, gkey in info.aggregates:
            agg = self.aggregates[(rule.name, gkey)]
            agg.members[s.key] = self._test(rule, s.value, rule.threshold)
            cond = bool(agg.members) and all(agg.members.values())
            self._judge(rule, agg.labels, self.alerts.get(gkey), cond, s.value, now)

    @staticmethod
    def _test(rule: Rule, value: float, threshold: float) -> bool:
        if rule.kind == ABOVE:
            return value > threshold
        if rule.kind == BELOW:
            return value < threshold
        if rule.kind == EQUALS:
            return value in rule.values
        return value > threshold  # imbalance

    def _imbalance(self, rule: Rule, s: Sample, info: _Series, now: float) -> None:
        """Compare the device's series of this metric that differ only in `across` (the latest of each)."""
        others = {k: v for k, v in info.labels.items() if k != rule.across}
        values = []
        for key in self._siblings.get((s.device, s.metric), ()):
            other = self.series[key]
            if rule in other.rules:
                if all(other.labels.get(k) == v for k, v in others.items()):
                    values.append(self._last_values.get(key, 0.0) if key != s.key else s.value)
        self._last_values[s.key] = s.value
        if len(values) < 2 or max(values) <= 0:
            return
        ratio = (max(values) - min(values)) / max(values)
        a = self.alerts.get(alert_key(rule.name, others))
        self._judge(rule, others, a, ratio > (rule.clear if a and a.state == FIRING else rule.threshold), ratio, now)

    def _when_ok(self, rule: Rule, now: float) -> bool:
        if rule.when not in (OUTSIDE_WORKING_HOURS, DURING_WORKING_HOURS):
            return True
        second = int(now)
        if self._working[0] != second:
            self._working = (second, self.policy.rota.working(now))
        return self._working[1] == (rule.when == DURING_WORKING_HOURS)

    def _judge(self, rule: Rule, labels: dict[str, str], a: Alert | None, cond: bool, value: float,
               now: float) -> None:
        cond = cond and self._when_ok(rule, now)
        if a is None or a.state not in (PENDING, FIRING):
            if cond:
                a = self._alert(rule, labels)
                a.state, a.active_since, a.value, a.last_seen, a.latched = PENDING, now, value, now, False
                self._save(a, "pending", f"{value:g}")
                if rule.for_ <= 0:
                    self._fire(a, now)
            return
        a.value = value
        if cond:
            a.last_seen = now
            if a.latched:  # the condition came back before anyone acknowledged
                a.latched = False
                self._save(a, "relatched", f"{value:g}")
        elif a.state == PENDING:
            del self.alerts[a.key]
            self._changes.append(self.store.alert_delete(a.key))
            self._changes.append(self.store.history(now, 0, a.key, "inactive", f"{value:g}"))
        elif not a.latched:
            self._clear(a, now)

    def _fire(self, a: Alert, now: float) -> None:
        a.state, a.fired_at = FIRING, now
        self.incidents.attach(a, now)
        self._save(a, "firing", f"{a.value:g}")

    def _clear(self, a: Alert, now: float) -> None:
        """The condition is gone: a latching alert nobody acknowledged stays firing, latched."""
        if a.state == FIRING and a.rule.latch and not a.acked:
            if not a.latched:
                a.latched = True
                self._save(a, "latched", f"{a.value:g}")
            return
        self.resolve(a, now)

    def resolve(self, a: Alert, now: float, detail: str = "") -> None:
        was_firing = a.state == FIRING
        a.state, a.resolved_at = RESOLVED, now
        self.alerts.pop(a.key, None)
        self._changes.append(self.store.alert_delete(a.key))
        self._changes.append(self.store.history(now, a.incident, a.key, "resolved" if was_firing else "inactive",
                                                detail))
        if was_firing:
            self.incidents.detach(a, now)

    def _save(self, a: Alert, event: str, detail: str) -> None:
        self._changes.append(self.store.alert_upsert({
            "key": a.key, "rule": a.rule.name, "labels": a.labels, "state": a.state, "value": a.value,
            "active_since": a.active_since, "fired_at": a.fired_at, "latched": a.latched, "acked": a.acked,
            "incident": a.incident, "last_seen": a.last_seen}))
        self._changes.append(self.store.history(self.clock(), a.incident, a.key, event, detail))

    def _commit(self) -> None:
        if self._changes:
            changes, self._changes = self._changes, []
            self.store.commit(changes)

    def _check_stale(self, now: float) -> None:
        for rule in self._stale:
            for key, info in self.series.items():
                if rule.metric and key[1] != rule.metric:
                    continue
                if not self._matches(rule, info.labels):
                    continue
                age = now - max(info.last_seen, self.started)
                stale = age > rule.intervals * info.interval
                a = self.alerts.get(alert_key(rule.name, info.labels))
                if stale and (a is None or a.state not in (PENDING, FIRING)):
                    self._judge(rule, info.labels, a, True, age, now)
                elif stale and a is not None:
                    a.value = age

    def ack(self, incident: int, who: str, note: str = "") -> str:
        """Acknowledge an incident: stops its escalation, ends its latched alerts whose reading cleared."""
        now = self.clock()
        with self.lock:
            result = self.incidents.ack(incident, who, note, now)
            self._commit()
            self.incidents.tick(now)
            self._commit()
        return result

    # ----------------------------------------------------------------- restore

    def _restore(self, latest: Iterable[Sample]) -> None:
        by_name = {r.name: r for r in self.rules}
        for row in self.store.alerts():
            rule = by_name.get(row["rule"])
            if rule is None or row["state"] != FIRING:  # a removed rule's alert ends with it; a pending one
                self._changes.append(self.store.alert_delete(row["key"]))  # waits for fresh samples again
                continue
            a = Alert(rule, row["labels"], state=row["state"], value=row["value"], active_since=row["active_since"],
                      fired_at=row["fired_at"], latched=row["latched"], acked=row["acked"],
                      incident=row["incident"], last_seen=row["last_seen"])
            self.alerts[a.key] = a
        for s in latest:  # staleness continues from what the store last saw (never before our start)
            self._series(s).last_seen = s.ts
        self._commit()
        self.incidents.restore()

    # ------------------------------------------------------------------ reading

    def snapshot(self) -> list[Alert]:
        with self.lock:
            return sorted(self.alerts.values(), key=lambda a: (a.fired_at or a.active_since, a.key))
