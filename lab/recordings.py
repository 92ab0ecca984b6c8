"""Render a device's modelled state as an snmpsim recording (`OID|TAG|VALUE`, one per line).

One renderer per device class gives the shape a real device of that class
answers: RFC1628 UPS-MIB behind a UPS network card, APC PowerNet rPDU2, APC
InRow RC (airIRRC), AKCP sensorProbe (SPAGENT-MIB). Values are scaled and
typed as the MIBs define them; lines are sorted by numeric OID, which
snmpsim's GETNEXT search relies on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dcops.types import COOLING, DOOR, ENV, LEAK, PDU, SMOKE, UPS
from inventory.model import Device

from .curves import unit
from .model import ContactReading, CoolingReading, PduReading, ProbeReading, Reading, UpsReading

INTEGER = "2"
OCTETS = "4"
OCTETS_HEX = "4x"
OBJECT_ID = "6"
COUNTER32 = "65"
GAUGE32 = "66"
TIMETICKS = "67"

TICKS_WRAP = 2**32  # TimeTicks wrap after ~497 days, as on real agents
DROP_WAIT_MS = 100_000  # snmpsim's delay module drops (never answers) a wait above 99,999 ms

SYSTEM = "1.3.6.1.2.1.1"
UPS_MIB = "1.3.6.1.2.1.33.1"
UPS_ALARMS = UPS_MIB + ".6.3"
RPDU2 = "1.3.6.1.4.1.318.1.1.26"
AIR_IRRC = "1.3.6.1.4.1.318.1.1.13.3"
SENSOR_PROBE = "1.3.6.1.4.1.3854.1.2.2.1"

# RFC1628 upsWellKnownAlarms (upsAlarm 3) by the model's alarm names.
UPS_WELL_KNOWN_ALARMS = {
    "onBattery": 2,
    "lowBattery": 3,
    "depletedBattery": 4,
    "inputBad": 6,
    "upsOutputOff": 14,
}
UPS_OUTPUT_SOURCE = {"other": 1, "none": 2, "normal": 3, "bypass": 4, "battery": 5}
UPS_BATTERY_STATUS = {"unknown": 1, "normal": 2, "low": 3, "depleted": 4}
IRRC_OPERATE_MODE = {"standby": 1, "on": 2, "idle": 3, "maintenance": 4}
AKCP_STATUS = {"normal": 2, "highWarning": 3, "highCritical": 4, "lowWarning": 5, "lowCritical": 6}
# AKCP sensorProbe default thresholds: (lowCritical, lowWarning, highWarning, highCritical).
AKCP_TEMPERATURE_LIMITS = (10, 15, 27, 32)
AKCP_HUMIDITY_LIMITS = (20, 30, 60, 70)


def oid_key(oid: str) -> tuple[int, ...]:
    return tuple(int(x) for x in oid.split("."))


@dataclass(frozen=True)
class Agent:
    """The agent answering for a device: its clock, for sysUpTime and alarm time stamps."""

    device: Device
    now: float
    uptime: float  # seconds since the agent booted

    def ticks(self, at: float | None = None) -> int:
        """sysUpTime (hundredths of a second) now, or at an earlier time `at`."""
        seconds = self.uptime - (0.0 if at is None else self.now - at)
        return int(max(0.0, seconds) * 100) % TICKS_WRAP


class Record:
    """The var-binds of one recording, kept in numeric OID order when written."""

    def __init__(self) -> None:
        self._vars: dict[tuple[int, ...], tuple[str, str]] = {}

    def add(self, oid: str, tag: str, value: object) -> None:
        self._vars[oid_key(oid)] = (tag, str(value))

    def integer(self, oid: str, value: float) -> None:
        self.add(oid, INTEGER, round(value))

    def gauge(self, oid: str, value: float) -> None:
        self.add(oid, GAUGE32, max(0, round(value)))

    def counter(self, oid: str, value: float) -> None:
        self.add(oid, COUNTER32, int(value) % 2**32)

    def ticks(self, oid: str, value: int) -> None:
        self.add(oid, TIMETICKS, value)

    def object_id(self, oid: str, value: str) -> None:
        self.add(oid, OBJECT_ID, value)

    def string(self, oid: str, value: str) -> None:
        # snmpsim reads lines as Latin-1 and strips them: anything else goes as hex.
        if value.isascii() and value.isprintable() and value == value.strip() and value:
            self.add(oid, OCTETS, value)
        elif value:
            self.add(oid, OCTETS_HEX, value.encode().hex().upper())
        else:
            self.add(oid, OCTETS, "")

    def oids(self) -> list[str]:
        return [".".join(map(str, k)) for k in sorted(self._vars)]

    def snmprec(self) -> str:
        return "".join(f"{'.'.join(map(str, k))}|{t}|{v}\n" for k, (t, v) in sorted(self._vars.items()))

    def snmprec_down(self) -> str:
        """The same OIDs, each dropped unanswered, so the agent looks down.

        A missing recording would do the same, but snmpsim 1.2.2 then corrupts
        its open-file queue and stops answering other communities (see
        lab/snmpsim.py). The trailing `2` line catches GETNEXTs past the end.
        """
        lines = [f"{'.'.join(map(str, k))}|{t}:delay|wait={DROP_WAIT_MS}\n" for k, (t, _) in sorted(self._vars.items())]
        return "".join(lines) + f"2|{INTEGER}:delay|wait={DROP_WAIT_MS}\n"


def _serial(device: Device, prefix: str) -> str:
    return f"{prefix}{int(unit(device.name, 'serial') * 10**10):010d}"


def system_group(rec: Record, agent: Agent, descr: str, object_id: str) -> None:
    d = agent.device
    rec.string(f"{SYSTEM}.1.0", descr)
    rec.object_id(f"{SYSTEM}.2.0", object_id)
    rec.ticks(f"{SYSTEM}.3.0", agent.ticks())
    rec.string(f"{SYSTEM}.4.0", "dc-ops")
    rec.string(f"{SYSTEM}.5.0", d.name)
    rec.string(f"{SYSTEM}.6.0", f"{d.location} {d.rack}" if d.rack else d.location)
    rec.integer(f"{SYSTEM}.7.0", 72)


def render_ups(agent: Agent, r: UpsReading) -> Record:
    """RFC1628 UPS-MIB as a Megatec NetAgent II card in a three-phase UPS answers it."""
    rec = Record()
    system_group(rec, agent, "NET Agent II", "1.3.6.1.4.1.935")
    u = UPS_MIB
    kva = r.rated_va / 1000
    rec.string(f"{u}.1.1.0", "INVT CO., LTD")
    rec.string(f"{u}.1.2.0", f"Modular UPS {kva:g}kVA")
    rec.string(f"{u}.1.3.0", "V100R002")
    rec.string(f"{u}.1.4.0", "2.48.DP520.WEST")
    rec.string(f"{u}.1.5.0", agent.device.name)
    # upsBattery
    rec.integer(f"{u}.2.1.0", UPS_BATTERY_STATUS[r.battery_status])
    rec.integer(f"{u}.2.2.0", r.seconds_on_battery)
    rec.integer(f"{u}.2.3.0", r.minutes_remaining)
    rec.integer(f"{u}.2.4.0", r.charge_percent)
    rec.integer(f"{u}.2.5.0", r.battery_voltage * 10)  # 0.1 V DC
    rec.integer(f"{u}.2.6.0", r.battery_current * 10)  # 0.1 A DC
    rec.integer(f"{u}.2.7.0", r.battery_temperature)
    # upsInput
    lines = len(r.input_voltage)
    rec.counter(f"{u}.3.1.0", r.input_line_bads)
    rec.integer(f"{u}.3.2.0", lines)
    for i in range(lines):
        n = i + 1
        rec.integer(f"{u}.3.3.1.1.{n}", n)
        rec.integer(f"{u}.3.3.1.2.{n}", r.input_frequency * 10)  # 0.1 Hz
        rec.integer(f"{u}.3.3.1.3.{n}", r.input_voltage[i])
        rec.integer(f"{u}.3.3.1.4.{n}", r.input_current[i] * 10)  # 0.1 A
        rec.integer(f"{u}.3.3.1.5.{n}", r.input_power[i])
    # upsOutput
    rec.integer(f"{u}.4.1.0", UPS_OUTPUT_SOURCE[r.source])
    rec.integer(f"{u}.4.2.0", r.output_frequency * 10)
    rec.integer(f"{u}.4.3.0", lines)
    for i in range(lines):
        n = i + 1
        rec.integer(f"{u}.4.4.1.1.{n}", n)
        rec.integer(f"{u}.4.4.1.2.{n}", r.output_voltage[i])
        rec.integer(f"{u}.4.4.1.3.{n}", r.output_current[i] * 10)
        rec.integer(f"{u}.4.4.1.4.{n}", r.output_power[i])
        rec.integer(f"{u}.4.4.1.5.{n}", r.output_load_percent[i])
    # upsBypass: the utility, unloaded while the inverter carries the load
    rec.integer(f"{u}.5.1.0", r.input_frequency * 10)
    rec.integer(f"{u}.5.2.0", lines)
    for i in range(lines):
        n = i + 1
        rec.integer(f"{u}.5.3.1.1.{n}", n)
        rec.integer(f"{u}.5.3.1.2.{n}", r.input_voltage[i])
        rec.integer(f"{u}.5.3.1.3.{n}", 0)
        rec.integer(f"{u}.5.3.1.4.{n}", 0)
    # upsAlarm: upsAlarmsPresent is a Gauge32; the table holds one row per present alarm
    rec.gauge(f"{u}.6.1.0", len(r.alarms))
    for n, (name, since) in enumerate(r.alarms, start=1):
        rec.integer(f"{u}.6.2.1.1.{n}", n)
        rec.object_id(f"{u}.6.2.1.2.{n}", f"{UPS_ALARMS}.{UPS_WELL_KNOWN_ALARMS[name]}")
        rec.ticks(f"{u}.6.2.1.3.{n}", agent.ticks(at=since))
    # upsConfig
    rec.integer(f"{u}.9.1.0", r.nominal_voltage)
    rec.integer(f"{u}.9.2.0", 500)
    rec.integer(f"{u}.9.3.0", r.nominal_voltage)
    rec.integer(f"{u}.9.4.0", 500)
    rec.integer(f"{u}.9.5.0", r.rated_va)
    rec.integer(f"{u}.9.6.0", r.rated_w)
    rec.integer(f"{u}.9.7.0", 5)
    return rec


# APC network management cards as real ones introduce themselves (firmware, model).
APC_RPDU2_CARD = ("MB:v4.2.9 PF:v2.5.0.8 PN:apc_hw21_aos_2.5.0.8.bin AF1:v2.5.0.6 "
                  "AN1:apc_hw21_rpdu2g_2.5.0.6.bin MN:APDU9959EU3 HR:01", "MD:04/11/2023")
APC_INROW_CARD = ("MB:v4.1.1 PF:v3.9.2 PN:apc_hw03_aos_392.bin AF1:v3.8.0 "
                  "AN1:apc_hw03_acrc_380.bin MN:ACRC103 HR:04", "MD:06/08/2019")


def _apc_descr(card: tuple[str, str], agent: Agent) -> str:
    firmware, made = card
    return f"APC Web/SNMP Management Card ({firmware} SN: {_serial(agent.device, 'ZA')} {made})"


def _pdu_load_state(current: float, rated: float) -> int:
    """rPDU2 load state with APC's default thresholds (near overload at 80 % of rating)."""
    if current >= rated:
        return 4
    if current >= 0.8 * rated:
        return 3
    return 2


