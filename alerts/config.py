"""The notify config (alerts/notify.yml): channels, people, the rota, escalation, grouping, inhibition.

Read strictly like the inventory: unknown keys, wrong types, a channel option
its type does not take, a name that is neither a channel nor a person, a
secret that is not set: each an error naming file, line and key. Webhook
URLs, SMTP passwords, DingTalk signing secrets and SMS tokens are secrets
(`{secret: NAME}`), resolved from the environment or the secrets file.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dcops.secrets import Secret, SecretStore
from inventory.strict import TAG_BOOL, LoadError, Reader

from .model import DEVICE_LABELS
from .notifiers import TYPES, Notifier
from .notifiers.base import BOOL, FLOAT, INT, SECRET, STR, STRS
from .notifiers.dispatch import RetryPolicy
from .oncall import Rota, Rotation
from .rules import parse_duration

NOTIFY_FILE = Path(__file__).parent / "notify.yml"
ONCALL = "oncall"
HOURS_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class ConfigError(Exception):
    def __init__(self, errors: list[LoadError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass(frozen=True)
class Person:
    name: str
    label: str
    contacts: Mapping[str, str]  # channel name → address or phone number


@dataclass(frozen=True)
class Level:
    after: float
    notify: tuple[str, ...]


@dataclass(frozen=True)
class Inhibit:
    source: str
    equal: tuple[str, ...]
    targets: tuple[str, ...] = ()  # empty: every other rule


@dataclass
class Policy:
    channels: dict[str, Notifier] = field(default_factory=dict)
    channel_types: dict[str, str] = field(default_factory=dict)
    channel_options: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    rota: Rota = field(default_factory=Rota)
    escalation: list[Level] = field(default_factory=list)
    group_by: tuple[str, ...] = ("room", "category")
    group_wait: float = 0.5
    inhibit: list[Inhibit] = field(default_factory=list)
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def targets(self, level: int, now: float) -> list[tuple[str, tuple[str, ...]]]:
        """(channel, recipients) for an escalation level at `now`, without duplicates."""
        out: dict[str, list[str]] = {}
        for name in self.escalation[level].notify:
            if name in self.channels:
                out.setdefault(name, [])
                continue
            people = self.rota.on_call(now) if name == ONCALL else (name,)
            for person in people:
                for channel, address in self.people[person].contacts.items():
                    got = out.setdefault(channel, [])
                    if address not in got:
                        got.append(address)
        return [(c, tuple(r)) for c, r in out.items()]


class _ConfigReader:
    def __init__(self, reader: Reader, secrets: SecretStore) -> None:
        self.r = reader
        self.secrets = secrets

    def duration(self, node: yaml.Node, path: str) -> float | None:
        text = self.r.string(node, path)
        seconds = parse_duration(text) if text is not None else None
        if text is not None and seconds is None:
            self.r.error(node, path, f"{text!r} is not a duration (like 30s, 5m, 1h)")
        return seconds

    def names(self, node: yaml.Node, path: str) -> tuple[str, ...]:
        out = [self.r.name(n, path) for n in self.r.sequence(node, path)]
        return tuple(n for n in out if n is not None)

    def secret(self, node: yaml.Node, path: str) -> Secret | None:
        m = self.r.mapping(node, path, ("secret",), ("secret",))
        if m is None or "secret" not in m:
            if isinstance(node, yaml.ScalarNode):
                self.r.errors.pop()
                self.r.error(node, path, "a secret: write {secret: NAME} and set the value in the secrets file "
                             "or DCOPS_SECRET_NAME")
            return None
        name = self.r.name(m["secret"], f"{path}.secret")
        if name is None:
            return None
        if name not in self.secrets:
            self.r.error(m["secret"], f"{path}.secret", f"secret {name!r} is not set (secrets file or "
                         "DCOPS_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper() + ")")
            return None
        return self.secrets.get(name)

    def option(self, kind: str, node: yaml.Node, path: str) -> Any:
        r = self.r
        if kind == STR:
            return r.string(node, path)
        if kind == SECRET:
            return self.secret(node, path)
        if kind == INT:
            return r.integer(node, path, 1, 65535)
        if kind == FLOAT:
            return r.number(node, path, 0.1, 3600)
        if kind == STRS:
            return [s for s in (r.string(n, path) for n in r.sequence(node, path)) if s is not None]
        if kind == BOOL:
            if isinstance(node, yaml.ScalarNode) and node.tag == TAG_BOOL:
                return bool(yaml.safe_load(node.value))
            r.error(node, path, "expected true or false")
        return None

    def channel(self, name: str, node: yaml.Node, path: str, policy: Policy) -> None:
        r = self.r
        head = r.mapping(node, path, ["type", *sorted({k for t in TYPES for k in TYPES[t].options})], ("type",))
        if head is None or "type" not in head:
            return
        kind = r.string(head["type"], f"{path}.type", choices=list(TYPES))
        if kind is None:
            return
        spec = TYPES[kind]
        before = len(r.errors)
        m = r.mapping(node, path, ["type", *spec.options], ["type", *spec.required], noun=f"option of {kind}")
        if m is None:
            return
        options = {k: self.option(spec.options[k], v, f"{path}.{k}") for k, v in m.items() if k != "type"}
        if len(r.errors) > before:
            return
        policy.channels[name] = spec.build(name, options)
        policy.channel_types[name] = kind
        policy.channel_options[name] = options


def load_policy(path: Path = NOTIFY_FILE, secrets: SecretStore | None = None,
                rule_names: Sequence[str] | None = None) -> Policy:
    """Read a notify config; raise ConfigError listing every error."""
    errors: list[LoadError] = []
    reader = Reader(path, errors)
    cr = _ConfigReader(reader, secrets or SecretStore({}))
    policy = Policy()
    root = reader.compose(path.read_text(encoding="utf-8")) if path.exists() else None
    if not path.exists():
        reader.error(None, "(file)", "no such file")
    keys = ("group_by", "group_wait", "retry", "channels", "people", "oncall", "escalation", "inhibit")
    top = reader.mapping(root, "", keys, ("channels", "escalation")) if root is not None else None
    if top is None:
        raise ConfigError(errors)
    if "group_by" in top:
        by = cr.names(top["group_by"], "group_by")
        if bad := [b for b in by if b not in (*DEVICE_LABELS, "category", "severity", "alertname")]:
            reader.error(top["group_by"], "group_by", f"{bad[0]!r} cannot group alerts")
        policy.group_by = by
    if "group_wait" in top:
        policy.group_wait = cr.duration(top["group_wait"], "group_wait") or 0.0
    if "retry" in top:
        _retry(cr, top["retry"], policy)
    for knode, vnode in _items(reader, top.get("channels"), "channels"):
        if (name := reader.name(knode, "channels")) is not None:
            cr.channel(name, vnode, f"channels.{name}", policy)
    for knode, vnode in _items(reader, top.get("people"), "people"):
        if (name := reader.name(knode, "people")) is not None:
            _person(cr, name, vnode, policy)
    if "oncall" in top:
        _oncall(cr, top["oncall"], policy)
    for i, node in enumerate(reader.sequence(top["escalation"], "escalation") if "escalation" in top else []):
        _level(cr, node, f"escalation[{i}]", policy)
    for i, node in enumerate(reader.sequence(top["inhibit"], "inhibit") if "inhibit" in top else []):
        _inhibit(cr, node, f"inhibit[{i}]", policy, rule_names)
    if errors:
        raise ConfigError(errors)
    return policy


def _items(reader: Reader, node: yaml.Node | None, path: str) -> list[tuple[yaml.Node, yaml.Node]]:
    if node is None:
        return []
    if not isinstance(node, yaml.MappingNode):
        reader.error(node, path, "expected a mapping of name: settings")
        return []
    return list(node.value)


def _retry(cr: _ConfigReader, node: yaml.Node, policy: Policy) -> None:
    m = cr.r.mapping(node, "retry", ("attempts", "backoff", "max_backoff"))
    if m is None:
        return
    attempts = cr.r.integer(m["attempts"], "retry.attempts", 1, 100) if "attempts" in m else None
    backoff = cr.duration(m["backoff"], "retry.backoff") if "backoff" in m else None
    cap = cr.duration(m["max_backoff"], "retry.max_backoff") if "max_backoff" in m else None
    d = RetryPolicy()
    policy.retry = RetryPolicy(attempts or d.attempts, d.backoff if backoff is None else backoff,
                               d.max_backoff if cap is None else cap)


def _person(cr: _ConfigReader, name: str, node: yaml.Node, policy: Policy) -> None:
    path = f"people.{name}"
    m = cr.r.mapping(node, path, ("label", "contacts"), ("contacts",))
    if m is None or "contacts" not in m:
        return
    contacts: dict[str, str] = {}
    for knode, vnode in _items(cr.r, m["contacts"], f"{path}.contacts"):
        channel = knode.value
        where = f"{path}.contacts.{channel}"
        if channel not in policy.channels:
            cr.r.error(knode, where, f"no channel named {channel!r} (channels: {', '.join(policy.channels)})")
            continue
        if not TYPES[policy.channel_types[channel]].takes_recipients:
            cr.r.error(knode, where, f"a {policy.channel_types[channel]} channel posts to a group; "
                       "it takes no personal address")
            continue
        if (address := cr.r.string(vnode, where)) is not None:
            contacts[channel] = address
    label = cr.r.string(m["label"], f"{path}.label") if "label" in m else None
    policy.people[name] = Person(name, label or name, contacts)


def _hhmm(cr: _ConfigReader, node: yaml.Node, path: str) -> dt.time | None:
    text = cr.r.string(node, path)
    if text is None:
        return None
    if not TIME_RE.match(text):
        cr.r.error(node, path, f"{text!r} is not a time of day (HH:MM)")
        return None
    return dt.time(int(text[:2]), int(text[3:]))


def _oncall(cr: _ConfigReader, node: yaml.Node, policy: Policy) -> None:
    r = cr.r
    m = r.mapping(node, "oncall", ("timezone", "working_hours", "day", "rotation"))
    if m is None:
        return
    kwargs: dict[str, Any] = {}
    if "timezone" in m and (tz := r.string(m["timezone"], "oncall.timezone")) is not None:
        try:
            Rota(timezone=tz)
            kwargs["timezone"] = tz
        except (KeyError, ValueError):
            r.error(m["timezone"], "oncall.timezone", f"unknown time zone {tz!r}")
    if "working_hours" in m and (text := r.string(m["working_hours"], "oncall.working_hours")) is not None:
        hm = HOURS_RE.match(text)
        if hm is None or (hm.group(1), hm.group(2)) >= (hm.group(3), hm.group(4)):
            r.error(m["working_hours"], "oncall.working_hours", f"{text!r} is not HH:MM-HH:MM (start before end)")
        else:
            end = dt.time(23, 59, 59) if hm.group(3) == "24" else dt.time(int(hm.group(3)), int(hm.group(4)))
            kwargs.update(start=dt.time(int(hm.group(1)), int(hm.group(2))), end=end)
    people = set(policy.people)
    if "day" in m:
        kwargs["day"] = _people(cr, m["day"], "oncall.day", people)
    if "rotation" in m:
        rm = r.mapping(m["rotation"], "oncall.rotation", ("start", "days", "handover", "people"), ("start", "people"))
        if rm is not None and "start" in rm and "people" in rm:
            start = _date(cr, rm["start"], "oncall.rotation.start")
            days = r.integer(rm["days"], "oncall.rotation.days", 1, 366) if "days" in rm else 7
            handover = _hhmm(cr, rm["handover"], "oncall.rotation.handover") if "handover" in rm else None
            who = _people(cr, rm["people"], "oncall.rotation.people", people)
            if start is not None and days is not None and who:
                kwargs["rotation"] = Rotation(start, who, days, handover or kwargs.get("start", dt.time(8, 30)))
    policy.rota = Rota(**kwargs)


def _date(cr: _ConfigReader, node: yaml.Node, path: str) -> dt.date | None:
    try:
        value = yaml.safe_load(yaml.serialize(node))
    except yaml.YAMLError:
        value = None
    if isinstance(value, dt.date):
        return value
    cr.r.error(node, path, "expected a date (YYYY-MM-DD)")
    return None


def _people(cr: _ConfigReader, node: yaml.Node, path: str, people: set[str]) -> tuple[str, ...]:
    names = cr.names(node, path)
    for n in names:
        if n not in people:
            cr.r.error(node, path, f"no person named {n!r} (people: {', '.join(sorted(people)) or 'none'})")
    return tuple(n for n in names if n in people)


def _level(cr: _ConfigReader, node: yaml.Node, path: str, policy: Policy) -> None:
    m = cr.r.mapping(node, path, ("after", "notify"), ("after", "notify"))
    if m is None or "after" not in m or "notify" not in m:
        return
    after = cr.duration(m["after"], f"{path}.after")
    names = cr.names(m["notify"], f"{path}.notify")
    known = {*policy.channels, *policy.people, ONCALL}
    for n in names:
        if n not in known:
            cr.r.error(m["notify"], f"{path}.notify", f"{n!r} is neither a channel, a person nor oncall")
    if policy.escalation and after is not None and after <= policy.escalation[-1].after:
        cr.r.error(m["after"], f"{path}.after", "each level must come after the one before")
    if after is not None:
        policy.escalation.append(Level(after, names))


def _inhibit(cr: _ConfigReader, node: yaml.Node, path: str, policy: Policy, rules: Sequence[str] | None) -> None:
    m = cr.r.mapping(node, path, ("source", "targets", "equal"), ("source", "equal"))
    if m is None or "source" not in m or "equal" not in m:
        return
    source = cr.r.name(m["source"], f"{path}.source")
    targets = cr.names(m["targets"], f"{path}.targets") if "targets" in m else ()
    equal = cr.names(m["equal"], f"{path}.equal")
    if bad := [e for e in equal if e not in DEVICE_LABELS]:
        cr.r.error(m["equal"], f"{path}.equal", f"{bad[0]!r} is not one of: {', '.join(DEVICE_LABELS)}")
    if rules is not None:
        for name, where in [(source, "source"), *((t, "targets") for t in targets)]:
            if name is not None and name not in rules:
                cr.r.error(m[where], f"{path}.{where}", f"no rule named {name!r}")
    if source is not None:
        policy.inhibit.append(Inhibit(source, equal, targets))
