"""Load an inventory directory strictly into typed objects.

Every `*.yml` file in the directory (but `secrets.yml`) is a mapping of
sections: `site`, `locations`, `racks`, `power`, `devices`. A section may
appear in one file only. Cross-references (a device's rack, a feed's panel,
a secret's name, a profile's name) are checked after every file is read,
and every error names file, line and key.
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import yaml

from dcops.secrets import Secret, SecretStore, env_name
from dcops.types import DEVICE_CLASSES

from .model import (
    AUTH_PROTOCOLS,
    DEFAULT_MODBUS_PORT,
    FEED_SIDES,
    PHASES,
    PRIV_PROTOCOLS,
    RACK_STATUSES,
    SNMP_VERSIONS,
    Device,
    Inventory,
    Location,
    ModbusSettings,
    PowerFeed,
    PowerPanel,
    Rack,
    Site,
    SnmpCredentials,
    Utility,
)
from .strict import TAG_INT, TAG_NULL, InventoryError, LoadError, Reader, describe

SECRETS_FILE = "secrets.yml"
LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME_RE = re.compile(rf"^(?=.{{1,253}}$){LABEL}(\.{LABEL})*$")
DEFAULT_SNMP_PORT = 161


class Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=Named)


@dataclass
class Placed(Generic[T]):
    """An object with where it came from, for cross-reference errors."""

    obj: T
    reader: Reader
    node: yaml.Node
    path: str


@dataclass
class DeviceDraft:
    """A device before its secrets are resolved."""

    device: Device
    snmp: SnmpDraft

    @property
    def name(self) -> str:
        return self.device.name


@dataclass
class Draft:
    site: Site | None = None
    utility: Utility | None = None
    locations: list[Placed[Location]] = field(default_factory=list)
    racks: list[Placed[Rack]] = field(default_factory=list)
    panels: list[Placed[PowerPanel]] = field(default_factory=list)
    feeds: list[Placed[PowerFeed]] = field(default_factory=list)
    devices: list[Placed[DeviceDraft]] = field(default_factory=list)
    secret_refs: list[tuple[str, Reader, yaml.Node, str]] = field(default_factory=list)
    extranet: ExtranetDraft = field(default_factory=lambda: ExtranetDraft())
    # names whose definition had an error, by kind: references to them report nothing more
    invalid: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


def parse_address(value: str, default_port: int = DEFAULT_SNMP_PORT) -> tuple[str, int] | None:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 address."""
    host, port = value, default_port
    if value.startswith("["):
        m = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?", value)
        if not m:
            return None
        host, port = m.group(1), int(m.group(2) or default_port)
    elif value.count(":") == 1:
        host, _, p = value.partition(":")
        if not p.isdigit():
            return None
        port = int(p)
    if not 1 <= port <= 65535:
        return None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not HOSTNAME_RE.match(host) or host.replace(".", "").isdigit():
            return None
    return host, port


# ---------------------------------------------------------------- sections

def read_site(r: Reader, node: yaml.Node, d: Draft) -> None:
    m = r.mapping(node, "site", {"name", "slug", "timezone", "city"}, {"name", "slug", "timezone"})
    if m is None:
        return
    name = r.string(m["name"], "site.name") if "name" in m else None
    slug = r.name(m["slug"], "site.slug") if "slug" in m else None
    tz = r.string(m["timezone"], "site.timezone") if "timezone" in m else None
    city = r.string(m["city"], "site.city") if "city" in m else ""
    if name and slug and tz:
        d.site = Site(name=name, slug=slug, timezone=tz, city=city or "")


