"""Modbus TCP devices against pymodbus's own server: register maps decode right, the poller polls them.

A pymodbus ModbusTcpServer on a free port of 127.0.0.1 plays a gateway with an
air-conditioner controller (unit 1) and a temperature/humidity transmitter
(unit 7) behind it. Every failure is a poll report with up=False and its
reason; bad register maps and bad inventory entries fail at load with file,
line and key.
"""

from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collectors.modbus_maps import MAX_REGISTERS_PER_READ, Register, RegisterMap, load_register_maps
from collectors.poller import PROTOCOLS, Poller, PollerSettings
from conftest import copy_reference, free_port, missing
from dcops.types import UNITS, PollReport, Sample
from inventory import InventoryError, load_inventory
from inventory.model import Device, Inventory
from outputs.store import Store


@pytest.fixture(autouse=True, scope="module")
def _pymodbus() -> None:
    """pymodbus is the `collect` extra: a failure in CI, a skip elsewhere when it is missing."""
    try:
        import pymodbus  # noqa: F401
    except ImportError:
        missing("pymodbus (pip install -e '.[collect]')")


MAPS = load_register_maps()
SETPOINT_WORDS = list(struct.unpack(">HH", struct.pack(">f", 22.5)))  # high word first
RUN_HOURS = 70_000
CRAC_INPUT = [245, 180, 452, 75, 250, 2, 0b1001]  # 24.5, 18.0 degC, 45.2 %RH, 75 %, 25 kW, cooling, alarms 0 and 3
CRAC_HOLDING = [*SETPOINT_WORDS, RUN_HOURS & 0xFFFF, RUN_HOURS >> 16]  # the counter low word first
CRAC_DISCRETE = [1, 0]  # water under the unit, filter clean
TH_HOLDING = [455, -35 & 0xFFFF]  # 45.5 %RH, -3.5 degC


class Gateway:
    """pymodbus's TCP server in a thread of its own: units 1 (CRAC) and 7 (sensor)."""

    def __init__(self) -> None:
        from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
        from pymodbus.server import ModbusTcpServer

        def block(values: list[int]) -> Any:
            return ModbusSequentialDataBlock(1, values)  # pymodbus numbers data from 1: protocol address 0

        crac = ModbusDeviceContext(ir=block(CRAC_INPUT), hr=block(CRAC_HOLDING), di=block(CRAC_DISCRETE),
                                   co=block([0]))
        sensor = ModbusDeviceContext(hr=block(TH_HOLDING), ir=block([0]), di=block([0]), co=block([0]))
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.context = ModbusServerContext(devices={1: crac, 7: sensor}, single=False)
        self.server_class = ModbusTcpServer
        self.server: Any = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def serve() -> None:
            self.server = self.server_class(self.context, address=("127.0.0.1", self.port))
            task = asyncio.ensure_future(self.server.serve_forever())
            while not self.server.is_active():
                await asyncio.sleep(0.01)
            self.ready.set()
            await task

        try:
            self.loop.run_until_complete(serve())
        finally:
            self.loop.close()

    def start(self) -> Gateway:
        self.thread.start()
        if not self.ready.wait(20):
            pytest.fail(f"pymodbus's server did not start on 127.0.0.1:{self.port}")
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.shutdown(), self.loop).result(20)
        self.thread.join(20)


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    gw = Gateway().start()
    try:
        yield gw
    finally:
        gw.stop()


MODBUS_DEVICES = """\
- name: crac-m1
  class: cooling
  address: 127.0.0.1:{port}
  modbus:
    unit: 1
  profile: crac-controller
  location: room-1
- name: th-1
  class: env
  address: 127.0.0.1:{port}
  modbus:
    unit: 7
  profile: rs485-th-sensor
  location: room-1
"""


def site_with(tmp_path: Path, block: str) -> tuple[Path, int]:
    """The reference inventory plus `block` appended to devices.yml; the line before the block."""
    site = copy_reference(tmp_path)
    devices = site / "devices.yml"
    text = devices.read_text(encoding="utf-8")
    devices.write_text(text + block, encoding="utf-8")
    return site, text.count("\n")