def render_pdu(agent: Agent, r: PduReading) -> Record:
    """APC PowerNet-MIB rPDU2 (Switched Rack PDU, one device, one row per phase)."""
    rec = Record()
    system_group(rec, agent, _apc_descr(APC_RPDU2_CARD, agent), "1.3.6.1.4.1.318.1.3.4.6")
    dev = f"{RPDU2}.4.3.1"
    phases = len(r.phase_current)
    per_phase_rating = r.rated_amperes
    state = max(_pdu_load_state(c, per_phase_rating) for c in r.phase_current)
    rec.integer(f"{dev}.1.1", 1)
    rec.integer(f"{dev}.2.1", 1)
    rec.string(f"{dev}.3.1", agent.device.name)
    rec.integer(f"{dev}.4.1", state)
    rec.integer(f"{dev}.5.1", r.power_w / 10)  # hundredths of kW
    rec.integer(f"{dev}.9.1", r.energy_kwh * 10)  # tenths of kWh
    rec.integer(f"{dev}.16.1", r.apparent_va / 10)  # hundredths of kVA
    rec.integer(f"{dev}.17.1", r.power_factor * 100)
    phase = f"{RPDU2}.6.3.1"
    for i in range(phases):
        n = i + 1
        rec.integer(f"{phase}.1.{n}", n)
        rec.integer(f"{phase}.2.{n}", 1)
        rec.integer(f"{phase}.3.{n}", n)
        rec.integer(f"{phase}.4.{n}", _pdu_load_state(r.phase_current[i], per_phase_rating))
        rec.integer(f"{phase}.5.{n}", r.phase_current[i] * 10)  # tenths of A
        rec.integer(f"{phase}.6.{n}", r.phase_voltage[i])
        rec.integer(f"{phase}.7.{n}", r.phase_power[i] / 10)
        rec.integer(f"{phase}.8.{n}", r.phase_power[i] / r.power_factor / 10)
        rec.integer(f"{phase}.9.{n}", r.power_factor * 100)
    return rec


