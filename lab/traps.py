"""The virtual room's notifications: when a fault is set or cleared, its devices send traps.

Like the real devices the lab imitates: a UPS sends RFC 1628 upsTrapOnBattery
and upsTrapAlarmEntryAdded(upsAlarmInputBad) when the utility is lost, and the
alarm-removed traps when it returns; a leak, smoke or door contact on an AKCP
sensorProbe sends a status trap carrying sensorProbeSwitchStatus. Each trap is
an SNMPv2c trap from 127.0.0.1 with the device's own community (that is how
the receiver tells devices at one address apart), built with pysnmp's
protocol API and sent over a plain UDP socket: no event loop needed.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass

from pyasn1.codec.ber import encoder
from pysnmp.proto import api

from dcops.types import DOOR, LEAK, SMOKE, UPS
from inventory.model import Device, Inventory

from .model import Faults

SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
UPS_MIB = "1.3.6.1.2.1.33"
UPS_TRAP_ON_BATTERY = f"{UPS_MIB}.2.1"
UPS_TRAP_ALARM_ADDED = f"{UPS_MIB}.2.3"
UPS_TRAP_ALARM_REMOVED = f"{UPS_MIB}.2.4"
UPS_ALARM_ON_BATTERY = f"{UPS_MIB}.1.6.3.2"
UPS_ALARM_INPUT_BAD = f"{UPS_MIB}.1.6.3.6"
# AKCP: an enterprise-specific status trap; dcops matches AKCP traps by enterprise, not by number
AKCP_STATUS_TRAP = "1.3.6.1.4.1.3854.1.0.1"
AKCP_SWITCH_STATUS = "1.3.6.1.4.1.3854.1.2.2.1.18.1.3.0"  # sensorProbeSwitchStatus of sensor 0
AKCP_NORMAL, AKCP_HIGH_CRITICAL = 2, 4
CONTACTS = {LEAK: "leak", SMOKE: "smoke", DOOR: "door_open"}  # device class -> fault

Value = int | str | tuple[str, str]  # an integer, an octet string, or ("oid", dotted)


@dataclass(frozen=True)
class Notification:
    device: str
    community: str
    trap_oid: str
    varbinds: tuple[tuple[str, Value], ...] = ()


def udp_port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def trap_message(n: Notification, uptime_ticks: int = 0) -> bytes:
    """An SNMPv2c Trap message for `n`, BER-encoded."""
    proto = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    pdu = proto.TrapPDU()
    proto.apiTrapPDU.set_defaults(pdu)

    def typed(value: Value) -> object:
        if isinstance(value, tuple):
            return proto.ObjectIdentifier(value[1])
        return proto.Integer(value) if isinstance(value, int) else proto.OctetString(value)

    varbinds = [(SYS_UPTIME, proto.TimeTicks(uptime_ticks)), (SNMP_TRAP_OID, proto.ObjectIdentifier(n.trap_oid))]
    varbinds += [(oid, typed(v)) for oid, v in n.varbinds]
    proto.apiTrapPDU.set_varbinds(pdu, varbinds)
    msg = proto.Message()
    proto.apiMessage.set_defaults(msg)
    proto.apiMessage.set_community(msg, n.community)
    proto.apiMessage.set_pdu(msg, pdu)
    return bytes(encoder.encode(msg))


def send(notifications: Sequence[Notification], target: tuple[str, int]) -> None:
    family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        for n in notifications:
            s.sendto(trap_message(n), target)


def _community(device: Device) -> str:
    return device.snmp.community.reveal() if device.snmp.community is not None else ""


def notifications_for(inventory: Inventory, before: Faults, after: Faults) -> list[Notification]:
    """What the room's devices send when the faults change from `before` to `after`."""
    out: list[Notification] = []
    devices = sorted(inventory.devices.values(), key=lambda d: d.name)
    if before.utility_lost != after.utility_lost:
        for ups in (d for d in devices if d.device_class == UPS):
            c = _community(ups)
            if after.utility_lost:
                out.append(Notification(ups.name, c, UPS_TRAP_ON_BATTERY, (
                    (f"{UPS_MIB}.1.2.3.0", 30), (f"{UPS_MIB}.1.2.2.0", 0), (f"{UPS_MIB}.1.9.7.0", 5))))
                out.append(Notification(ups.name, c, UPS_TRAP_ALARM_ADDED, (
                    (f"{UPS_MIB}.1.6.2.1.1.1", 1), (f"{UPS_MIB}.1.6.2.1.2.1", ("oid", UPS_ALARM_INPUT_BAD)))))
            else:
                for alarm in (UPS_ALARM_INPUT_BAD, UPS_ALARM_ON_BATTERY):
                    out.append(Notification(ups.name, c, UPS_TRAP_ALARM_REMOVED, (
                        (f"{UPS_MIB}.1.6.2.1.1.1", 1), (f"{UPS_MIB}.1.6.2.1.2.1", ("oid", alarm)))))
    for cls, fault in CONTACTS.items():
        if before[fault] == after[fault]:
            continue
        status = AKCP_HIGH_CRITICAL if after[fault] else AKCP_NORMAL
        for d in (d for d in devices if d.device_class == cls):
            out.append(Notification(d.name, _community(d), AKCP_STATUS_TRAP, ((AKCP_SWITCH_STATUS, status),)))
    return out


class FaultNotifier:
    """Sends the notifications for every fault change since it last looked (call `check()` after setting faults)."""

    def __init__(self, inventory: Inventory, faults: Faults, target: tuple[str, int]) -> None:
        self.inventory = inventory
        self.faults = faults
        self.target = target
        self._seen = faults.snapshot()

    def check(self) -> list[Notification]:
        now = self.faults.snapshot()
        sent = notifications_for(self.inventory, self._seen, now)
        send(sent, self.target)
        self._seen = now
        return sent
