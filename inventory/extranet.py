"""The extranet's inventory sections, read as strictly as the room's.

`switches` (vendor, role, SSH address, credentials by secret reference, ports,
uplinks), `vlan_groups` (vid range, reserved vids, gateway switch, prefix
pool), `prefix_pools`, `shared_services` and `agencies` (NetBox's Tenants).
Cross-checks run once every file is read: references, duplicate names, codes,
ports and pinned vids, overlapping prefixes and the layer-2 path from every
switch to its group's gateway. Every error names file, line and key.
"""

from __future__ import annotations

import ipaddress
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import yaml

from dcops.secrets import SecretStore

from .loader import Draft, Placed, Section, _value_node, parse_address, read_secret_ref, ref, unique
from .model import (
    ACTIVE,
    AGENCY_STATUSES,
    DEFAULT_SSH_PORT,
    RETIRED,
    SWITCH_ROLES,
    SWITCH_VENDORS,
    Agency,
    Extranet,
    PrefixPool,
    SharedService,
    Switch,
    Uplink,
    VLANGroup,
)
from .strict import TAG_INT, TAG_STR, Reader, describe

CODE_RE = re.compile(r"^[a-z][a-z0-9-]{1,22}[a-z0-9]$")
PORT_RE = re.compile(r"^\d*[A-Za-z][A-Za-z-]*\d+(/\d+)*$")  # GigabitEthernet0/0/1, 100GE0/0/1, Vlanif10
PORT_RANGE_RE = re.compile(r"^(\d*[A-Za-z][A-Za-z-]*(?:\d+/)*)(\d+)-(\d+)$")
PHONE_RE = re.compile(r"^[0-9+][0-9 -]{4,19}$")
VID_RANGE_RE = re.compile(r"^(\d+)-(\d+)$")


@dataclass
class SwitchDraft:
    """A switch before its password is resolved."""

    switch: Switch
    password: str

    @property
    def name(self) -> str:
        return self.switch.name


@dataclass
class ExtranetDraft:
    switches: list[Placed[SwitchDraft]] = field(default_factory=list)
    groups: list[Placed[VLANGroup]] = field(default_factory=list)
    pools: list[Placed[PrefixPool]] = field(default_factory=list)
    shared: list[Placed[SharedService]] = field(default_factory=list)
    agencies: list[tuple[Agency, Reader, yaml.Node, str]] = field(default_factory=list)


# ---------------------------------------------------------------- readers

def _opt(r: Reader, m: dict[str, yaml.Node], key: str, path: str) -> str:
    return (r.string(m[key], f"{path}.{key}") or "") if key in m else ""


def _network(r: Reader, node: yaml.Node, path: str) -> ipaddress.IPv4Network | None:
    raw = r.string(node, path)
    if raw is None:
        return None
    try:
        return ipaddress.IPv4Network(raw)
    except ValueError as exc:
        r.error(node, path, f"{raw!r} is not an IPv4 prefix ({exc})")
        return None


def _ports(r: Reader, node: yaml.Node, path: str) -> tuple[str, ...]:
    out: list[str] = []
    for j, item in enumerate(r.sequence(node, path)):
        raw = r.string(item, f"{path}[{j}]")
        if raw is None:
            continue
        m = PORT_RANGE_RE.match(raw)
        if m and int(m.group(2)) <= int(m.group(3)):
            names = [f"{m.group(1)}{k}" for k in range(int(m.group(2)), int(m.group(3)) + 1)]
        elif PORT_RE.match(raw):
            names = [raw]
        else:
            r.error(item, f"{path}[{j}]", f"{raw!r} is not a port name or range (GigabitEthernet0/0/1-24)")
            continue
        for name in names:
            if name in out:
                r.error(item, f"{path}[{j}]", f"port {name} is listed twice")
            else:
                out.append(name)
    return tuple(out)