def read_locations(r: Reader, node: yaml.Node, d: Draft) -> None:
    for i, item in enumerate(r.sequence(node, "locations")):
        p = f"locations[{i}]"
        m = r.mapping(item, p, {"name", "label", "area_m2", "grid"}, {"name", "area_m2", "grid"})
        if m is None:
            continue
        name = r.name(m["name"], f"{p}.name") if "name" in m else None
        label = r.string(m["label"], f"{p}.label") if "label" in m else ""
        area = r.number(m["area_m2"], f"{p}.area_m2", 1, 100000) if "area_m2" in m else None
        rows = cols = None
        if "grid" in m:
            g = r.mapping(m["grid"], f"{p}.grid", {"rows", "columns"}, {"rows", "columns"})
            if g:
                rows = r.integer(g["rows"], f"{p}.grid.rows", 1, 100) if "rows" in g else None
                cols = r.integer(g["columns"], f"{p}.grid.columns", 1, 100) if "columns" in g else None
        if name and area and rows and cols:
            loc = Location(name=name, label=label or name, area_m2=area, rows=rows, columns=cols)
            d.locations.append(Placed(loc, r, item, p))
        elif name:
            d.invalid["location"].add(name)


def read_racks(r: Reader, node: yaml.Node, d: Draft) -> None:
    keys = {"name", "label", "location", "row", "column", "u_height", "status", "power_budget_kw"}
    for i, item in enumerate(r.sequence(node, "racks")):
        p = f"racks[{i}]"
        m = r.mapping(item, p, keys, {"name", "location", "row", "column", "status"})
        if m is None:
            continue
        vals = {
            "name": r.name(m["name"], f"{p}.name") if "name" in m else None,
            "location": r.name(m["location"], f"{p}.location") if "location" in m else None,
            "row": r.integer(m["row"], f"{p}.row", 1, 100) if "row" in m else None,
            "column": r.integer(m["column"], f"{p}.column", 1, 100) if "column" in m else None,
            "status": r.string(m["status"], f"{p}.status", choices=RACK_STATUSES) if "status" in m else None,
        }
        u = r.integer(m["u_height"], f"{p}.u_height", 1, 60) if "u_height" in m else 42
        kw = r.number(m["power_budget_kw"], f"{p}.power_budget_kw", 0, 100) if "power_budget_kw" in m else 0.0
        label = r.string(m["label"], f"{p}.label") if "label" in m else ""
        if all(v is not None for v in vals.values()) and u is not None and kw is not None:
            rack = Rack(u_height=u, power_budget_kw=kw, label=label or "", **vals)  # type: ignore[arg-type]
            d.racks.append(Placed(rack, r, item, p))
        elif vals["name"]:
            d.invalid["rack"].add(vals["name"])  # type: ignore[arg-type]


def read_power(r: Reader, node: yaml.Node, d: Draft) -> None:
    m = r.mapping(node, "power", {"utility", "panels", "feeds"}, {"utility", "panels", "feeds"})
    if m is None:
        return
    if "utility" in m:
        u = r.mapping(m["utility"], "power.utility", {"name", "label", "voltage", "phase"},
                      {"name", "voltage", "phase"})
        if u:
            name = r.name(u["name"], "power.utility.name") if "name" in u else None
            volts = r.integer(u["voltage"], "power.utility.voltage", 100, 35000) if "voltage" in u else None
            phase = r.string(u["phase"], "power.utility.phase", choices=PHASES) if "phase" in u else None
            label = r.string(u["label"], "power.utility.label") if "label" in u else ""
            if name and volts and phase:
                d.utility = Utility(name=name, voltage=volts, phase=phase, label=label or "")
    for i, item in enumerate(r.sequence(m.get("panels", yaml.SequenceNode("", [])), "power.panels")):
        p = f"power.panels[{i}]"
        pm = r.mapping(item, p, {"name", "label", "location", "ups"}, {"name", "location", "ups"})
        if pm is None:
            continue
        name = r.name(pm["name"], f"{p}.name") if "name" in pm else None
        loc = r.name(pm["location"], f"{p}.location") if "location" in pm else None
        ups = r.name(pm["ups"], f"{p}.ups") if "ups" in pm else None
        label = r.string(pm["label"], f"{p}.label") if "label" in pm else ""
        if name and loc and ups:
            d.panels.append(Placed(PowerPanel(name, loc, ups, label or ""), r, item, p))
        elif name:
            d.invalid["power panel"].add(name)
    keys = {"name", "panel", "rack", "side", "voltage", "phase", "breaker_amperes"}
    for i, item in enumerate(r.sequence(m.get("feeds", yaml.SequenceNode("", [])), "power.feeds")):
        p = f"power.feeds[{i}]"
        fm = r.mapping(item, p, keys, keys)
        if fm is None:
            continue
        vals = {
            "name": r.name(fm["name"], f"{p}.name") if "name" in fm else None,
            "panel": r.name(fm["panel"], f"{p}.panel") if "panel" in fm else None,
            "rack": r.name(fm["rack"], f"{p}.rack") if "rack" in fm else None,
            "side": r.string(fm["side"], f"{p}.side", choices=FEED_SIDES) if "side" in fm else None,
            "voltage": r.integer(fm["voltage"], f"{p}.voltage", 100, 1000) if "voltage" in fm else None,
            "phase": r.string(fm["phase"], f"{p}.phase", choices=PHASES) if "phase" in fm else None,
            "breaker_amperes": r.integer(fm["breaker_amperes"], f"{p}.breaker_amperes", 1, 1000)
            if "breaker_amperes" in fm else None,
        }
        if all(v is not None for v in vals.values()):
            d.feeds.append(Placed(PowerFeed(**vals), r, item, p))  # type: ignore[arg-type]
        elif vals["name"]:
            d.invalid["power feed"].add(vals["name"])  # type: ignore[arg-type]