def modbus_inventory(tmp_path: Path, port: int) -> Inventory:
    site, _ = site_with(tmp_path, MODBUS_DEVICES.format(port=port))
    return load_inventory(site, modbus_profiles=MAPS)


def poll(inventory: Inventory, *names: str, **settings: Any) -> dict[str, tuple[PollReport, list[Sample]]]:
    poller = Poller(inventory, devices=[inventory.devices[n] for n in names],
                    settings=PollerSettings(timeout=2.0, retries=0, **settings))

    async def run() -> list[tuple[PollReport, list[Sample]]]:
        try:
            return await poller.poll_once()
        finally:
            poller.close()

    return {r.device: (r, s) for r, s in asyncio.run(run())}


def values(samples: list[Sample]) -> dict[tuple[str, tuple[tuple[str, str], ...]], tuple[float, str]]:
    return {(s.metric, s.labels): (s.value, s.text) for s in samples}


# ---------------------------------------------------------------- against pymodbus's server


def test_the_poller_reads_an_air_conditioner_and_a_sensor(gateway: Gateway, tmp_path: Path) -> None:
    inventory = modbus_inventory(tmp_path, gateway.port)
    results = poll(inventory, "crac-m1", "th-1")
    crac_report, crac = results["crac-m1"]
    assert crac_report.up, crac_report.error
    assert crac_report.profiles == ("crac-controller",) and crac_report.samples == 12
    assert values(crac) == {
        ("cooling_return_air_temperature_celsius", ()): (24.5, ""),
        ("cooling_supply_air_temperature_celsius", ()): (18.0, ""),
        ("cooling_return_air_humidity_ratio", ()): (0.452, ""),
        ("cooling_fan_speed_ratio", ()): (0.75, ""),
        ("cooling_capacity_watts", ()): (25000.0, ""),
        ("cooling_system_state", ()): (2.0, "cooling"),
        ("cooling_alarm_state", (("alarm", "high_return_temperature"),)): (1.0, "alarm"),
        ("cooling_alarm_state", (("alarm", "compressor"),)): (1.0, "alarm"),
        ("cooling_return_air_setpoint_celsius", ()): (22.5, ""),
        ("cooling_compressor_run_seconds_total", ()): (RUN_HOURS * 3600.0, ""),
        ("cooling_leak_state", ()): (1.0, "leak"),
        ("cooling_filter_state", ()): (0.0, "clean"),
    }
    assert {s.oid for s in crac} >= {"modbus:input:0", "modbus:input:6.3", "modbus:holding:2", "modbus:discrete:0"}
    th_report, th = results["th-1"]
    assert th_report.up and th_report.profiles == ("rs485-th-sensor",)
    assert values(th) == {("env_humidity_ratio", ()): (0.455, ""), ("env_temperature_celsius", ()): (-3.5, "")}
    assert {s.unit for s in th} == {"ratio", "celsius"}


def test_modbus_samples_reach_the_store_like_snmp_ones(gateway: Gateway, tmp_path: Path) -> None:
    inventory = modbus_inventory(tmp_path, gateway.port)
    store = Store(tmp_path / "dcops.db")
    poller = Poller(inventory, devices=[inventory.devices["th-1"]], outputs=[store.publish],
                    settings=PollerSettings(timeout=2.0, retries=0))
    asyncio.run(poller.poll_once())
    assert store.reports()["th-1"].up
    assert {s.metric: s.value for s in store.latest("th-1")} == {"env_humidity_ratio": 0.455,
                                                                 "env_temperature_celsius": -3.5}


def test_a_unit_the_gateway_does_not_have_is_down_with_the_devices_answer(gateway: Gateway, tmp_path: Path) -> None:
    inventory = modbus_inventory(tmp_path, gateway.port)
    lost = Device(**{**inventory.devices["th-1"].__dict__, "name": "th-9",
                     "modbus": type(inventory.devices["th-1"].modbus)(unit=9)})
    report, samples = poll(_with(inventory, lost), "th-9")["th-9"]
    assert (report.up, samples) == (False, [])
    assert report.error == "the device refused to read holding 0-1 of unit 9: exception 4 (server device failure)"