def read_switches(r: Reader, node: yaml.Node, d: Draft) -> None:
    keys = {"name", "vendor", "role", "address", "username", "password", "group", "ports", "uplinks",
            "model", "label"}
    required = keys - {"uplinks", "model", "label"}
    for i, item in enumerate(r.sequence(node, "switches")):
        p = f"switches[{i}]"
        m = r.mapping(item, p, keys, required)
        if m is None:
            continue
        name = r.name(m["name"], f"{p}.name") if "name" in m else None
        if name:
            p = f"switches[{i}] ({name})"
        vals: dict[str, Any] = {
            "vendor": r.string(m["vendor"], f"{p}.vendor", choices=SWITCH_VENDORS) if "vendor" in m else None,
            "role": r.string(m["role"], f"{p}.role", choices=SWITCH_ROLES) if "role" in m else None,
            "username": r.string(m["username"], f"{p}.username") if "username" in m else None,
            "group": r.name(m["group"], f"{p}.group") if "group" in m else None,
        }
        addr = None
        if "address" in m:
            raw = r.string(m["address"], f"{p}.address")
            if raw is not None:
                addr = parse_address(raw)
                if addr is None:
                    r.error(m["address"], f"{p}.address", f"{raw!r} is not a valid host[:port]")
                elif not re.search(r"(^[^:]*|\]):\d+$", raw):
                    addr = (addr[0], DEFAULT_SSH_PORT)
        password = read_secret_ref(r, m["password"], f"{p}.password", d) if "password" in m else None
        ports = _ports(r, m["ports"], f"{p}.ports") if "ports" in m else ()
        uplinks: list[Uplink] = []
        for j, up in enumerate(r.sequence(m["uplinks"], f"{p}.uplinks") if "uplinks" in m else []):
            q = f"{p}.uplinks[{j}]"
            um = r.mapping(up, q, {"port", "peer", "peer_port"}, {"port", "peer", "peer_port"})
            if um and len(um) == 3:
                port, peer = r.string(um["port"], f"{q}.port"), r.name(um["peer"], f"{q}.peer")
                peer_port = r.string(um["peer_port"], f"{q}.peer_port")
                if port and peer and peer_port:
                    uplinks.append(Uplink(port, peer, peer_port))
        if name and addr and password and ports and all(v is not None for v in vals.values()):
            sw = Switch(name=name, host=addr[0], port=addr[1], password=None, ports=ports,  # type: ignore[arg-type]
                        uplinks=tuple(uplinks), model=_opt(r, m, "model", p), label=_opt(r, m, "label", p),
                        **vals)
            d.extranet.switches.append(Placed(SwitchDraft(sw, password), r, item, p))
        elif name:
            d.invalid["switch"].add(name)


def _vid_set(r: Reader, node: yaml.Node, path: str) -> frozenset[int]:
    out: set[int] = set()
    for j, item in enumerate(r.sequence(node, path)):
        where = f"{path}[{j}]"
        if isinstance(item, yaml.ScalarNode) and item.tag == TAG_STR and VID_RANGE_RE.match(item.value):
            lo, hi = (int(x) for x in VID_RANGE_RE.match(item.value).groups())  # type: ignore[union-attr]
            if not 1 <= lo <= hi <= 4094:
                r.error(item, where, f"{item.value!r} is not a vid range within 1..4094")
                continue
            out.update(range(lo, hi + 1))
        elif isinstance(item, yaml.ScalarNode) and item.tag == TAG_INT:
            vid = r.integer(item, where, 1, 4094)
            if vid is not None:
                out.add(vid)
        else:
            r.error(item, where, f"expected a vid or a range like '1002-1005', got {describe(item)}")
    return frozenset(out)


def read_vlan_groups(r: Reader, node: yaml.Node, d: Draft) -> None:
    keys = {"name", "label", "vids", "reserved", "gateway", "pool"}
    for i, item in enumerate(r.sequence(node, "vlan_groups")):
        p = f"vlan_groups[{i}]"
        m = r.mapping(item, p, keys, {"name", "vids", "gateway", "pool"})
        if m is None:
            continue
        name = r.name(m["name"], f"{p}.name") if "name" in m else None
        lo = hi = None
        if "vids" in m:
            v = r.mapping(m["vids"], f"{p}.vids", {"min", "max"}, {"min", "max"})
            if v and len(v) == 2:
                lo = r.integer(v["min"], f"{p}.vids.min", 1, 4094)
                hi = r.integer(v["max"], f"{p}.vids.max", 1, 4094)
                if lo is not None and hi is not None and lo > hi:
                    r.error(v["max"], f"{p}.vids.max", f"max {hi} is below min {lo}")
                    hi = None
        reserved = _vid_set(r, m["reserved"], f"{p}.reserved") if "reserved" in m else frozenset()
        gateway = r.name(m["gateway"], f"{p}.gateway") if "gateway" in m else None
        pool = r.name(m["pool"], f"{p}.pool") if "pool" in m else None
        if name and lo is not None and hi is not None and gateway and pool:
            group = VLANGroup(name, lo, hi, reserved, gateway, pool, _opt(r, m, "label", p))
            d.extranet.groups.append(Placed(group, r, item, p))
        elif name:
            d.invalid["VLAN group"].add(name)


