"""Incidents: alerts grouped (by room and category, by default) into one notification each.

An incident opens when the first alert of its group fires and is notified
once `group_wait` later with every alert that fired meanwhile; alerts that
join later stay quiet unless the incident's severity rises (an `update`).
Silenced and inhibited alerts are tracked but notify nobody; an inhibited
alert is listed under the alert inhibiting it (UPS on battery under the
utility outage). Not acknowledged within an escalation level's `after`, the
next level is notified. The incident resolves, with one `resolved`
notification, when none of its alerts fires any more. Every notification is
written to the outbox with the incident's state in one transaction, then
handed to the dispatcher: a restart re-sends nothing that was sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import format, template
from .matchers import Matcher, MatcherError, match_all, parse_matchers
from .model import FIRING, PENDING, Alert, severity_rank
from .state import CLOSED, OPEN, IncidentRow, OutboxRow, SilenceRow

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger(__name__)


class Incidents:
    def __init__(self, engine: Engine, submit: Callable[[OutboxRow], None]) -> None:
        self.e = engine
        self.submit = submit
        self.open: dict[int, IncidentRow] = {}
        self.by_group: dict[str, int] = {}
        self.members: dict[int, dict[str, Alert]] = {}
        self.first_notifiable: dict[int, float] = {}
        self.silences: list[tuple[SilenceRow, tuple[Matcher, ...]]] = []
        self.rooms = {name: loc.label or name for name, loc in engine.inventory.locations.items()}

    # ----------------------------------------------------------------- labels

    @staticmethod
    def full_labels(a: Alert) -> dict[str, str]:
        return {**a.labels, "alertname": a.rule.name, "severity": a.rule.severity, "category": a.rule.category}

    def group_of(self, a: Alert) -> tuple[str, dict[str, str]]:
        full = self.full_labels(a)
        labels = {k: full.get(k, "") for k in self.e.policy.group_by}
        return ",".join(f"{k}={v}" for k, v in labels.items()), labels

    def summary(self, a: Alert) -> str:
        scale = 1.0
        if a.rule.of_rating:
            dev = self.e.inventory.devices.get(a.labels.get("device", ""))
            scale = (dev.rating or 1.0) if dev is not None else 1.0
        numbers = {"value": a.value, "threshold": a.rule.threshold * scale, "clear": a.rule.clear * scale}
        labels = {**a.labels, "rule": a.rule.name, "severity": a.rule.severity}
        try:
            return template.render(a.rule.summary, labels, numbers)
        except (ValueError, KeyError) as exc:  # checked at load; never lose the alert over its text
            return f"{a.rule.name} {a.labels.get('device', '')} ({exc})"

    # ------------------------------------------------------------- membership

    def attach(self, a: Alert, now: float) -> None:
        key, labels = self.group_of(a)
        iid = self.by_group.get(key)
        if iid is None:
            inc = self.e.store.new_incident(key, labels, now)
            iid = inc.id
            self.open[iid] = inc
            self.by_group[key] = iid
            self.members[iid] = {}
        a.incident = iid
        self.members[iid][a.key] = a

    def detach(self, a: Alert, now: float) -> None:
        """A member resolved: it stays listed until the incident closes."""

    def restore(self) -> None:
        for inc in self.e.store.incidents(state=OPEN, limit=100000):
            self.open[inc.id] = inc
            self.by_group[inc.group_key] = inc.id
            self.members[inc.id] = {}
        for a in self.e.alerts.values():
            if a.state == FIRING:
                if a.incident in self.members:
                    self.members[a.incident][a.key] = a
                else:
                    self.attach(a, a.fired_at)
        self.load_silences(self.e.clock())

    # ------------------------------------------------------- silence, inhibit

    def load_silences(self, now: float) -> None:
        out = []
        for row in self.e.store.silences(active_at=now):
            try:
                out.append((row, parse_matchers(row.matchers)))
            except MatcherError as exc:  # stored by hand? never let it silence everything
                log.error("silence %d ignored: %s", row.id, exc)
        self.silences = out

    def silenced_by(self, a: Alert, now: float) -> int:
        full = self.full_labels(a)
        for row, matchers in self.silences:
            if row.active(now) and match_all(matchers, full):
                return row.id
        return 0

    def _sources(self) -> dict[tuple[str, tuple[str, ...]], Alert]:
        names = {i.source for i in self.e.policy.inhibit}
        out: dict[tuple[str, tuple[str, ...]], Alert] = {}
        for a in self.e.alerts.values():
            if a.rule.name in names and a.state in (PENDING, FIRING):
                for inh in self.e.policy.inhibit:
                    if inh.source == a.rule.name:
                        out[(inh.source, tuple(a.labels.get(k, "") for k in inh.equal))] = a
        return out

    def inhibited_by(self, a: Alert, sources: dict[tuple[str, tuple[str, ...]], Alert]) -> Alert | None:
        for inh in self.e.policy.inhibit:
            if a.rule.name == inh.source or (inh.targets and a.rule.name not in inh.targets):
                continue
            src = sources.get((inh.source, tuple(a.labels.get(k, "") for k in inh.equal)))
            if src is not None and src is not a:
                return src
        return None

    # -------------------------------------------------------------- the tick

    def maintenance(self, now: float) -> None:
        self.load_silences(now)
        for cid, kind, payload in self.e.store.pending_commands():
            if kind == "ack":
                result = self.ack(int(payload["incident"]), str(payload["by"]), str(payload.get("note", "")), now)
            else:
                result = f"unknown command {kind!r}"
            self.e._changes.append(self.e.store.command_done(cid, now, result))

    def tick(self, now: float) -> None:
        sources = self._sources()
        for iid, inc in list(self.open.items()):
            members = self.members.get(iid, {})
            firing = [a for a in members.values() if a.state == FIRING]
            if not firing:
                self._close(inc, now)
                continue
            notifiable = [a for a in firing if not self.silenced_by(a, now) and self.inhibited_by(a, sources) is None]
            if not notifiable:
                self.first_notifiable.pop(iid, None)
                continue
            severity = max((a.rule.severity for a in notifiable), key=severity_rank)
            if inc.level < 0:
                first = self.first_notifiable.setdefault(iid, min(a.fired_at for a in notifiable))
                if now - first >= self.e.policy.group_wait:
                    self._notify(inc, "firing", [0], now, self._listed(notifiable, firing, sources), severity)
                continue
            if severity_rank(severity) > severity_rank(inc.severity or "info"):
                levels = list(range(inc.level + 1))
                self._notify(inc, "update", levels, now, self._listed(notifiable, firing, sources), severity)
            nxt = inc.level + 1
            if not inc.acked_by and nxt < len(self.e.policy.escalation):
                if now >= inc.notified_at + self.e.policy.escalation[nxt].after:
                    inc.level = nxt
                    self._notify(inc, "escalation", [nxt], now, self._listed(notifiable, firing, sources),
                                 inc.severity, keep_time=True)

    def _listed(self, notifiable: list[Alert], firing: list[Alert],
                sources: dict[tuple[str, tuple[str, ...]], Alert]) -> list[dict[str, Any]]:
        """Notifiable alerts, worst first, each followed by the alerts it inhibits."""
        order = sorted(notifiable, key=lambda a: (-severity_rank(a.rule.severity), a.fired_at, a.key))
        out = []
        for a in order:
            out.append(format.alert_dict(a, self.summary(a)))
            for b in sorted(firing, key=lambda b: (b.fired_at, b.key)):
                if b is not a and self.inhibited_by(b, sources) is a:
                    out.append(format.alert_dict(b, self.summary(b), under=a.key))
        return out

    def _close(self, inc: IncidentRow, now: float) -> None:
        inc.state, inc.resolved_at = CLOSED, now
        if inc.level >= 0:
            members = sorted(self.members.get(inc.id, {}).values(),
                             key=lambda a: (-severity_rank(a.rule.severity), a.fired_at, a.key))
            listed = [format.alert_dict(a, self.summary(a)) for a in members]
            self._notify(inc, "resolved", list(range(inc.level + 1)), now, listed, inc.severity, keep_time=True)
        else:
            self.e._changes.append(self.e.store.incident_update(inc))
            self.e._changes.append(self.e.store.history(now, inc.id, "", "closed", "never notified"))
        self.open.pop(inc.id, None)
        if self.by_group.get(inc.group_key) == inc.id:
            del self.by_group[inc.group_key]
        self.members.pop(inc.id, None)
        self.first_notifiable.pop(inc.id, None)

    def _notify(self, inc: IncidentRow, kind: str, levels: list[int], now: float, alerts: list[dict[str, Any]],
                severity: str, keep_time: bool = False) -> None:
        policy = self.e.policy
        if kind == "firing":
            inc.level, inc.notified_at, inc.title = 0, now, alerts[0]["summary"] if alerts else ""
        if not keep_time:
            inc.severity = severity
        message = format.build(kind, inc, alerts, severity=severity, level=max(levels), now=now,
                               tz=policy.rota.timezone, rooms=self.rooms).to_dict()
        targets: dict[str, list[str]] = {}
        for level in levels:
            if level < len(policy.escalation):
                for channel, recipients in policy.targets(level, now):
                    got = targets.setdefault(channel, [])
                    got.extend(r for r in recipients if r not in got)
        store = self.e.store
        statements = [*self.e._changes, store.incident_update(inc),
                      store.history(now, inc.id, "", kind, ", ".join(targets) or "no channel configured")]
        self.e._changes = []
        inserts = [store.outbox_insert(inc.id, kind, ch, r, message, now) for ch, r in targets.items()]
        ids = store._write([*statements, *inserts])[len(statements):]
        for oid, (channel, people) in zip(ids, targets.items(), strict=True):
            self.submit(OutboxRow(oid, inc.id, kind, channel, people, message, now))

    # ------------------------------------------------------------------ acks

    def ack(self, iid: int, who: str, note: str, now: float) -> str:
        inc = self.open.get(iid)
        if inc is None:
            row = self.e.store.incident(iid)
            return f"no incident {iid}" if row is None else f"incident {iid} is already resolved"
        if inc.acked_by:
            return f"incident {iid} was already acknowledged by {inc.acked_by}"
        inc.acked_by, inc.acked_at, inc.ack_note = who, now, note
        members = list(self.members.get(iid, {}).values())
        for a in members:
            if a.state != FIRING:
                continue
            a.acked = True
            self.e._save(a, "acked", f"{who}: {note}" if note else who)
            if a.latched:
                self.e.resolve(a, now, f"acknowledged by {who}")
        if inc.level >= 0:
            listed = [format.alert_dict(a, self.summary(a)) for a in
                      sorted(members, key=lambda a: (-severity_rank(a.rule.severity), a.fired_at, a.key))]
            self._notify(inc, "ack", list(range(inc.level + 1)), now, listed, inc.severity, keep_time=True)
        else:
            self.e._changes.append(self.e.store.incident_update(inc))
        return f"incident {iid} acknowledged by {who}"