def test_a_map_past_the_devices_registers_is_down_with_illegal_data_address(gateway: Gateway,
                                                                             tmp_path: Path) -> None:
    inventory = modbus_inventory(tmp_path, gateway.port)
    wide = RegisterMap("wide", "", (Register("far", "temperature", "env_temperature_celsius", "celsius",
                                             "holding", 40),))
    poller = Poller(inventory, devices=[inventory.devices["th-1"]], settings=PollerSettings(timeout=2.0, retries=0),
                    collectors={"modbus": PROTOCOLS["modbus"](PollerSettings())})
    poller.collector("modbus").maps = {"rs485-th-sensor": wide}  # type: ignore[attr-defined]
    report, _ = asyncio.run(poller.poll_device(inventory.devices["th-1"]))
    assert report.error == "the device refused to read holding 40-40 of unit 7: exception 2 (illegal data address)"


def test_nothing_listening_is_down_and_the_others_still_answer(gateway: Gateway, tmp_path: Path) -> None:
    inventory = modbus_inventory(tmp_path, gateway.port)
    nowhere = free_port()
    dead = Device(**{**inventory.devices["th-1"].__dict__, "name": "th-dead", "port": nowhere})
    results = poll(_with(inventory, dead), "th-dead", "th-1")
    assert results["th-dead"][0].error == f"no Modbus TCP connection to 127.0.0.1:{nowhere}"
    assert results["th-1"][0].up


def test_a_register_map_the_collector_does_not_have_is_down(gateway: Gateway, tmp_path: Path) -> None:
    inventory = modbus_inventory(tmp_path, gateway.port)
    odd = Device(**{**inventory.devices["th-1"].__dict__, "name": "th-odd", "profile": "no-such-map"})
    report, _ = poll(_with(inventory, odd), "th-odd")["th-odd"]
    assert report.error == "unknown Modbus register map 'no-such-map' (known: crac-controller, rs485-th-sensor)"


def _with(inventory: Inventory, device: Device) -> Inventory:
    import dataclasses

    return dataclasses.replace(inventory, devices={**inventory.devices, device.name: device})


def test_the_protocol_registry_refuses_a_second_modbus() -> None:
    with pytest.raises(ValueError) as caught:
        PROTOCOLS.register("modbus", lambda settings: None)  # type: ignore[arg-type,return-value]
    assert str(caught.value) == "protocol 'modbus' is already registered"


# ---------------------------------------------------------------- decoding and planning


@pytest.mark.parametrize(("kind", "order", "words", "expected"), [
    ("int16", "big", [0xFFDD], -35.0),
    ("uint16", "big", [0xFFDD], 65501.0),
    ("int32", "big", [0xFFFF, 0xFFFE], -2.0),
    ("int32", "little", [0xFFFE, 0xFFFF], -2.0),
    ("uint32", "big", [0x0001, 0x1170], 70000.0),
    ("uint32", "little", [0x1170, 0x0001], 70000.0),
    ("float32", "big", [0x41B4, 0x0000], 22.5),
    ("float32", "little", [0x0000, 0x41B4], 22.5),
])
def test_types_and_word_orders_decode(kind: str, order: str, words: list[int], expected: float) -> None:
    assert Register("x", "c", "m", "celsius", "holding", 0, type=kind, word_order=order).decode(words) == expected


def test_a_nan_float_is_no_sample() -> None:
    rm = RegisterMap("m", "", (Register("x", "temperature", "t_celsius", "celsius", "input", 0, type="float32"),))
    assert rm.evaluate("d", {("input", 0): 0x7FC0, ("input", 1): 0}, 1.0) == []