def read_prefix_pools(r: Reader, node: yaml.Node, d: Draft) -> None:
    for i, item in enumerate(r.sequence(node, "prefix_pools")):
        p = f"prefix_pools[{i}]"
        m = r.mapping(item, p, {"name", "label", "prefix", "length", "reserved"}, {"name", "prefix", "length"})
        if m is None:
            continue
        name = r.name(m["name"], f"{p}.name") if "name" in m else None
        net = _network(r, m["prefix"], f"{p}.prefix") if "prefix" in m else None
        length = r.integer(m["length"], f"{p}.length", 8, 30) if "length" in m else None
        if net and length is not None and length < net.prefixlen:
            r.error(m["length"], f"{p}.length", f"/{length} is larger than the pool {net}")
            length = None
        reserved: list[str] = []
        for j, rn in enumerate(r.sequence(m["reserved"], f"{p}.reserved") if "reserved" in m else []):
            sub = _network(r, rn, f"{p}.reserved[{j}]")
            if sub and net and not sub.subnet_of(net):
                r.error(rn, f"{p}.reserved[{j}]", f"{sub} is not inside the pool {net}")
            elif sub:
                reserved.append(str(sub))
        if name and net and length is not None:
            pool = PrefixPool(name, str(net), length, tuple(reserved), _opt(r, m, "label", p))
            d.extranet.pools.append(Placed(pool, r, item, p))
        elif name:
            d.invalid["prefix pool"].add(name)


def read_shared_services(r: Reader, node: yaml.Node, d: Draft) -> None:
    for i, item in enumerate(r.sequence(node, "shared_services")):
        p = f"shared_services[{i}]"
        m = r.mapping(item, p, {"name", "label", "prefix"}, {"name", "prefix"})
        if m is None:
            continue
        name = r.name(m["name"], f"{p}.name") if "name" in m else None
        net = _network(r, m["prefix"], f"{p}.prefix") if "prefix" in m else None
        if name and net:
            d.extranet.shared.append(Placed(SharedService(name, str(net), _opt(r, m, "label", p)), r, item, p))


def read_agencies(r: Reader, node: yaml.Node, d: Draft) -> None:
    keys = {"code", "name", "contact", "site", "switch", "port", "status", "vid", "prefix"}
    for i, item in enumerate(r.sequence(node, "agencies")):
        p = f"agencies[{i}]"
        m = r.mapping(item, p, keys, keys - {"vid", "prefix"})
        if m is None:
            continue
        code = r.string(m["code"], f"{p}.code") if "code" in m else None
        if code is not None and not CODE_RE.match(code):
            r.error(m["code"], f"{p}.code", f"{code!r} is not a valid agency code "
                                            "(3-24 of a-z, 0-9 and -, starting with a letter)")
            code = None
        if code:
            p = f"agencies[{i}] ({code})"
        contact = phone = None
        if "contact" in m:
            c = r.mapping(m["contact"], f"{p}.contact", {"name", "phone"}, {"name", "phone"})
            if c and len(c) == 2:
                contact = r.string(c["name"], f"{p}.contact.name")
                phone = r.string(c["phone"], f"{p}.contact.phone")
                if phone is not None and not PHONE_RE.match(phone):
                    r.error(c["phone"], f"{p}.contact.phone", f"{phone!r} is not a phone number")
                    phone = None
        vals: dict[str, Any] = {
            "name": r.string(m["name"], f"{p}.name") if "name" in m else None,
            "site": r.string(m["site"], f"{p}.site") if "site" in m else None,
            "switch": r.name(m["switch"], f"{p}.switch") if "switch" in m else None,
            "port": r.string(m["port"], f"{p}.port") if "port" in m else None,
            "status": r.string(m["status"], f"{p}.status", choices=AGENCY_STATUSES) if "status" in m else None,
        }
        vid = r.integer(m["vid"], f"{p}.vid", 1, 4094) if "vid" in m else None
        net = _network(r, m["prefix"], f"{p}.prefix") if "prefix" in m else None
        if vals["status"] == ACTIVE and ("vid" not in m or "prefix" not in m):
            r.error(item, f"{p}.{'vid' if 'vid' not in m else 'prefix'}",
                    "an active agency is live already: give its vid and prefix")
        bad = ("vid" in m and vid is None) or ("prefix" in m and net is None)
        if code and contact and phone and not bad and all(v is not None for v in vals.values()):
            agency = Agency(code=code, contact=contact, phone=phone, vid=vid,
                            prefix=str(net) if net else None, **vals)
            d.extranet.agencies.append((agency, r, item, p))