def read_secret_ref(r: Reader, node: yaml.Node, path: str, d: Draft) -> str | None:
    m = r.mapping(node, path, {"secret"}, {"secret"})
    if not m or "secret" not in m:
        return None
    name = r.name(m["secret"], f"{path}.secret")
    if name:
        d.secret_refs.append((name, r, m["secret"], f"{path}.secret"))
    return name


@dataclass
class SnmpDraft:
    version: str
    community: str | None = None
    user: str = ""
    auth_protocol: str = ""
    auth_key: str | None = None
    priv_protocol: str = ""
    priv_key: str | None = None
    context: str = ""
    engine_id: str = ""


ENGINE_ID_RE = re.compile(r"^(0x)?([0-9A-Fa-f]{2}){5,32}$")
MAX_CONTEXT = 32  # SNMP-FRAMEWORK-MIB: a contextName is an SnmpAdminString (SIZE (0..32))


def read_snmp(r: Reader, node: yaml.Node, path: str, d: Draft) -> SnmpDraft | None:
    keys = {"version", "community", "user", "auth_protocol", "auth_key", "priv_protocol", "priv_key",
            "context", "engine_id"}
    m = r.mapping(node, path, keys, {"version"})
    if m is None or "version" not in m:
        return None
    # `version: 2c` is a string, `version: 3` an integer in YAML: accept both spellings.
    vnode = m["version"]
    version = str(vnode.value) if isinstance(vnode, yaml.ScalarNode) else ""
    if version not in SNMP_VERSIONS:
        choices = ", ".join(SNMP_VERSIONS)
        if version and vnode.tag != TAG_NULL:
            r.error(vnode, f"{path}.version", f"{version!r} is not one of: {choices}")
        else:
            r.error(vnode, f"{path}.version", f"expected one of: {choices}, got {describe(vnode)}")
        return None
    s = SnmpDraft(version=version)
    if version in ("1", "2c"):
        if "community" not in m:
            r.error(node, f"{path}.community", f"missing required key for SNMP v{version}")
            return None
        for k in ("user", "auth_protocol", "auth_key", "priv_protocol", "priv_key", "context", "engine_id"):
            if k in m:
                r.error(m[k], f"{path}.{k}", f"only used with SNMP v3, not v{version}")
        s.community = read_secret_ref(r, m["community"], f"{path}.community", d)
        return s if s.community else None
    if "community" in m:
        r.error(m["community"], f"{path}.community", "not used with SNMP v3")
    if "user" not in m:
        r.error(node, f"{path}.user", "missing required key for SNMP v3")
        return None
    s.user = r.string(m["user"], f"{path}.user") or ""
    if "auth_key" in m:
        s.auth_key = read_secret_ref(r, m["auth_key"], f"{path}.auth_key", d)
        s.auth_protocol = (r.string(m["auth_protocol"], f"{path}.auth_protocol", choices=AUTH_PROTOCOLS)
                           if "auth_protocol" in m else "SHA") or ""
    if "priv_key" in m:
        if "auth_key" not in m:
            r.error(m["priv_key"], f"{path}.priv_key", "privacy needs auth_key too (authPriv)")
        s.priv_key = read_secret_ref(r, m["priv_key"], f"{path}.priv_key", d)
        s.priv_protocol = (r.string(m["priv_protocol"], f"{path}.priv_protocol", choices=PRIV_PROTOCOLS)
                           if "priv_protocol" in m else "AES") or ""
    if "context" in m and (context := r.string(m["context"], f"{path}.context")) is not None:
        if len(context) > MAX_CONTEXT:
            r.error(m["context"], f"{path}.context",
                    f"{context!r} is longer than {MAX_CONTEXT} characters (an SNMPv3 context name)")
        s.context = context
    if "engine_id" in m and (engine_id := _hex_scalar(r, m["engine_id"], f"{path}.engine_id")) is not None:
        if not ENGINE_ID_RE.match(engine_id):
            r.error(m["engine_id"], f"{path}.engine_id",
                    f"{engine_id!r} is not an SNMP engine ID (10 to 64 hex digits, 0x optional)")
        s.engine_id = engine_id.removeprefix("0x")
    return s


