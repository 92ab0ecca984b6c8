"""The alerting vocabulary: rules, alert states, severities and categories as constants.

A `Rule` is one validated entry of alerts/rules/*.yml; an `Alert` is one
rule's instance for one series (or one group, for aggregate rules) with its
state. States follow Prometheus (inactive → pending → firing → resolved);
`latched` marks a firing alert whose reading cleared but that waits for an
acknowledgement (leak, smoke).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

# Alert states.
INACTIVE: Final = "inactive"
PENDING: Final = "pending"
FIRING: Final = "firing"
RESOLVED: Final = "resolved"
STATES: Final = (INACTIVE, PENDING, FIRING, RESOLVED)

# Severities, lowest first (their order is their rank).
INFO: Final = "info"
WARNING: Final = "warning"
CRITICAL: Final = "critical"
SEVERITIES: Final = (INFO, WARNING, CRITICAL)

# Categories: with the room they form the incident an alert belongs to (the default grouping).
CATEGORIES: Final = ("power", "cooling", "environment", "safety", "security", "monitoring")

# Condition kinds: exactly one per rule.
ABOVE: Final = "above"
BELOW: Final = "below"
EQUALS: Final = "equals"
IMBALANCE: Final = "imbalance"
STALE: Final = "stale"
EVENT: Final = "event"
KINDS: Final = (ABOVE, BELOW, EQUALS, IMBALANCE, STALE, EVENT)

# `when:` restricts a rule to a part of the week (the on-call rota's working hours).
ALWAYS: Final = "always"
OUTSIDE_WORKING_HOURS: Final = "outside_working_hours"
DURING_WORKING_HOURS: Final = "working_hours"
WHENS: Final = (ALWAYS, OUTSIDE_WORKING_HOURS, DURING_WORKING_HOURS)

# The pseudo-metric fed from poll reports: 1 when the device's poll succeeded, 0 when not.
UP_METRIC: Final = "up"

# Labels every alert may carry besides the readings' index labels. `room` is the
# inventory location (Prometheus exports it as `location`).
DEVICE_LABELS: Final = ("device", "class", "rack", "room")
ALERT_LABELS: Final = ("alertname", "severity", "category", "metric")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Rule:
    """One alert rule, as read from a rules file."""

    name: str
    file: str
    line: int
    category: str
    severity: str
    kind: str
    summary: str
    metric: str = ""  # empty only for a stale rule over every series
    match: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    threshold: float = 0.0  # above/below/imbalance: the firing threshold
    clear: float = 0.0  # the threshold the value must cross back to clear (hysteresis)
    values: tuple[float, ...] = ()  # equals
    of_rating: bool = False  # thresholds are fractions of the device's rating
    across: str = ""  # imbalance: the index label whose series are compared (phase, line)
    intervals: float = 0.0  # stale: how many poll intervals without a fresh value
    event: str = ""  # event: the trap event's kind (on_battery, leak, ...)
    resolve_after: float = 0.0  # event: seconds after which the alert resolves by itself
    aggregate: str = ""  # "all": one alert per `by` group, firing when every matched series meets it
    by: tuple[str, ...] = ()
    for_: float = 0.0
    latch: bool = False
    when: str = ALWAYS
    description: str = ""

    def where(self) -> str:
        return f"{self.file}:{self.line}: rule {self.name}"


@dataclass
class Alert:
    """One rule's instance: for a series, an aggregate group, or a device's events."""

    rule: Rule
    labels: dict[str, str]
    state: str = INACTIVE
    value: float = 0.0
    active_since: float = 0.0  # became pending
    fired_at: float = 0.0
    resolved_at: float = 0.0
    latched: bool = False  # the reading cleared; waiting for an acknowledgement
    acked: bool = False
    incident: int = 0  # the incident it belongs to once firing
    last_seen: float = 0.0  # the last evaluation that found the condition true

    @property
    def key(self) -> str:
        return alert_key(self.rule.name, self.labels)

    @property
    def firing(self) -> bool:
        return self.state == FIRING


def alert_key(rule: str, labels: Mapping[str, str]) -> str:
    inner = ",".join(f"{k}={labels[k]}" for k in sorted(labels) if k not in ALERT_LABELS)
    return f"{rule}{{{inner}}}"
