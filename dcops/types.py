"""Types shared by every stage: collectors yield them, outputs and alerts read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

# Device classes (inventory `class:`); constants, never free strings.
UPS: Final = "ups"
PDU: Final = "pdu"
COOLING: Final = "cooling"
ENV: Final = "env"
LEAK: Final = "leak"
SMOKE: Final = "smoke"
DOOR: Final = "door"
SWITCH: Final = "switch"
METER: Final = "meter"
DEVICE_CLASSES: Final = frozenset({UPS, PDU, COOLING, ENV, LEAK, SMOKE, DOOR, SWITCH, METER})

# Units a reading may carry (one documented set, see collectors/README.md).
UNITS: Final = frozenset(
    {
        "celsius", "percent", "volts", "amperes", "watts", "voltamperes", "hertz",
        "seconds", "rpm", "joules", "kilowatthours", "cfm", "pascals", "ratio", "state", "count",
        "dbm", "liters_per_minute", "bytes", "bits_per_second",
    }
)


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of one device at one time.

    `metric` is the Prometheus-style name without the `dcops_` prefix
    (e.g. `inlet_temperature_celsius`); `labels` are the index labels the
    profile gave (e.g. phase, sensor); `text` carries an enumeration's name
    for state readings.
    """

    device: str
    metric: str
    value: float
    ts: float
    unit: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    oid: str = ""
    text: str = ""

    @property
    def key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        """The series this sample belongs to."""
        return (self.device, self.metric, self.labels)

    def label(self, name: str, default: str = "") -> str:
        for k, v in self.labels:
            if k == name:
                return v
        return default


@dataclass(frozen=True, slots=True)
class PollReport:
    """How one poll of one device went (like snmp_exporter's scrape metrics)."""

    device: str
    ts: float
    up: bool
    duration: float
    samples: int
    error: str = ""
    profiles: tuple[str, ...] = field(default=())


# Severities of a trap event (ITU X.733's, trimmed): `cleared` says the condition ended.
SEVERITIES: Final = ("critical", "warning", "info", "cleared")


@dataclass(frozen=True, slots=True)
class TrapEvent:
    """A notification (trap or inform) from a known device, turned into an event.

    `kind` names the condition (on_battery, input_failure, leak, door_open,
    smoke, link_down, ...; `other` when no rule knows the notification),
    `notification` the rule or the snmpTrapOID, `source` where it came from
    (host:port) and `varbinds` what it carried, as (numeric OID, text) pairs.
    """

    device: str
    ts: float
    kind: str
    severity: str
    notification: str
    oid: str
    source: str = ""
    varbinds: tuple[tuple[str, str], ...] = ()