def _hex_scalar(r: Reader, node: yaml.Node, path: str) -> str | None:
    """A hex string as written: YAML reads an unquoted 0x8000... or 8000... as an integer."""
    if isinstance(node, yaml.ScalarNode) and node.tag == TAG_INT:
        return str(node.value)
    return r.string(node, path)


DEVICE_KEYS = {"name", "class", "address", "snmp", "profile", "location", "rack", "position",
               "u_height", "feed", "rating", "interval", "label", "modbus"}
MAX_MODBUS_UNIT = 255  # 1-247 on a serial line; TCP gateways also use 0 and 255


def read_modbus(r: Reader, node: yaml.Node, path: str) -> ModbusSettings | None:
    m = r.mapping(node, path, {"unit"}, {"unit"})
    if m is None or "unit" not in m:
        return None
    unit = r.integer(m["unit"], f"{path}.unit", 0, MAX_MODBUS_UNIT)
    return ModbusSettings(unit=unit) if unit is not None else None


def _has_key(node: yaml.Node, key: str) -> bool:
    return isinstance(node, yaml.MappingNode) and any(getattr(k, "value", None) == key for k, _ in node.value)


def read_devices(r: Reader, node: yaml.Node, d: Draft) -> None:
    for i, item in enumerate(r.sequence(node, "devices")):
        p = f"devices[{i}]"
        is_modbus = _has_key(item, "modbus")  # a Modbus TCP device has `modbus:` instead of `snmp:`
        required = {"name", "class", "address", "profile"} | (set() if is_modbus else {"snmp"})
        m = r.mapping(item, p, DEVICE_KEYS, required)
        if m is None:
            continue
        name = r.name(m["name"], f"{p}.name") if "name" in m else None
        if name:
            p = f"devices[{i}] ({name})"
        cls = r.string(m["class"], f"{p}.class", choices=sorted(DEVICE_CLASSES)) if "class" in m else None
        addr = None
        if "address" in m:
            raw = r.string(m["address"], f"{p}.address")
            if raw is not None:
                addr = parse_address(raw, DEFAULT_MODBUS_PORT if is_modbus else DEFAULT_SNMP_PORT)
                if addr is None:
                    r.error(m["address"], f"{p}.address", f"{raw!r} is not a valid host[:port]")
        snmp = read_snmp(r, m["snmp"], f"{p}.snmp", d) if "snmp" in m else None
        modbus = read_modbus(r, m["modbus"], f"{p}.modbus") if "modbus" in m else None
        if is_modbus and "snmp" in m:
            r.error(m["snmp"], f"{p}.snmp", "a device speaks SNMP or Modbus, not both (remove snmp or modbus)")
        if is_modbus:
            snmp = SnmpDraft(version="") if modbus is not None and "snmp" not in m else None
        profile = r.name(m["profile"], f"{p}.profile") if "profile" in m else None
        location = r.name(m["location"], f"{p}.location") if "location" in m else None
        rack = r.name(m["rack"], f"{p}.rack") if "rack" in m else None
        # the real range check needs the rack's height: done in cross-checks
        position = r.integer(m["position"], f"{p}.position", 0, 100) if "position" in m else None
        u_height = r.integer(m["u_height"], f"{p}.u_height", 1, 60) if "u_height" in m else 1
        feed = r.name(m["feed"], f"{p}.feed") if "feed" in m else None
        rating = r.number(m["rating"], f"{p}.rating", 0, 1e6) if "rating" in m else None
        interval = r.number(m["interval"], f"{p}.interval", 1, 86400) if "interval" in m else None
        label = r.string(m["label"], f"{p}.label") if "label" in m else ""
        if rack is None and location is None and "rack" not in m and "location" not in m:
            r.error(item, f"{p}.rack", "a device needs a rack (with position) or a location")
        if rack is not None and "position" not in m:
            r.error(item, f"{p}.position", "missing required key for a device in a rack")
        if not (name and cls and addr and snmp and profile and u_height):
            if name:
                d.invalid["device"].add(name)
            continue
        dev = Device(name=name, device_class=cls, host=addr[0], port=addr[1],
                     snmp=SnmpCredentials(version=snmp.version), profile=profile,
                     location=location or "", rack=rack, position=position, u_height=u_height,
                     feed=feed, rating=rating, interval=interval, label=label or "", modbus=modbus)
        d.devices.append(Placed(DeviceDraft(dev, snmp), r, item, p))