def _fahrenheit_tenths(celsius: float) -> float:
    return (celsius * 9 / 5 + 32) * 10


def render_cooling(agent: Agent, r: CoolingReading) -> Record:
    """APC PowerNet-MIB airIRRC (InRow RC), the unit's status group."""
    rec = Record()
    system_group(rec, agent, _apc_descr(APC_INROW_CARD, agent), "1.3.6.1.4.1.318.1.3.14.5")
    rec.integer(f"{AIR_IRRC}.1.1.0", r.alarms)
    ident = f"{AIR_IRRC}.2.2.1"
    rec.string(f"{ident}.2.0", agent.device.name)
    rec.string(f"{ident}.4.0", "ACRC103")
    rec.string(f"{ident}.5.0", _serial(agent.device, "JK"))
    rec.string(f"{ident}.6.0", "7.5.0")
    s = f"{AIR_IRRC}.2.2.2"
    rec.integer(f"{s}.1.0", IRRC_OPERATE_MODE["on" if r.running else "standby"])
    rec.integer(f"{s}.2.0", r.output_kw * 10)  # tenths of kW
    rec.integer(f"{s}.3.0", r.demand_kw * 10)
    rec.integer(f"{s}.4.0", r.airflow_cfm)
    rec.integer(f"{s}.5.0", r.airflow_cfm * 0.4719)  # L/s
    rec.integer(f"{s}.6.0", _fahrenheit_tenths(r.rack_inlet_c))
    rec.integer(f"{s}.7.0", r.rack_inlet_c * 10)
    rec.integer(f"{s}.8.0", _fahrenheit_tenths(r.supply_air_c))
    rec.integer(f"{s}.9.0", r.supply_air_c * 10)
    rec.integer(f"{s}.10.0", _fahrenheit_tenths(r.return_air_c))
    rec.integer(f"{s}.11.0", r.return_air_c * 10)
    rec.integer(f"{s}.16.0", r.fan_percent * 10)  # tenths of a percent
    return rec


