"""The inventory's typed objects, in NetBox's vocabulary.

Site → Location (machine room) → Rack; PowerPanel (fed by a UPS) →
PowerFeed (A/B, with a breaker rating) → PDU in a rack; Device for every
polled thing. Statuses are constants, not free strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from dcops.secrets import Secret

# Rack statuses (NetBox's names).
ACTIVE: Final = "active"
PLANNED: Final = "planned"
RESERVED: Final = "reserved"
AVAILABLE: Final = "available"
RACK_STATUSES: Final = (ACTIVE, PLANNED, RESERVED, AVAILABLE)

FEED_SIDES: Final = ("A", "B")
PHASES: Final = ("single", "three")
SNMP_VERSIONS: Final = ("1", "2c", "3")
AUTH_PROTOCOLS: Final = ("MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512")
PRIV_PROTOCOLS: Final = ("DES", "AES", "AES192", "AES256")


@dataclass(frozen=True)
class Site:
    name: str
    slug: str
    timezone: str
    city: str = ""


@dataclass(frozen=True)
class Location:
    """A machine room: its area and the floor grid its racks stand on."""

    name: str
    label: str
    area_m2: float
    rows: int
    columns: int


@dataclass(frozen=True)
class Rack:
    name: str
    location: str
    row: int
    column: int
    u_height: int
    status: str
    power_budget_kw: float
    label: str = ""

    @property
    def in_use(self) -> bool:
        return self.status == ACTIVE


@dataclass(frozen=True)
class PowerPanel:
    """A distribution panel; `ups` names the UPS device that feeds it."""

    name: str
    location: str
    ups: str
    label: str = ""


@dataclass(frozen=True)
class PowerFeed:
    name: str
    panel: str
    rack: str
    side: str
    voltage: int
    phase: str
    breaker_amperes: int

    @property
    def capacity_watts(self) -> float:
        phases = 3 if self.phase == "three" else 1
        return float(self.voltage * self.breaker_amperes * phases)


@dataclass(frozen=True)
class Utility:
    name: str
    voltage: int
    phase: str
    label: str = ""


@dataclass(frozen=True)
class SnmpCredentials:
    version: str
    community: Secret | None = None
    user: str = ""
    auth_protocol: str = ""
    auth_key: Secret | None = None
    priv_protocol: str = ""
    priv_key: Secret | None = None


@dataclass(frozen=True)
class Device:
    name: str
    device_class: str
    host: str
    port: int
    snmp: SnmpCredentials
    profile: str
    location: str
    rack: str | None = None
    position: int | None = None  # lowest U occupied; 0 = zero-U (side rail, door)
    u_height: int = 1
    feed: str | None = None
    rating: float | None = None  # UPS kVA, cooling kW, PDU amperes
    interval: float | None = None  # seconds; None = the poller's default
    label: str = ""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class Inventory:
    site: Site
    locations: dict[str, Location] = field(default_factory=dict)
    racks: dict[str, Rack] = field(default_factory=dict)
    utility: Utility | None = None
    panels: dict[str, PowerPanel] = field(default_factory=dict)
    feeds: dict[str, PowerFeed] = field(default_factory=dict)
    devices: dict[str, Device] = field(default_factory=dict)

    def devices_of(self, device_class: str) -> list[Device]:
        return [d for d in self.devices.values() if d.device_class == device_class]

    def devices_in(self, rack: str) -> list[Device]:
        return [d for d in self.devices.values() if d.rack == rack]

    def feeds_of(self, rack: str) -> list[PowerFeed]:
        return sorted((f for f in self.feeds.values() if f.rack == rack), key=lambda f: f.side)