def test_reads_are_few_and_within_the_specs_limits() -> None:
    def reg(table: str, address: int, kind: str = "uint16") -> Register:
        return Register(f"r{table}{address}", "c", "m", "celsius", table, address, type=kind)

    rm = RegisterMap("m", "", (reg("holding", 0), reg("holding", 10, "float32"), reg("holding", 100),
                               reg("holding", 300), reg("input", 5), reg("holding", 120)))
    blocks = rm.blocks()
    # a gap of up to MAX_GAP unlisted registers is read through; a wider one is another request
    assert blocks == [("holding", 0, 12), ("holding", 100, 1), ("holding", 120, 1), ("holding", 300, 1),
                      ("input", 5, 1)]
    assert all(count <= MAX_REGISTERS_PER_READ for _, _, count in blocks)
    long = RegisterMap("m", "", tuple(reg("holding", a) for a in range(0, 300, 10)))
    assert all(count <= MAX_REGISTERS_PER_READ for _, _, count in long.blocks())
    covered = {a for _, start, count in long.blocks() for a in range(start, start + count)}
    assert covered >= set(range(0, 300, 10)) and len(long.blocks()) == 3


# ---------------------------------------------------------------- bad register maps

GOOD_MAP = """\
name: m
readings:
  - name: t
    class: temperature
    metric: env_temperature_celsius
    unit: celsius
    table: holding
    address: 1
    type: int16
    scale: 0.1
"""


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("    scale: 0.1\n", "    scale: 0.1\n    colour: red\n",
     "m.yml:11: readings[0].colour: unknown key (allowed: address, bit, class, enum, labels, metric, name, scale, "
     "table, type, unit, word_order)"),
    ("table: holding", "table: registers",
     "m.yml:7: readings[0] (t).table: 'registers' is not one of: holding, input, coil, discrete"),
    ("type: int16", "type: int64",
     "m.yml:9: readings[0] (t).type: 'int64' is not one of: int16, uint16, int32, uint32, float32, bool"),
    ("address: 1", "address: 70000", "m.yml:8: readings[0] (t).address: 70000 is out of range 0..65535"),
    ("address: 1", "address: 65535\n    word_order: big",
     "m.yml:11: readings[0] (t).type: 'int16' is not one of: int16, uint16, int32, uint32, float32, bool"),
    ("    scale: 0.1\n", "    scale: 0.1\n    word_order: middle\n",
     "m.yml:11: readings[0] (t).word_order: 'middle' is not one of: big, little"),
    ("type: int16", "type: float32\n    bit: 3",
     "m.yml:10: readings[0] (t).bit: bit picks from a 16-bit register, not a float32"),
    ("table: holding", "table: coil", "m.yml:9: readings[0] (t).type: a coil is one bit: its type is bool, not int16"),
    ("type: int16", "type: bool",
     "m.yml:9: readings[0] (t).type: bool is for coils and discrete inputs; a register's bit is `bit: N`"),
    ("    unit: celsius\n", "", "m.yml:3: readings[0] (t).unit: missing required key (a reading without an "
     "enumeration has a unit)"),
    ("    unit: celsius\n", "    enum: {0: 'off', 1: on}\n",
     "m.yml:6: readings[0] (t).enum.1: expected a string, got a boolean (on)"),
    ("    scale: 0.1\n", "    scale: 0.1\n    labels: {sensor: 3}\n",
     "m.yml:11: readings[0] (t).labels.sensor: expected a string, got an integer (3)"),
    ("unit: celsius", "unit: fahrenheit",
     "m.yml:6: readings[0] (t).unit: 'fahrenheit' is not one of: " + ", ".join(sorted(UNITS))),
], ids=["unknown key", "unknown table", "unknown type", "address out of range", "a 32-bit value past the end",
        "unknown word order", "bit of a float", "coil not bool", "bool register", "no unit", "enum value a boolean",
        "label not a string", "unit not in the set"])