Section = Callable[[Reader, yaml.Node, Draft], None]
SECTIONS: dict[str, Section] = {
    "site": read_site,
    "locations": read_locations,
    "racks": read_racks,
    "power": read_power,
    "devices": read_devices,
}


# ---------------------------------------------------------------- cross-checks

def unique(items: list[Placed[T]], kind: str) -> dict[str, Placed[T]]:
    out: dict[str, Placed[T]] = {}
    for pl in items:
        name = pl.obj.name
        if name in out:
            first = out[name]
            pl.reader.error(pl.node, f"{pl.path}.name",
                            f"duplicate {kind} name {name!r} (first defined at {first.reader.file}:"
                            f"{first.node.start_mark.line + 1})")
            continue
        out[name] = pl
    return out


def ref(
    pl: Placed[Any], key: str, value: str | None, known: Collection[str], kind: str,
    invalid: Collection[str] = (),
) -> bool:
    """Report a reference to an undefined name; one whose definition failed was reported there."""
    if value is None or value in known:
        return True
    if value in invalid:
        return False
    node = pl.node
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key:
                node = v
    pl.reader.error(node, f"{pl.path}.{key}", f"{kind} {value!r} does not exist")
    return False


def load_inventory(
    directory: Path | str,
    *,
    secrets: SecretStore | None = None,
    profiles: Collection[str] | None = None,
    modbus_profiles: Collection[str] | None = None,
) -> Inventory:
    """Read, validate and resolve an inventory directory; raise InventoryError listing every error.

    `secrets` defaults to `<directory>/secrets.yml` plus the environment;
    `profiles`, when given, are the profile names a device may name besides `auto`;
    `modbus_profiles`, when given, the register maps a Modbus device may name.
    """
    directory = Path(directory)
    errors: list[LoadError] = []
    draft = Draft()
    if not directory.is_dir():
        problem = "not a directory" if directory.exists() else "no such directory"
        raise InventoryError([LoadError(str(directory), 0, "(directory)", problem)])
    files = sorted(p for p in directory.glob("*.yml") if p.name != SECRETS_FILE)
    if not files:
        raise InventoryError([LoadError(str(directory), 0, "(directory)",
                                        f"no inventory files (*.yml besides {SECRETS_FILE})")])
    seen: dict[str, str] = {}
    unreadable = False
    for path in files:
        r = Reader(path, errors)
        before = len(errors)
        text = _read_text(path, r)
        root = r.compose(text) if text is not None else None
        if root is None:  # not UTF-8, not YAML (an error each), or empty
            unreadable = unreadable or len(errors) > before
            continue
        if not isinstance(root, yaml.MappingNode):
            unreadable = True
        top = r.mapping(root, "", SECTIONS.keys(), noun="section")
        for key, node in (top or {}).items():
            if key in seen:
                r.error(node, key, f"section already defined in {seen[key]}")
                continue
            seen[key] = str(path)
            SECTIONS[key](r, node, draft)
    if unreadable:
        # which names the unreadable file defines is unknown: cross-checks would only add noise
        errors.sort(key=lambda e: (e.file, e.line))
        raise InventoryError(errors)
    if draft.site is None and "site" not in seen:
        errors.append(LoadError(str(directory), 0, "site", "missing required section"))

    locations = unique(draft.locations, "location")
    racks = unique(draft.racks, "rack")
    panels = unique(draft.panels, "power panel")
    feeds = unique(draft.feeds, "power feed")
    devices = unique(draft.devices, "device")

    invalid = draft.invalid
    for pl in racks.values():
        rack = pl.obj
        if ref(pl, "location", rack.location, locations, "location", invalid["location"]):
            loc = locations[rack.location].obj
            if rack.row > loc.rows or rack.column > loc.columns:
                key = "row" if rack.row > loc.rows else "column"
                pl.reader.error(_value_node(pl.node, key), f"{pl.path}.{key}",
                                f"row {rack.row}, column {rack.column} is outside {loc.name}'s "
                                f"floor grid of {loc.rows} rows x {loc.columns} columns")
    grid: dict[tuple[str, int, int], str] = {}
    for pl in racks.values():
        rack = pl.obj
        spot = (rack.location, rack.row, rack.column)
        if spot in grid:
            pl.reader.error(_value_node(pl.node, "column"), f"{pl.path}.column",
                            f"floor position row {rack.row}, column {rack.column} is taken by {grid[spot]}")
        grid[spot] = rack.name
    for ppl in panels.values():
        ref(ppl, "location", ppl.obj.location, locations, "location", invalid["location"])
        ref(ppl, "ups", ppl.obj.ups, devices, "device", invalid["device"])
    for fpl in feeds.values():
        ref(fpl, "panel", fpl.obj.panel, panels, "power panel", invalid["power panel"])
        ref(fpl, "rack", fpl.obj.rack, racks, "rack", invalid["rack"])

    store = secrets if secrets is not None else _secret_store(directory / SECRETS_FILE, errors)
    for name, r, node, where in draft.secret_refs:
        if store is not None and name not in store:
            r.error(node, where, f"secret {name!r} is not defined "
                                f"(add it to the secrets file or set {env_name(name)})")

    occupied: dict[tuple[str, int], str] = {}
    resolved: dict[str, Device] = {}
    for dpl in devices.values():
        dev, snmp = dpl.obj.device, dpl.obj.snmp
        if dev.modbus is not None:
            _check_register_map(dpl, dev.profile, modbus_profiles)
        elif profiles is not None and dev.profile != "auto" and dev.profile not in profiles:
            dpl.reader.error(_value_node(dpl.node, "profile"), f"{dpl.path}.profile",
                            f"unknown profile {dev.profile!r} (known: "
                            f"{', '.join(['auto', *sorted(profiles)])})")
        ref(dpl, "location", dev.location or None, locations, "location", invalid["location"])
        ref(dpl, "feed", dev.feed, feeds, "power feed", invalid["power feed"])
        location = dev.location
        if dev.rack is not None and ref(dpl, "rack", dev.rack, racks, "rack", invalid["rack"]):
            rack = racks[dev.rack].obj
            location = location or rack.location
            if dev.position is not None and dev.position > 0:
                highest = dev.position + dev.u_height - 1
                if highest > rack.u_height:
                    dpl.reader.error(_value_node(dpl.node, "position"), f"{dpl.path}.position",
                                    f"U{dev.position}-U{highest} does not fit rack {rack.name} "
                                    f"(U1-U{rack.u_height})")
                else:
                    for u in range(dev.position, highest + 1):
                        other = occupied.get((rack.name, u))
                        if other:
                            dpl.reader.error(_value_node(dpl.node, "position"), f"{dpl.path}.position",
                                            f"U{u} of rack {rack.name} is taken by {other}")
                            break
                        occupied[(rack.name, u)] = dev.name
            feed_rack = feeds[dev.feed].obj.rack if dev.feed in feeds else rack.name
            if feed_rack != rack.name:
                dpl.reader.error(_value_node(dpl.node, "feed"), f"{dpl.path}.feed",
                                f"power feed {dev.feed!r} goes to rack {feed_rack}, not {rack.name}")
        creds = _resolve(snmp, store) if store is not None else None
        if creds is not None:
            resolved[dev.name] = Device(**{**dev.__dict__, "snmp": creds, "location": location})

    extranet = check_extranet(draft, store)

    if errors:
        errors.sort(key=lambda e: (e.file, e.line))
        raise InventoryError(errors)
    assert draft.site is not None
    inv = Inventory(site=draft.site, utility=draft.utility)
    inv.locations = {k: v.obj for k, v in locations.items()}
    inv.racks = {k: v.obj for k, v in racks.items()}
    inv.panels = {k: v.obj for k, v in panels.items()}
    inv.feeds = {k: v.obj for k, v in feeds.items()}
    inv.devices = resolved
    inv.extranet = extranet
    return inv


