"""Vendor profiles (playbooks/vendors/*.yml): render facts to CLI commands, parse configurations to facts.

No vendor `if` here (DESIGN.md convention 1): each profile gives the commands,
the Jinja2 templates that add or remove each kind of fact, and the regular
expressions that read a running configuration back.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

from dcops.registry import Registry

from .facts import Change, Fact, Facts, fact

VENDOR_DIR = Path(__file__).parent / "vendors"
KEY_NAMES = {"vlan": ("vid",), "access": ("port",), "trunk": ("port", "vid"), "gateway": ("vid",), "acl": ("name",)}
_env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


@dataclass(frozen=True)
class Profile:
    vendor: str
    data: dict[str, Any]

    @property
    def device_type(self) -> str:
        return str(self.data["device_type"])

    def command(self, name: str) -> str | None:
        value = self.data["commands"].get(name)
        return str(value) if value else None

    @property
    def config_mode_pattern(self) -> str | None:
        value = self.data.get("config_mode_pattern")
        return str(value) if value else None

    @property
    def error_re(self) -> re.Pattern[str]:
        return re.compile(self.data["errors"], re.M)

    def fields(self, kind: str) -> list[str] | None:
        value = self.data.get("fields", {}).get(kind)
        return list(value) if value is not None else None

    def project(self, f: Fact) -> Fact:
        """Keep only the fields this vendor can hold (IOS VLANs have no description)."""
        keep = self.fields(f.kind)
        if keep is None or dict(f.value).get("absent"):
            return f
        return Fact(f.kind, f.key, tuple((k, v) for k, v in f.value if k in keep))

    # ------------------------------------------------------------ rendering

    def render(self, changes: Iterable[Change]) -> list[str]:
        """The configuration-mode commands that make the changes, in order."""
        lines: list[str] = []
        for change in changes:
            want = change.want
            action = "remove" if change.removes else "add"
            context = dict(zip(KEY_NAMES[want.kind], want.key, strict=True))
            context.update((k, v) for k, v in want.value if k not in ("absent", "was"))
            if action == "remove" and change.before is not None:
                context.update((k, v) for k, v in change.before.value if k not in context)
            if "rules" in context:
                context["rules"] = [_rule_context(r) for r in context["rules"]]
            text = _template(self.vendor, want.kind, action).render(**context)
            lines += [ln.rstrip() for ln in text.splitlines() if ln.strip()]
        return lines

    # ------------------------------------------------------------ parsing

    def parse(self, running: str) -> Facts:
        """The agency-relevant facts of a running configuration."""
        p = {k: re.compile(v) for k, v in self.data["parse"].items() if v}
        out: Facts = {}

        def add(f: Fact) -> None:
            out[f.ident] = self.project(f)

        for header, children in blocks(running):
            if "vlan_batch" in p and (m := p["vlan_batch"].match(header)):
                for vid in vlan_set(m["list"], self.data["vlan_list"]):
                    out.setdefault(("vlan", (vid,)), fact("vlan", (vid,), name="", description=""))
            elif m := p["vlan_block"].match(header):
                vid = int(m["vid"])
                add(fact("vlan", (vid,), name=_first(p.get("vlan_name"), children, "name"),
                         description=_first(p.get("vlan_description"), children, "description")))
            elif m := p["acl_block"].match(header):
                rules = tuple(_rule(r) for c in children if (r := p["acl_rule"].match(c)))
                add(fact("acl", (m["name"],), rules=rules))
            elif m := p["interface"].match(header):
                self._interface(m["port"], children, p, add)
        return out

    def _interface(self, port: str, children: list[str], p: dict[str, re.Pattern[str]], add: Any) -> None:
        if gw := p["gateway_interface"].match(port):
            addr = next((m for c in children if (m := p["address"].match(c))), None)
            add(fact("gateway", (int(gw["vid"]),), address=addr["address"] if addr else "",
                     netmask=addr["netmask"] if addr else "",
                     description=_first(p["description"], children, "description"),
                     acl=_first(p["acl_in"], children, "acl")))
            return
        access = _first(p["access"], children, "vid")
        if not access and "access_mode" in p and any(p["access_mode"].match(c) for c in children):
            access = "1"  # an access port that names no VLAN is in the default one
        if access:
            add(fact("access", (port,), vid=int(access)))
        lists = [m["list"] for c in children if (m := p["trunk"].match(c))]
        is_trunk = any(p["trunk_mode"].match(c) for c in children)
        if not lists and is_trunk and self.data.get("trunk_all_when_unlisted"):
            lists = ["1-4094"]
        for vid in set().union(*(vlan_set(x, self.data["vlan_list"]) for x in lists)) if lists else ():
            add(fact("trunk", (port, vid)))


@cache
def _template(vendor: str, kind: str, action: str) -> jinja2.Template:
    return _env.from_string(profiles()[vendor].data["render"][kind][action])


def _first(pattern: re.Pattern[str] | None, lines: list[str], group: str) -> str:
    if pattern is None:
        return ""
    return next((m[group] for line in lines if (m := pattern.match(line))), "")


def _rule(m: re.Match[str]) -> tuple[str, str, str]:
    def net(addr: str | None, wild: str | None) -> str:
        if not addr or not wild:
            return "any"
        return str(ipaddress.IPv4Network(f"{addr}/{wild}"))

    return (m["action"], net(m["src"], m["srcw"]), net(m["dst"], m["dstw"]))


def _rule_context(rule: tuple[str, str, str]) -> dict[str, str]:
    action, src, dst = rule
    out = {"action": action, "src": "", "srcw": "", "dst": "", "dstw": ""}
    for side, value in (("src", src), ("dst", dst)):
        if value != "any":
            net = ipaddress.IPv4Network(value)
            out[side], out[side + "w"] = str(net.network_address), str(net.hostmask)
    return out


def blocks(text: str) -> list[tuple[str, list[str]]]:
    """A configuration as (top-level line, its indented lines); `#` and `!` end a block."""
    out: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip() or line.strip() in ("#", "!"):
            current = None
        elif not line[0].isspace():
            current = []
            out.append((line, current))
        elif current is not None:
            current.append(line.strip())
    return out


def vlan_set(text: str, syntax: str) -> set[int]:
    """`10 20 to 30` (Huawei, H3C) or `10,20-30` (IOS); `none` is empty."""
    text = text.strip()
    if text == "none":
        return set()
    out: set[int] = set()
    if syntax == "commas":
        for part in text.split(","):
            first, _, last = part.partition("-")
            out.update(range(int(first), int(last or first) + 1))
        return out
    words = text.split()
    i = 0
    while i < len(words):
        lo = int(words[i])
        if i + 2 < len(words) and words[i + 1] == "to":
            out.update(range(lo, int(words[i + 2]) + 1))
            i += 3
        else:
            out.add(lo)
            i += 1
    return out


def vlan_text(vids: Iterable[int], syntax: str) -> list[str]:
    """Ranges as a device writes them: `10 20 to 30` (10 items a line) or `10,20-30`."""
    runs: list[tuple[int, int]] = []
    for vid in sorted(set(vids)):
        if runs and vid == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], vid)
        else:
            runs.append((vid, vid))
    if syntax == "commas":
        return [",".join(f"{a}-{b}" if b > a else str(a) for a, b in runs)] if runs else ["none"]
    items = [f"{a} to {b}" if b > a else str(a) for a, b in runs]
    return [" ".join(items[k:k + 10]) for k in range(0, len(items), 10)]


_profiles: Registry[Profile] | None = None


def profiles() -> Registry[Profile]:
    """The vendor profiles, by netmiko device type; a duplicate vendor is refused (convention 6)."""
    global _profiles
    if _profiles is None:
        reg: Registry[Profile] = Registry("switch vendor profile")
        for path in sorted(VENDOR_DIR.glob("*.yml")):
            data = yaml.safe_load(path.read_text("utf-8"))
            reg.register(data["device_type"], Profile(data["device_type"], data))
        _profiles = reg
    return _profiles