def test_bad_register_maps_name_file_line_and_key(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD_MAP
    text = GOOD_MAP.replace(old, new, 1)
    if "a 32-bit value past the end" in expected or "65535\n" in new:
        text = text.replace("type: int16", "type: uint32")
        expected = "m.yml:8: readings[0] (t).address: a uint32 at 65535 runs past address 65535"
    (tmp_path / "m.yml").write_text(text, encoding="utf-8")
    with pytest.raises(InventoryError) as caught:
        load_register_maps(tmp_path)
    assert [f"{Path(e.file).name}:{e.line}: {e.key}: {e.message}" for e in caught.value.errors] == [expected]


def test_duplicate_reading_and_map_names(tmp_path: Path) -> None:
    reading = GOOD_MAP.split("readings:\n")[1]
    (tmp_path / "a.yml").write_text(GOOD_MAP + reading, encoding="utf-8")
    (tmp_path / "b.yml").write_text(GOOD_MAP, encoding="utf-8")
    with pytest.raises(InventoryError) as caught:
        load_register_maps(tmp_path)
    assert [f"{Path(e.file).name}:{e.line}: {e.key}: {e.message}" for e in caught.value.errors] == [
        "a.yml:11: readings[1] (t).name: duplicate reading name 't' (first at line 3)",
        "b.yml:1: name: duplicate register map name 'm'",
    ]


def test_the_shipped_maps_load() -> None:
    assert set(MAPS) == {"crac-controller", "rs485-th-sensor"}


# ---------------------------------------------------------------- the inventory's Modbus devices

ONE = "- name: th-x\n  class: env\n  address: 10.1.2.3\n  modbus:\n    unit: 7\n  profile: rs485-th-sensor\n" \
      "  location: room-1\n"


def test_a_modbus_device_polls_port_502_by_default(tmp_path: Path) -> None:
    site, _ = site_with(tmp_path, ONE)
    device = load_inventory(site, modbus_profiles=MAPS).devices["th-x"]
    assert (device.protocol, device.address, device.modbus and device.modbus.unit) == ("modbus", "10.1.2.3:502", 7)
    assert device.snmp.version == ""


@pytest.mark.parametrize(("old", "new", "line", "expected"), [
    ("    unit: 7\n", "    unit: 300\n", 5, "devices[{i}] (th-x).modbus.unit: 300 is out of range 0..255"),
    ("    unit: 7\n", "    unit: 7\n    baud: 9600\n", 6,
     "devices[{i}] (th-x).modbus.baud: unknown key (allowed: unit)"),
    ("  modbus:\n    unit: 7\n", "  modbus: {}\n", 4, "devices[{i}] (th-x).modbus.unit: missing required key"),
    ("  profile: rs485-th-sensor\n", "  profile: auto\n", 6,
     "devices[{i}] (th-x).profile: a Modbus device names its register map (Modbus has no detection)"),
    ("  profile: rs485-th-sensor\n", "  profile: rs485-th\n", 6,
     "devices[{i}] (th-x).profile: unknown Modbus register map 'rs485-th' (known: crac-controller, rs485-th-sensor)"),
    ("  location: room-1\n", "  location: room-1\n  snmp:\n    version: 2c\n    community:\n"
     "      secret: community-ups-a\n", 9,
     "devices[{i}] (th-x).snmp: a device speaks SNMP or Modbus, not both (remove snmp or modbus)"),
], ids=["unit out of range", "unknown key", "no unit", "auto profile", "unknown register map", "both protocols"])
def test_bad_modbus_devices_name_file_line_and_key(tmp_path: Path, old: str, new: str, line: int,
                                                   expected: str) -> None:
    assert old in ONE
    site, before = site_with(tmp_path, ONE.replace(old, new, 1))
    index = len(load_inventory(copy_reference(tmp_path / "ref")).devices)
    with pytest.raises(InventoryError) as caught:
        load_inventory(site, modbus_profiles=MAPS)
    shown = [f"{Path(e.file).name}:{e.line}: {e.key}: {e.message}" for e in caught.value.errors]
    assert shown == [f"devices.yml:{before + line}: " + expected.format(i=index)]
