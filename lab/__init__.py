"""A virtual machine room for the demo, the tests and training, served over real SNMP.

`RoomModel` is the room's physics, driven by the clock passed in; `Faults`
breaks it; `VirtualRoom` renders it into snmpsim recordings (one per device,
in the shape the real device answers) and keeps them fresh; `SnmpSim` runs
snmpsim's responder as a child process; `LabRunner` does all of it at once.
"""

from .model import Faults, RoomModel, RoomState
from .recordings import RENDERERS, Agent, Record, render
from .room import LabError, LabRunner, VirtualRoom, at_address
from .snmpsim import SnmpSim, SnmpSimError, free_udp_port, responder_path, snmp_get

__all__ = [
    "RENDERERS",
    "Agent",
    "Faults",
    "LabError",
    "LabRunner",
    "Record",
    "RoomModel",
    "RoomState",
    "SnmpSim",
    "SnmpSimError",
    "VirtualRoom",
    "at_address",
    "free_udp_port",
    "render",
    "responder_path",
    "snmp_get",
]