def _check_register_map(dpl: Placed[DeviceDraft], profile: str, known: Collection[str] | None) -> None:
    where = f"{dpl.path}.profile"
    if profile == "auto":
        dpl.reader.error(_value_node(dpl.node, "profile"), where,
                         "a Modbus device names its register map (Modbus has no detection)")
    elif known is not None and profile not in known:
        dpl.reader.error(_value_node(dpl.node, "profile"), where,
                         f"unknown Modbus register map {profile!r} (known: {', '.join(sorted(known)) or 'none'})")


def _value_node(node: yaml.Node, key: str) -> yaml.Node:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key:
                return v  # type: ignore[no-any-return]
    return node


def _read_text(path: Path, r: Reader) -> str | None:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        message = f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8"
        r.errors.append(LoadError(r.file, line, "(file)", message))
        return None


def _secret_store(path: Path, errors: list[LoadError]) -> SecretStore | None:
    """The default store; a broken file is an error that never quotes the file's values."""
    try:
        return SecretStore.from_file(path)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        errors.append(LoadError(str(path), mark.line + 1 if mark else 0, "(yaml)",
                                f"not valid YAML: {exc.problem}"))
    except (yaml.YAMLError, UnicodeDecodeError, ValueError):
        errors.append(LoadError(str(path), 0, "(secrets)",
                                "a secrets file is a UTF-8 YAML mapping of name: value"))
    return None


def _resolve(s: SnmpDraft, store: SecretStore) -> SnmpCredentials | None:
    def get(name: str | None) -> Secret | None:
        return store.get(name) if name and name in store else None

    if s.community is not None and s.community not in store:
        return None
    return SnmpCredentials(version=s.version, community=get(s.community), user=s.user,
                           auth_protocol=s.auth_protocol, auth_key=get(s.auth_key),
                           priv_protocol=s.priv_protocol, priv_key=get(s.priv_key),
                           context=s.context, engine_id=s.engine_id)


# The extranet's sections (switches, VLAN groups, prefix pools, agencies) have a module of their own;
# it imports this one's helpers, so it comes at the end.
from .extranet import EXTRANET_SECTIONS, ExtranetDraft, check_extranet  # noqa: E402

SECTIONS.update(EXTRANET_SECTIONS)
