"""The command line of a simulated VRP or Comware switch: views, prompts, confirmations and errors.

User view `<NAME>`, system view `[NAME]`, sub-views `[NAME-vlan113]`,
`[NAME-GigabitEthernet0/0/1]`, `[NAME-Vlanif113]` (`Vlan-interface113` on
Comware), `[NAME-acl-adv-EXT-x]`. `save` asks `Continue? [Y/N]:` on VRP;
Comware saves with `save force`. A command it does not know gets the
vendor's `Unrecognized command found at '^' position.`
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .device import HUAWEI, Acl, Device, VlanIf, parse_vids, valid_address

RULE_RE = re.compile(r"^rule(?: (\d+))? (permit|deny) ip((?: source \S+ \S+)?(?: destination \S+ \S+)?)$")


@dataclass
class Session:
    device: Device
    reject: Callable[[str], bool] = lambda line: False  # a fault: the switch refuses this command
    on_save: Callable[[str], None] = lambda text: None
    view: tuple[str, ...] = ("user",)
    pending: str = ""  # a question waiting for its answer
    closed: bool = False
    history: list[str] = field(default_factory=list)

    @property
    def prompt(self) -> str:
        name, kind = self.device.name, self.view[0]
        if kind == "user":
            return f"<{name}>"
        suffix = {"system": "", "vlan": f"-vlan{self.view[-1]}", "interface": f"-{self.view[-1]}",
                  "vlanif": f"-{self.device.d['vlanif']}{self.view[-1]}",
                  "acl": f"-{self.device.d['acl_view']}{self.view[-1]}"}[kind]
        return f"[{name}{suffix}]"

    def banner(self) -> str:
        if self.device.vendor == HUAWEI:
            return ("\r\nInfo: The max number of VTY users is 10, and the number\r\n"
                    "      of current VTY users on line is 1.\r\n")
        return ("\r\n" + "*" * 78 + "\r\n* Copyright (c) 2004-2023 New H3C Technologies Co., Ltd. All rights "
                "reserved.*\r\n" + "*" * 78 + "\r\n\r\n")

    def error(self, what: str, offset: int = 0) -> str:
        caret = " " * (len(self.prompt) + offset) + "^"
        return f"{caret}\n{self.device.d['error']}{what} found at '^' position."

    def execute(self, raw: str) -> str:
        """Run one line; the text it prints (without the prompt)."""
        line = " ".join(raw.split())
        self.history.append(line)
        if self.pending:
            self.pending = ""
            if line.lower() in ("y", "yes"):
                self.on_save(self.device.running())
                return "Now saving the current configuration to the slot 1.\nInfo: Save the configuration successfully."
            return "Info: The configuration is not saved."
        if not line:
            return ""
        if self.reject(line):
            return self.error("Unrecognized command")
        if line.startswith("display "):
            return self.display(line[len("display "):])
        if line == "return":
            self.view = ("user",)
            return ""
        if line == "quit":
            self.view = {"user": ("closed",), "system": ("user",)}.get(self.view[0], ("system",))
            self.closed = self.view == ("closed",)
            return ""
        handler = getattr(self, f"in_{self.view[0]}")
        out = handler(line)
        return out if out is not None else self.error("Unrecognized command")

    # ------------------------------------------------------------ views

    def in_user(self, line: str) -> str | None:
        d = self.device.d
        if line == d["paging"]:
            return "Info: The configuration takes effect on the current user terminal interface only." \
                if self.device.vendor == HUAWEI else ""
        if line == "system-view":
            self.view = ("system",)
            return "Enter system view, return user view with Ctrl+Z."
        if line in ("save", "save force"):
            return self.save(line)
        return None

    def save(self, line: str) -> str:
        if line == "save" and self.device.vendor == HUAWEI:
            self.pending = "save"
            return "Warning: The current configuration will be written to the device. Continue? [Y/N]:"
        self.on_save(self.device.running())
        return ("Validating file. Please wait...\nSaved the current configuration to mainboard device successfully."
                if self.device.vendor != HUAWEI else "Info: Save the configuration successfully.")

    def in_system(self, line: str) -> str | None:
        dev, d, words = self.device, self.device.d, line.split()
        if words[0] == "sysname" and len(words) == 2:
            dev.name = words[1]
            return ""
        if line in ("save", "save force"):
            return self.save(line)
        if m := re.fullmatch(r"vlan (\d+)", line):
            vid = int(m.group(1))
            if not 1 <= vid <= 4094:
                return self.error("Wrong parameter", 5)
            dev.vlans.setdefault(vid, {})
            self.view = ("vlan", str(vid))
            return ""
        if words[:2] == ["vlan", "batch"]:
            vids = parse_vids(words[2:])
            if vids is None:
                return self.error("Wrong parameter", 11)
            for vid in vids:
                dev.vlans.setdefault(vid, {})
            return ""
        if m := re.fullmatch(r"undo vlan (\d+)", line):
            vid = int(m.group(1))
            dev.vlans.pop(vid, None) if vid != 1 else None
            for port in dev.ports.values():
                port.trunk.discard(vid)
                port.pvid = 1 if port.pvid == vid else port.pvid
            return ""
        vlanif = re.fullmatch(rf"(undo )?interface {d['vlanif']}(\d+)", line)
        if vlanif:
            vid = int(vlanif.group(2))
            if vlanif.group(1):
                dev.vlanifs.pop(vid, None)
            else:
                dev.vlanifs.setdefault(vid, VlanIf())
                self.view = ("vlanif", str(vid))
            return ""
        if words[0] == "interface" and len(words) == 2:
            if words[1] not in dev.ports:
                return self.error("Wrong parameter", 10)
            self.view = ("interface", words[1])
            return ""
        acl = re.fullmatch(rf"(undo )?{d['acl']} (\S+)(?: advance| (\d+))?", line)
        if acl:
            if acl.group(1):
                dev.acls.pop(acl.group(2), None)
            else:
                number = int(acl.group(3)) if acl.group(3) else dev.acl_number()
                dev.acls.setdefault(acl.group(2), Acl(number))
                self.view = ("acl", acl.group(2))
            return ""
        return None

    def in_vlan(self, line: str) -> str | None:
        attrs = self.device.vlans[int(self.view[1])]
        m = re.fullmatch(r"(undo )?(name|description)(?: (.+))?", line)
        if not m or bool(m.group(1)) == bool(m.group(3)):
            return None
        if m.group(1):
            attrs.pop(m.group(2), None)
        else:
            attrs[m.group(2)] = m.group(3)
        return ""

    def in_interface(self, line: str) -> str | None:
        port, d = self.device.ports[self.view[1]], self.device.d
        words = line.split()
        if m := re.fullmatch(r"port link-type (access|trunk|hybrid)", line):
            if m.group(1) == "trunk" and port.link_type != "trunk" and self.device.vendor != HUAWEI:
                port.trunk = {1}  # Comware's trunks permit VLAN 1 until told otherwise, and say so
            port.link_type = m.group(1)
            return ""
        if line == "undo port link-type":  # back to the vendor's default type
            if self.device.vendor == HUAWEI and (port.pvid != 1 or port.trunk):
                return "Error: Please renew the default configurations."  # VRP: the VLAN settings go first
            port.link_type, port.trunk = ("hybrid" if self.device.vendor == HUAWEI else "access"), set()
            return ""
        if line == "port link-mode bridge" and self.device.vendor != HUAWEI:
            return ""
        if m := re.fullmatch(rf"(undo )?{d['access']}(?: (\d+))?", line):
            if m.group(1):
                port.pvid = 1
                return ""
            vid = int(m.group(2) or 0)
            if not 1 <= vid <= 4094:
                return self.error("Wrong parameter", len(d["access"]) + 1)
            port.pvid = vid
            self.device.vlans.setdefault(vid, {})
            return ""
        if line.startswith(d["trunk"]) or line.startswith("undo " + d["trunk"]):
            undo = words[0] == "undo"
            vids = parse_vids(line.split(" vlan ", 1)[1].split()) if " vlan " in line else None
            if vids is None:
                return self.error("Wrong parameter", len(line))
            port.trunk = (port.trunk - vids) if undo else (port.trunk | vids)
            return ""
        if m := re.fullmatch(r"(undo )?description(?: (.+))?", line):
            port.description = "" if m.group(1) else (m.group(2) or "")
            return ""
        return None

    def in_vlanif(self, line: str) -> str | None:
        vif, d = self.device.vlanifs[int(self.view[1])], self.device.d
        if m := re.fullmatch(r"ip address (\S+) (\S+)", line):
            if not valid_address(m.group(1), m.group(2)):
                return self.error("Wrong parameter", 11)
            vif.address, vif.netmask = m.group(1), m.group(2)
            return ""
        if line == "undo ip address":
            vif.address = vif.netmask = ""
            return ""
        filt = re.escape(d["filter"]).replace(re.escape("{acl}"), r"(\S+)")
        if m := re.fullmatch(rf"(undo )?{filt}", line):
            vif.acl = "" if m.group(1) else m.group(2)
            return ""
        if m := re.fullmatch(r"(undo )?description(?: (.+))?", line):
            vif.description = "" if m.group(1) else (m.group(2) or "")
            return ""
        return None

    def in_acl(self, line: str) -> str | None:
        acl = self.device.acls[self.view[1]]
        if m := re.fullmatch(r"undo rule (\d+)", line):
            acl.rules.pop(int(m.group(1)), None)
            return ""
        m = RULE_RE.fullmatch(line)
        if not m:
            return None
        seq = int(m.group(1)) if m.group(1) else (max(acl.rules, default=0) // 5 + 1) * 5
        acl.rules[seq] = f"{m.group(2)} ip{m.group(3)}"
        return ""

    def display(self, what: str) -> str:
        dev = self.device
        shows = {"current-configuration": dev.running, "vlan": dev.display_vlan,
                 "port vlan": dev.display_port_vlan} if dev.vendor == HUAWEI else \
                {"current-configuration": dev.running, "vlan all": dev.display_vlan_all}
        if what in shows:
            return shows[what]().rstrip("\n")
        return self.error("Unrecognized command", len("display "))

    def boot(self, config: str) -> None:
        """Load a configuration (a saved `display current-configuration`) as the switch starts."""
        self.view = ("system",)
        for raw in config.splitlines():
            if not raw.strip() or raw.startswith("!") or raw.strip() == "return" or raw.startswith(" version "):
                continue
            if raw.strip() == "#":
                self.view = ("system",)
                continue
            if not raw[0].isspace():
                self.view = ("system",)
            out = self.execute(raw.strip())
            if "position." in out:
                raise ValueError(f"{self.device.name}: the saved configuration has a line it cannot load: {raw!r}")
        self.view = ("user",)