def _akcp_status(value: float, limits: tuple[int, int, int, int]) -> int:
    low_crit, low_warn, high_warn, high_crit = limits
    if value >= high_crit:
        return AKCP_STATUS["highCritical"]
    if value >= high_warn:
        return AKCP_STATUS["highWarning"]
    if value <= low_crit:
        return AKCP_STATUS["lowCritical"]
    if value <= low_warn:
        return AKCP_STATUS["lowWarning"]
    return AKCP_STATUS["normal"]


def _akcp_limits(rec: Record, table: str, limits: tuple[int, int, int, int]) -> None:
    low_crit, low_warn, high_warn, high_crit = limits
    rec.integer(f"{table}.7.0", high_warn)
    rec.integer(f"{table}.8.0", high_crit)
    rec.integer(f"{table}.9.0", low_warn)
    rec.integer(f"{table}.10.0", low_crit)


def _sensor_probe(rec: Record, agent: Agent) -> None:
    system_group(rec, agent, "sensorProbe2", "1.3.6.1.4.1.3854.1")


def render_probe(agent: Agent, r: ProbeReading) -> Record:
    """AKCP sensorProbe with one temperature and one humidity sensor (index 0)."""
    rec = Record()
    _sensor_probe(rec, agent)
    temp = f"{SENSOR_PROBE}.16.1"
    rec.string(f"{temp}.1.0", r.label)
    rec.integer(f"{temp}.3.0", r.temperature_c)  # whole degrees
    rec.integer(f"{temp}.4.0", _akcp_status(r.temperature_c, AKCP_TEMPERATURE_LIMITS))
    rec.integer(f"{temp}.5.0", 1)  # online
    _akcp_limits(rec, temp, AKCP_TEMPERATURE_LIMITS)
    rec.integer(f"{temp}.12.0", 1)  # degree type: Celsius
    rec.integer(f"{temp}.14.0", r.temperature_c * 10)  # tenths
    hum = f"{SENSOR_PROBE}.17.1"
    rec.string(f"{hum}.1.0", r.label)
    rec.integer(f"{hum}.3.0", r.humidity_percent)
    rec.integer(f"{hum}.4.0", _akcp_status(r.humidity_percent, AKCP_HUMIDITY_LIMITS))
    rec.integer(f"{hum}.5.0", 1)
    _akcp_limits(rec, hum, AKCP_HUMIDITY_LIMITS)
    return rec


def render_contact(agent: Agent, r: ContactReading) -> Record:
    """AKCP sensorProbe with one dry-contact (switch) sensor (index 0)."""
    rec = Record()
    _sensor_probe(rec, agent)
    switch = f"{SENSOR_PROBE}.18.1"
    rec.string(f"{switch}.1.0", r.label)
    rec.integer(f"{switch}.3.0", AKCP_STATUS["highCritical" if r.alarm else "normal"])
    rec.integer(f"{switch}.4.0", 1)  # online
    return rec


Renderer = Callable[[Agent, Any], Record]

RENDERERS: dict[str, Renderer] = {
    UPS: render_ups,
    PDU: render_pdu,
    COOLING: render_cooling,
    ENV: render_probe,
    LEAK: render_contact,
    SMOKE: render_contact,
    DOOR: render_contact,
}


def render(agent: Agent, reading: Reading) -> Record:
    """The recording of one device; KeyError for a class the lab does not model."""
    return RENDERERS[agent.device.device_class](agent, reading)