EXTRANET_SECTIONS: dict[str, Section] = {
    "switches": read_switches,
    "vlan_groups": read_vlan_groups,
    "prefix_pools": read_prefix_pools,
    "shared_services": read_shared_services,
    "agencies": read_agencies,
}


# ---------------------------------------------------------------- cross-checks

def _err(pl: Placed[Any] | tuple[Any, Reader, yaml.Node, str], key: str, message: str) -> None:
    reader, node, path = (pl.reader, pl.node, pl.path) if isinstance(pl, Placed) else pl[1:]
    reader.error(_value_node(node, key), f"{path}.{key}", message)


def _where(reader: Reader, node: yaml.Node) -> str:
    return f"{reader.file}:{node.start_mark.line + 1}"


def _reaches(switches: dict[str, Placed[SwitchDraft]], start: str, goal: str) -> bool:
    """Is there a layer-2 path of uplinks from `start` to `goal` inside one VLAN group?"""
    group = switches[start].obj.switch.group
    links: dict[str, set[str]] = {}
    for pl in switches.values():
        for up in pl.obj.switch.uplinks:
            if up.peer in switches and switches[up.peer].obj.switch.group == group == pl.obj.switch.group:
                links.setdefault(pl.obj.name, set()).add(up.peer)
                links.setdefault(up.peer, set()).add(pl.obj.name)
    seen, todo = {start}, deque([start])
    while todo:
        here = todo.popleft()
        if here == goal:
            return True
        for nxt in links.get(here, set()) - seen:
            seen.add(nxt)
            todo.append(nxt)
    return False


def check_extranet(d: Draft, store: SecretStore | None) -> Extranet:
    """Cross-check the extranet sections; errors go to the readers; returns what resolved."""
    x, invalid = d.extranet, d.invalid
    switches = unique(x.switches, "switch")
    groups = unique(x.groups, "VLAN group")
    pools = unique(x.pools, "prefix pool")
    shared = unique(x.shared, "shared service")

    taken: dict[tuple[str, str], str] = {}
    broken: set[str] = set()  # switches or groups with a bad link or gateway: no path check for them
    for spl in switches.values():
        sw = spl.obj.switch
        ref(spl, "group", sw.group, groups, "VLAN group", invalid["VLAN group"])
        for j, up in enumerate(sw.uplinks):
            where = (spl.obj, spl.reader, _uplink_node(spl.node, j), f"{spl.path}.uplinks[{j}]")
            if up.port not in sw.ports:
                _err(where, "port", f"port {up.port} is not one of {sw.name}'s ports")
            if up.peer in invalid["switch"]:
                broken.add(sw.name)
            elif up.peer == sw.name or up.peer not in switches:
                _err(where, "peer", f"switch {up.peer!r} does not exist" if up.peer != sw.name
                     else "a switch cannot uplink to itself")
                broken.add(sw.name)
            elif up.peer_port not in switches[up.peer].obj.switch.ports:
                _err(where, "peer_port", f"port {up.peer_port} is not one of {up.peer}'s ports")
            taken[(sw.name, up.port)] = f"the uplink to {up.peer}"
            taken.setdefault((up.peer, up.peer_port), f"the uplink from {sw.name}")

    ranges: list[tuple[ipaddress.IPv4Network, str, Placed[Any]]] = []
    for ppl in pools.values():
        ranges.append((ipaddress.IPv4Network(ppl.obj.prefix), f"prefix pool {ppl.obj.name}", ppl))
    for spl2 in shared.values():
        ranges.append((ipaddress.IPv4Network(spl2.obj.prefix), f"shared service {spl2.obj.name}", spl2))
    for k, (net, _, pl) in enumerate(ranges):
        for other, other_what, _ in ranges[:k]:
            if net.overlaps(other):
                _err(pl, "prefix", f"{net} overlaps {other_what} ({other})")

    for gpl in groups.values():
        g = gpl.obj
        ref(gpl, "pool", g.pool, pools, "prefix pool", invalid["prefix pool"])
        known = ref(gpl, "gateway", g.gateway, switches, "switch", invalid["switch"])
        if known and switches[g.gateway].obj.switch.group != g.name:
            _err(gpl, "gateway", f"switch {g.gateway} belongs to VLAN group "
                                 f"{switches[g.gateway].obj.switch.group}, not {g.name}")
            broken.add(g.name)
    for spl in switches.values():
        sw = spl.obj.switch
        g2 = groups.get(sw.group)
        if sw.name in broken or sw.group in broken:
            continue
        if g2 and g2.obj.gateway in switches and not _reaches(switches, sw.name, g2.obj.gateway):
            _err(spl, "uplinks", f"no uplink path from {sw.name} to {g2.obj.gateway}, "
                                 f"the gateway of VLAN group {g2.obj.name}")

    agencies = _check_agencies(x, switches, groups, pools, taken, invalid["switch"])
    out = Extranet()
    for name, spl in switches.items():
        if store is not None and spl.obj.password in store:
            out.switches[name] = Switch(**{**spl.obj.switch.__dict__, "password": store.get(spl.obj.password)})
    out.groups = {k: v.obj for k, v in groups.items()}
    out.pools = {k: v.obj for k, v in pools.items()}
    out.shared = {k: v.obj for k, v in shared.items()}
    out.agencies = agencies
    return out


