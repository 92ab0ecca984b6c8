"""A simulated Huawei VRP or H3C Comware switch: its state and what it displays.

State is what our onboarding touches: VLANs (name, description), ports (link
type, default VLAN, trunk allowance), VLAN interfaces (address, inbound ACL)
and advanced ACLs. Output formats follow the vendors' command references and
ntc-templates' raw samples: `display current-configuration`, `display vlan`
and `display port vlan` (VRP), `display vlan all` (Comware).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

HUAWEI = "huawei_vrp"
H3C = "hp_comware"

# The vendor differences the simulator needs, as data.
DIALECTS: dict[str, dict[str, str]] = {
    HUAWEI: {"vlanif": "Vlanif", "access": "port default vlan", "trunk": "port trunk allow-pass vlan",
             "acl": "acl name", "acl_view": "acl-adv-", "filter": "traffic-filter inbound acl name {acl}",
             "error": "Error: ", "caret_indent": "", "paging": "screen-length 0 temporary"},
    H3C: {"vlanif": "Vlan-interface", "access": "port access vlan", "trunk": "port trunk permit vlan",
          "acl": "acl advanced name", "acl_view": "acl-ipv4-adv-", "filter": "packet-filter name {acl} inbound",
          "error": " % ", "caret_indent": " ", "paging": "screen-length disable"},
}
SHORT = (("XGigabitEthernet", "XGE"), ("GigabitEthernet", "GE"), ("Ten-GigabitEthernet", "XGE"),
         ("FortyGigE", "FGE"))


@dataclass
class Port:
    link_type: str = "hybrid"  # VRP's default on S-series; Comware's is access
    pvid: int = 1
    trunk: set[int] = field(default_factory=set)
    description: str = ""


@dataclass
class VlanIf:
    description: str = ""
    address: str = ""
    netmask: str = ""
    acl: str = ""


@dataclass
class Acl:
    number: int
    rules: dict[int, str] = field(default_factory=dict)


@dataclass
class Device:
    vendor: str
    name: str
    ports: dict[str, Port]
    vlans: dict[int, dict[str, str]] = field(default_factory=lambda: {1: {}})
    vlanifs: dict[int, VlanIf] = field(default_factory=dict)
    acls: dict[str, Acl] = field(default_factory=dict)

    @classmethod
    def new(cls, vendor: str, name: str, ports: list[str]) -> Device:
        default = "hybrid" if vendor == HUAWEI else "access"
        return cls(vendor, name, {p: Port(link_type=default) for p in ports})

    @property
    def d(self) -> dict[str, str]:
        return DIALECTS[self.vendor]

    # ------------------------------------------------------------ configuration text

    def running(self) -> str:
        return (self._huawei_config() if self.vendor == HUAWEI else self._h3c_config()) + "\n"

    def _port_lines(self, name: str, port: Port) -> list[str]:
        lines = [f" description {port.description}"] if port.description else []
        if self.vendor == H3C:
            lines.append(" port link-mode bridge")
        if port.link_type == "trunk":
            lines.append(" port link-type trunk")
            for chunk in _words(port.trunk):
                lines.append(f" {self.d['trunk']} {chunk}")
        elif port.link_type == "access":
            if self.vendor == HUAWEI:
                lines.append(" port link-type access")
            if port.pvid != 1:
                lines.append(f" {self.d['access']} {port.pvid}")
        return lines

    def _vlanif_lines(self, vid: int, vif: VlanIf) -> list[str]:
        lines = [f"interface {self.d['vlanif']}{vid}"]
        if vif.description:
            lines.append(f" description {vif.description}")
        if vif.address:
            lines.append(f" ip address {vif.address} {vif.netmask}")
        if vif.acl:
            lines.append(" " + self.d["filter"].format(acl=vif.acl))
        return lines

    def _acl_lines(self, name: str, acl: Acl) -> list[str]:
        head = f"acl name {name} {acl.number}" if self.vendor == HUAWEI else f"acl advanced name {name}"
        return [head] + [f" rule {seq} {text}" for seq, text in sorted(acl.rules.items())]

    def _huawei_config(self) -> str:
        out = ["!Software Version V200R019C10SPC500", "#", f"sysname {self.name}", "#"]
        others = sorted(v for v in self.vlans if v != 1)
        for chunk in _words(others):
            out.append(f"vlan batch {chunk}")
        out.append("#")
        for vid in others:
            attrs = self.vlans[vid]
            if attrs:
                out.append(f"vlan {vid}")
                out += [f" {k} {v}" for k, v in attrs.items() if v]
                out.append("#")
        for name, acl in sorted(self.acls.items()):
            out += self._acl_lines(name, acl) + ["#"]
        for vid, vif in sorted(self.vlanifs.items()):
            out += self._vlanif_lines(vid, vif) + ["#"]
        for name, port in self.ports.items():
            out += [f"interface {name}", *self._port_lines(name, port), "#"]
        out.append("return")
        return "\n".join(out)

    def _h3c_config(self) -> str:
        out = ["#", " version 7.1.070, Release 6328", "#", f" sysname {self.name}", "#"]
        for vid in sorted(self.vlans):
            out.append(f"vlan {vid}")
            attrs = self.vlans[vid]
            out += [f" {k} {v}" for k, v in attrs.items() if v]
            out.append("#")
        for vid, vif in sorted(self.vlanifs.items()):
            out += self._vlanif_lines(vid, vif) + ["#"]
        for name, port in self.ports.items():
            out += [f"interface {name}", *self._port_lines(name, port), "#"]
        for name, acl in sorted(self.acls.items()):
            out += self._acl_lines(name, acl) + ["#"]
        out.append("return")
        return "\n".join(out)

    # ------------------------------------------------------------ display commands

    def members(self, vid: int) -> tuple[list[str], list[str]]:
        untagged = [n for n, p in self.ports.items() if p.link_type != "trunk" and p.pvid == vid]
        tagged = [n for n, p in self.ports.items() if p.link_type == "trunk" and vid in p.trunk]
        return untagged, tagged

    def display_vlan(self) -> str:
        """VRP `display vlan` (ntc-templates huawei_vrp_display_vlan.raw shape)."""
        rule = "-" * 80
        out = [f"The total number of VLANs is: {len(self.vlans)}", rule,
               "U: Up;         D: Down;         TG: Tagged;         UT: Untagged;",
               "MP: Vlan-mapping;               ST: Vlan-stacking;",
               "#: ProtocolTransparent-vlan;    *: Management-vlan;", rule, "", "VID  Type    Ports", rule]
        for vid in sorted(self.vlans):
            untagged, tagged = self.members(vid)
            first = True
            for tag, ports in (("UT", untagged), ("TG", tagged)):
                names = [f"{_short(p)}(D)" for p in ports]
                for k in range(0, len(names), 4):
                    cells = "".join(f"{n:<17}" for n in names[k:k + 4]).rstrip()
                    lead = f"{vid:<5}{'common':<8}" if first else " " * 13
                    out.append(f"{lead}{tag + ':' if k == 0 else '   '}{cells}")
                    first = False
            if first:
                out.append(f"{vid:<5}common")
        out += ["", "VID  Status  Property      MAC-LRN Statistics Description", rule]
        for vid in sorted(self.vlans):
            desc = self.vlans[vid].get("description") or f"VLAN {vid:04d}"
            out.append(f"{vid:<5}{'enable':<8}{'default':<14}{'enable':<8}{'disable':<11}{desc}")
        return "\n".join(out)

    def display_port_vlan(self) -> str:
        """VRP `display port vlan`: one row per port, long trunk lists wrapped under their column."""
        out = ["Port                        Link Type    PVID  Trunk VLAN List", "-" * 79]
        for name, port in self.ports.items():
            if port.link_type == "trunk":
                items = _dashes(port.trunk | {1}).split() if port.trunk else ["1"]
                rows = [" ".join(items[k:k + 8]) for k in range(0, len(items), 8)]
            else:
                rows = ["-"]
            out.append(f"{name:<28}{port.link_type:<13}{port.pvid:<6}{rows[0]}")
            out += [" " * 47 + row for row in rows[1:]]
        return "\n".join(out)

    def display_vlan_all(self) -> str:
        """Comware `display vlan all` (ntc-templates hp_comware_display_vlan_all)."""
        out: list[str] = []
        for vid in sorted(self.vlans):
            untagged, tagged = self.members(vid)
            attrs, vif = self.vlans[vid], self.vlanifs.get(vid)
            out += [f" VLAN ID: {vid}", " VLAN type: Static",
                    f" Route interface: {'Configured' if vif else 'Not configured'}"]
            if vif and vif.address:
                out += [f" IPv4 address: {vif.address}", f" IPv4 subnet mask: {vif.netmask}"]
            out += [f" Description: {attrs.get('description') or f'VLAN {vid:04d}'}",
                    f" Name: {attrs.get('name') or f'VLAN {vid:04d}'}",
                    " Tagged ports:" + ("" if tagged else "   None"), *[f"    {p}" for p in tagged],
                    " Untagged ports:" + ("" if untagged else " None"), *[f"    {p}" for p in untagged], ""]
        return "\n".join(out)

    def acl_number(self) -> int:
        """VRP numbers a named advanced ACL from 3999 down."""
        used = {a.number for a in self.acls.values()}
        return next(n for n in range(3999, 2999, -1) if n not in used)


def _short(port: str) -> str:
    for long, short in SHORT:
        if port.startswith(long):
            return short + port[len(long):]
    return port


def _runs(vids: set[int] | list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for v in sorted(set(vids)):
        if runs and v == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    return runs


def _words(vids: set[int] | list[int]) -> list[str]:
    """`110 to 113 120`, ten items a line, as VRP and Comware write VLAN lists in a configuration."""
    items = [f"{a} to {b}" if b > a else str(a) for a, b in _runs(vids)]
    return [" ".join(items[k:k + 10]) for k in range(0, len(items), 10)]


def _dashes(vids: set[int]) -> str:
    return " ".join(f"{a}-{b}" if b > a else str(a) for a, b in _runs(vids))


def parse_vids(words: list[str]) -> set[int] | None:
    """`110 to 113 120` → the set, or None when it is not a VLAN list within 1..4094."""
    out: set[int] = set()
    i = 0
    try:
        while i < len(words):
            lo = int(words[i])
            hi = int(words[i + 2]) if i + 2 < len(words) and words[i + 1] == "to" else lo
            if not 1 <= lo <= hi <= 4094:
                return None
            out.update(range(lo, hi + 1))
            i += 3 if hi != lo or (i + 1 < len(words) and words[i + 1] == "to") else 1
    except ValueError:
        return None
    return out if words else None


def valid_address(address: str, netmask: str) -> bool:
    try:
        ipaddress.IPv4Interface(f"{address}/{netmask}")
    except ValueError:
        return False
    return True
