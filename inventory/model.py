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
    context: str = ""  # SNMPv3 contextName (snmpsim picks the recording by it)
    engine_id: str = ""  # the agent's snmpEngineID in hex: needed to accept its v3 traps


SNMP: Final = "snmp"
MODBUS: Final = "modbus"
PROTOCOLS: Final = (SNMP, MODBUS)
DEFAULT_MODBUS_PORT: Final = 502
NO_SNMP: Final = SnmpCredentials(version="")  # what a Modbus device has for `snmp`


@dataclass(frozen=True)
class ModbusSettings:
    """How to reach a Modbus TCP device; its register map is the device's `profile`."""

    unit: int = 1  # the unit (slave) id a gateway routes by; 0-255


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
    modbus: ModbusSettings | None = None  # set for a Modbus TCP device (then `snmp` is NO_SNMP)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def protocol(self) -> str:
        return MODBUS if self.modbus is not None else SNMP


# ---------------------------------------------------------------- extranet (NetBox: Tenant, VLANGroup, Prefix)

# Agency (Tenant) statuses.
RETIRED: Final = "retired"
AGENCY_STATUSES: Final = (PLANNED, ACTIVE, RETIRED)
# Switch vendors are netmiko device types (components.md: `huawei_vrp`, not `huawei`).
HUAWEI_VRP: Final = "huawei_vrp"
HP_COMWARE: Final = "hp_comware"
CISCO_IOS: Final = "cisco_ios"
SWITCH_VENDORS: Final = (HUAWEI_VRP, HP_COMWARE, CISCO_IOS)
SWITCH_ROLES: Final = ("core", "aggregation", "access")
DEFAULT_SSH_PORT: Final = 22


@dataclass(frozen=True)
class Uplink:
    """One end of a link towards another switch; trunks carry agency VLANs over it."""

    port: str
    peer: str
    peer_port: str


@dataclass(frozen=True)
class Switch:
    name: str
    vendor: str
    role: str
    host: str
    port: int
    username: str
    password: Secret
    group: str  # the VLAN group (layer-2 domain) the switch belongs to
    ports: tuple[str, ...]
    uplinks: tuple[Uplink, ...] = ()
    model: str = ""
    label: str = ""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class VLANGroup:
    """A layer-2 domain: its vid range, reserved vids, gateway switch and prefix pool."""

    name: str
    min_vid: int
    max_vid: int
    reserved: frozenset[int]
    gateway: str
    pool: str
    label: str = ""

    def allows(self, vid: int) -> bool:
        return self.min_vid <= vid <= self.max_vid and vid not in self.reserved


@dataclass(frozen=True)
class PrefixPool:
    """Where agency subnets come from: one `length`-sized prefix per agency."""

    name: str
    prefix: str
    length: int
    reserved: tuple[str, ...] = ()
    label: str = ""


@dataclass(frozen=True)
class SharedService:
    """A prefix every agency may reach; agencies never reach each other."""

    name: str
    prefix: str
    label: str = ""


@dataclass(frozen=True)
class Agency:
    """A Tenant: one agency unit on its own VLAN and subnet behind one access port."""

    code: str
    name: str
    contact: str
    phone: str
    site: str
    switch: str
    port: str
    status: str
    vid: int | None = None  # pinned (a live agency keeps its vid); None: IPAM allocates
    prefix: str | None = None

    @property
    def planned(self) -> bool:
        return self.status == PLANNED


@dataclass
class Extranet:
    switches: dict[str, Switch] = field(default_factory=dict)
    groups: dict[str, VLANGroup] = field(default_factory=dict)
    pools: dict[str, PrefixPool] = field(default_factory=dict)
    shared: dict[str, SharedService] = field(default_factory=dict)
    agencies: dict[str, Agency] = field(default_factory=dict)

    def group_of(self, agency: Agency) -> VLANGroup:
        return self.groups[self.switches[agency.switch].group]


@dataclass
class Inventory:
    site: Site
    locations: dict[str, Location] = field(default_factory=dict)
    racks: dict[str, Rack] = field(default_factory=dict)
    utility: Utility | None = None
    panels: dict[str, PowerPanel] = field(default_factory=dict)
    feeds: dict[str, PowerFeed] = field(default_factory=dict)
    devices: dict[str, Device] = field(default_factory=dict)
    extranet: Extranet = field(default_factory=Extranet)

    def devices_of(self, device_class: str) -> list[Device]:
        return [d for d in self.devices.values() if d.device_class == device_class]

    def devices_in(self, rack: str) -> list[Device]:
        return [d for d in self.devices.values() if d.rack == rack]

    def feeds_of(self, rack: str) -> list[PowerFeed]:
        return sorted((f for f in self.feeds.values() if f.rack == rack), key=lambda f: f.side)