def _uplink_node(node: yaml.Node, j: int) -> yaml.Node:
    uplinks = _value_node(node, "uplinks")
    return uplinks.value[j] if isinstance(uplinks, yaml.SequenceNode) else node  # type: ignore[no-any-return]


def _check_agencies(
    x: ExtranetDraft,
    switches: dict[str, Placed[SwitchDraft]],
    groups: dict[str, Placed[VLANGroup]],
    pools: dict[str, Placed[PrefixPool]],
    taken: dict[tuple[str, str], str],
    invalid_switches: set[str],
) -> dict[str, Agency]:
    out: dict[str, Agency] = {}
    names: dict[str, str] = {}
    vids: dict[tuple[str, int], str] = {}
    nets: list[tuple[ipaddress.IPv4Network, str]] = []
    for entry in x.agencies:
        a, reader, node, path = entry
        if a.code in out:
            reader.error(_value_node(node, "code"), f"{path}.code", f"duplicate agency code {a.code!r} "
                                                                    f"(first defined at {names[a.code]})")
            continue
        first = next((c for c, o in out.items() if o.name == a.name), None)
        if first:
            _err(entry, "name", f"duplicate agency name {a.name!r} (agency {first} has it)")
        out[a.code] = a
        names[a.code] = _where(reader, node)
        if a.switch not in switches:
            if a.switch not in invalid_switches:
                _err(entry, "switch", f"switch {a.switch!r} does not exist")
            continue
        sw = switches[a.switch].obj.switch
        if a.port not in sw.ports:
            _err(entry, "port", f"port {a.port} is not one of {sw.name}'s ports")
        elif (sw.name, a.port) in taken:
            _err(entry, "port", f"port {a.port} of {sw.name} is taken by {taken[(sw.name, a.port)]}")
        else:
            taken[(sw.name, a.port)] = f"agency {a.code}"
        group = groups[sw.group].obj if sw.group in groups else None
        if group is None or a.status == RETIRED:
            continue
        if a.vid is not None:
            if not group.min_vid <= a.vid <= group.max_vid:
                _err(entry, "vid", f"vid {a.vid} is outside VLAN group {group.name}'s range "
                                   f"{group.min_vid}-{group.max_vid}")
            elif a.vid in group.reserved:
                _err(entry, "vid", f"vid {a.vid} is reserved in VLAN group {group.name}")
            elif (group.name, a.vid) in vids:
                _err(entry, "vid", f"vid {a.vid} is already used in VLAN group {group.name} "
                                   f"by agency {vids[(group.name, a.vid)]}")
            else:
                vids[(group.name, a.vid)] = a.code
        if a.prefix is not None and group.pool in pools:
            pool = pools[group.pool].obj
            net = ipaddress.IPv4Network(a.prefix)
            if not net.subnet_of(ipaddress.IPv4Network(pool.prefix)) or net.prefixlen != pool.length:
                _err(entry, "prefix", f"{net} is not a /{pool.length} inside prefix pool {pool.name} ({pool.prefix})")
                continue
            clash = next((f"reserved {r}" for r in pool.reserved if net.overlaps(ipaddress.IPv4Network(r))), None)
            clash = clash or next((f"agency {c}'s {n}" for n, c in nets if net.overlaps(n)), None)
            if clash:
                _err(entry, "prefix", f"{net} overlaps {clash}")
            else:
                nets.append((net, a.code))
    return out
