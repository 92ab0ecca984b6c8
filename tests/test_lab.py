"""The virtual room: a physical model with a clock passed in, served over real SNMP by snmpsim."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pysnmp.hlapi.v1arch.asyncio import (
    CommunityData,
    SnmpDispatcher,
    UdpTransportTarget,
    get_cmd,
)

from conftest import missing, require_command
from dcops.secrets import Secret
from inventory import REFERENCE_DIR, load_inventory
from inventory.model import Inventory
from lab import Faults, LabError, LabRunner, RoomModel, VirtualRoom, at_address, free_udp_port
from lab.model import PduReading, UpsReading
from lab.recordings import Agent, Record, render
from lab.snmpsim import SnmpSimError, responder_path, write_recording

SHANGHAI = ZoneInfo("Asia/Shanghai")
AFTERNOON = datetime(2025, 7, 15, 15, 0, tzinfo=SHANGHAI).timestamp()
NIGHT = datetime(2025, 7, 15, 3, 0, tzinfo=SHANGHAI).timestamp()

UPS_OUTPUT_SOURCE = "1.3.6.1.2.1.33.1.4.1.0"
UPS_SECONDS_ON_BATTERY = "1.3.6.1.2.1.33.1.2.2.0"
UPS_ALARMS_PRESENT = "1.3.6.1.2.1.33.1.6.1.0"
UPS_INPUT_VOLTAGE_1 = "1.3.6.1.2.1.33.1.3.3.1.3.1"
UPS_OUTPUT_POWER = "1.3.6.1.2.1.33.1.4.4.1.4.{}"
UPS_OUTPUT_LOAD = "1.3.6.1.2.1.33.1.4.4.1.5.{}"
PDU_POWER = "1.3.6.1.4.1.318.1.1.26.4.3.1.5.1"
PDU_PHASE_CURRENT = "1.3.6.1.4.1.318.1.1.26.6.3.1.5.1"
PDU_PHASE_VOLTAGE = "1.3.6.1.4.1.318.1.1.26.6.3.1.6.1"
PROBE_TEMP_RAW = "1.3.6.1.4.1.3854.1.2.2.1.16.1.14.0"
CONTACT_STATUS = "1.3.6.1.4.1.3854.1.2.2.1.18.1.3.0"
IRRC_OPERATE_MODE = "1.3.6.1.4.1.318.1.1.13.3.2.2.2.1.0"
IRRC_ALARMS = "1.3.6.1.4.1.318.1.1.13.3.1.1.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"


@pytest.fixture(scope="module")
def reference() -> Inventory:
    return load_inventory(REFERENCE_DIR)


# -- the model, with an injected clock ----------------------------------------------------


def test_night_load_is_below_afternoon_load_for_every_rack(reference: Inventory) -> None:
    model = RoomModel(reference)
    assert len(model.racks) == 11  # the active racks
    for rack in model.racks:
        assert model.rack_load_kw(rack, NIGHT) < model.rack_load_kw(rack, AFTERNOON), rack
    assert model.it_load_kw(NIGHT) < 0.85 * model.it_load_kw(AFTERNOON)
    assert model.rack_load_kw("C01", AFTERNOON) == 0.0  # available, empty


def test_the_same_now_gives_the_same_room(reference: Inventory) -> None:
    a = RoomModel(reference).step(AFTERNOON)
    b = RoomModel(reference).step(AFTERNOON)
    assert a.readings == b.readings
    assert a.uptime == b.uptime


def test_pdus_split_their_rack_and_ups_carry_their_pdus_plus_losses(reference: Inventory) -> None:
    state = RoomModel(reference).step(AFTERNOON)
    for rack, load in state.rack_load_kw.items():
        a, b = (state.readings[f"pdu-{rack}-{s}"] for s in "ab")
        assert isinstance(a, PduReading) and isinstance(b, PduReading)
        assert a.power_w + b.power_w == pytest.approx(load * 1000)
        assert 0.4 < a.power_w / (load * 1000) < 0.6
        assert 225 < a.phase_voltage[0] < 235
    for side in "ab":
        ups = state.readings[f"ups-{side}"]
        assert isinstance(ups, UpsReading)
        pdus = sum(r.power_w for n, r in state.readings.items()
                   if n.startswith("pdu-") and n.endswith(f"-{side}") and isinstance(r, PduReading))
        assert sum(ups.output_power) == pytest.approx(pdus * 1.01)
        load = sum(ups.output_power) / (120_000 * 0.9) * 100
        assert all(p == pytest.approx(load, abs=1.5) for p in ups.output_load_percent)
        assert ups.source == "normal" and ups.charge_percent == 100 and ups.alarms == ()


def test_probes_read_a_plausible_cold_aisle(reference: Inventory) -> None:
    for now in (NIGHT, AFTERNOON):
        state = RoomModel(reference).step(now)
        for rack, inlet in state.rack_inlet_c.items():
            assert 20 <= inlet <= 26, (rack, inlet)
            probe = state.readings[f"probe-{rack}"]
            assert 40 <= probe.humidity_percent <= 55  # type: ignore[union-attr]


def test_energy_counters_grow_by_the_power_drawn(reference: Inventory) -> None:
    model = RoomModel(reference)
    before = model.step(AFTERNOON).readings["pdu-A01-a"]
    after = model.step(AFTERNOON + 3600).readings["pdu-A01-a"]
    assert isinstance(before, PduReading) and isinstance(after, PduReading)
    assert after.energy_kwh - before.energy_kwh == pytest.approx(before.power_w / 1000, rel=0.1)


def test_utility_loss_runs_the_ups_on_battery_until_it_is_flat(reference: Inventory) -> None:
    model = RoomModel(reference)
    model.step(AFTERNOON)
    model.faults.utility_lost = True
    state = model.step(AFTERNOON + 600)
    ups = state.readings["ups-a"]
    assert isinstance(ups, UpsReading)
    assert ups.source == "battery" and ups.seconds_on_battery == 600
    assert ups.input_voltage == (0.0, 0.0, 0.0) and ups.charge_percent < 100
    assert {a for a, _ in ups.alarms} == {"onBattery", "inputBad"}
    later = model.step(AFTERNOON + 1200).readings["ups-a"]
    assert later.minutes_remaining < ups.minutes_remaining  # type: ignore[union-attr]
    flat = model.step(AFTERNOON + 24 * 3600)
    assert flat.readings["ups-a"].source == "none"  # type: ignore[union-attr]
    assert {"pdu-A01-a", "pdu-A01-b"} <= flat.down  # their cards lose power too
    model.faults.utility_lost = False
    back = model.step(AFTERNOON + 24 * 3600 + 60)
    assert "pdu-A01-a" not in back.down
    assert back.uptime["pdu-A01-a"] == 60  # a card that lost power has rebooted


def test_failed_cracs_warm_the_room_over_minutes(reference: Inventory) -> None:
    model = RoomModel(reference)
    normal = model.step(AFTERNOON)
    model.faults.crac_failed = {"crac-1", "crac-2", "crac-3"}
    soon = model.step(AFTERNOON + 60)
    later = model.step(AFTERNOON + 1800)
    for rack, inlet in normal.rack_inlet_c.items():
        assert inlet < soon.rack_inlet_c[rack] < later.rack_inlet_c[rack]
        assert later.rack_inlet_c[rack] > inlet + 5
    crac = later.readings["crac-1"]
    assert not crac.running and crac.alarms == 1 and crac.output_kw == 0  # type: ignore[union-attr]


def test_one_failed_crac_leaves_the_others_working_harder(reference: Inventory) -> None:
    model = RoomModel(reference)
    normal = model.step(AFTERNOON)
    model.faults["crac_failed"] = {"crac-1"}
    state = model.step(AFTERNOON + 3600)
    assert state.readings["crac-2"].output_kw > normal.readings["crac-2"].output_kw  # type: ignore[union-attr]
    assert state.rack_inlet_c["A01"] > normal.rack_inlet_c["A01"] + 1  # nearest to crac-1
    assert max(state.rack_inlet_c.values()) < 27


def test_faults_are_named_and_checked(reference: Inventory) -> None:
    faults = Faults()
    faults["leak"] = True
    assert faults.leak
    with pytest.raises(KeyError, match="no such fault 'leek'"):
        faults["leek"] = True
    with pytest.raises(TypeError):
        faults["smoke"] = "yes"
    model = RoomModel(reference, faults)
    faults.crac_failed.add("crac-9")
    with pytest.raises(ValueError, match="crac_failed names no cooling unit: crac-9"):
        model.step(AFTERNOON)


# -- recordings -----------------------------------------------------------------------------


def test_recordings_sort_numerically_and_type_values_as_the_mibs_do(reference: Inventory) -> None:
    state = RoomModel(reference).step(AFTERNOON)
    ups = reference.devices["ups-a"]
    text = render(Agent(ups, AFTERNOON, state.uptime["ups-a"]), state.readings["ups-a"]).snmprec()
    lines = dict(line.split("|", 1) for line in text.splitlines())
    oids = [tuple(map(int, o.split("."))) for o in lines]
    assert oids == sorted(oids)
    assert lines[SYS_UPTIME].startswith("67|")
    assert lines[UPS_ALARMS_PRESENT] == "66|0"  # Gauge32
    assert lines["1.3.6.1.2.1.33.1.3.1.0"] == "65|0"  # upsInputLineBads, Counter32
    assert lines["1.3.6.1.2.1.1.2.0"] == "6|1.3.6.1.4.1.935"
    assert lines[UPS_OUTPUT_SOURCE] == "2|3"


def test_strings_snmpsim_would_mangle_go_as_hex() -> None:
    rec = Record()
    rec.string("1.3.6.1.2.1.1.6.0", "一号机房")
    rec.string("1.3.6.1.2.1.1.5.0", "ups-a")
    assert rec.snmprec() == (
        "1.3.6.1.2.1.1.5.0|4|ups-a\n"
        f"1.3.6.1.2.1.1.6.0|4x|{'一号机房'.encode().hex().upper()}\n"
    )
    assert all(":delay|wait=100000" in line for line in rec.snmprec_down().splitlines())


def test_rewrites_move_the_mtime_strictly_forward(tmp_path: Path) -> None:
    path = tmp_path / "x.snmprec"
    first = write_recording(path, "1.3.6.1.2.1.1.3.0|67|1\n")
    second = write_recording(path, "1.3.6.1.2.1.1.3.0|67|2\n", first)
    assert second > first and int(path.stat().st_mtime) == second
    assert [p.name for p in tmp_path.iterdir()] == ["x.snmprec"]


def test_the_room_refuses_communities_snmpsim_cannot_tell_apart(reference: Inventory, tmp_path: Path) -> None:
    ups_b = reference.devices["ups-b"]
    clash = dataclasses.replace(ups_b, snmp=dataclasses.replace(ups_b.snmp, community=Secret("x", "lab-ups-a")))
    inventory = dataclasses.replace(reference, devices={**reference.devices, "ups-b": clash})
    with pytest.raises(LabError, match="devices ups-a and ups-b share a community"):
        VirtualRoom(inventory, tmp_path)


# -- the real path: snmpsim answering SNMP GETs ----------------------------------------------


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclasses.dataclass
class Lab:
    runner: LabRunner
    clock: FakeClock
    port: int

    def get(self, community: str, *oids: str, timeout: float = 1.0) -> dict[str, int]:
        """Real SNMPv2c GETs through pysnmp's v1arch client, as the collector sends them."""

        async def run() -> dict[str, int]:
            dispatcher = SnmpDispatcher()
            try:
                target = await UdpTransportTarget.create(("127.0.0.1", self.port), timeout=timeout, retries=0)
                err, status, _, binds = await get_cmd(
                    dispatcher, CommunityData(community), target, *[(o, None) for o in oids], lookupMib=False
                )
            finally:
                dispatcher.transport_dispatcher.close_dispatcher()
            if err:
                raise TimeoutError(str(err))
            assert not int(status), status.prettyPrint()
            return {str(name): int(value) for name, value in binds}

        return asyncio.run(run())

    def render(self, advance: float = 0.0) -> None:
        self.clock.now += advance
        self.runner.room.render()


@pytest.fixture(scope="module")
def lab(reference: Inventory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if not responder_path().exists():
        missing(f"snmpsim ({responder_path()})")
    port = free_udp_port()
    clock = FakeClock(AFTERNOON)
    runner = LabRunner(at_address(reference, "127.0.0.1", port), tmp_path_factory.mktemp("lab"), clock,
                       interval=0.5)
    with runner:
        yield Lab(runner, clock, port)


@pytest.fixture
def room(lab: Lab) -> Iterator[Lab]:
    """The shared lab, back to normal (and an hour later) after each test."""
    yield lab
    lab.runner.faults.clear()
    lab.render(advance=3600)


def test_a_ups_answers_normal_output_and_a_plausible_load(room: Lab) -> None:
    got = room.get("lab-ups-a", UPS_OUTPUT_SOURCE, *(UPS_OUTPUT_LOAD.format(i) for i in (1, 2, 3)),
                   *(UPS_OUTPUT_POWER.format(i) for i in (1, 2, 3)))
    assert got[UPS_OUTPUT_SOURCE] == 3
    loads = [got[UPS_OUTPUT_LOAD.format(i)] for i in (1, 2, 3)]
    assert all(10 <= pct <= 40 for pct in loads), loads  # ~36 kW of IT over two 120 kVA UPS
    total_w = sum(got[UPS_OUTPUT_POWER.format(i)] for i in (1, 2, 3))
    pdus_w = sum(room.get(f"lab-pdu-{r}-a", PDU_POWER)[PDU_POWER] * 10 for r in room.runner.room.model.racks)
    assert total_w == pytest.approx(pdus_w * 1.01, rel=0.02)


def test_a_pdu_answers_rpdu2_power_current_and_voltage(room: Lab) -> None:
    got = room.get("lab-pdu-A01-a", PDU_POWER, PDU_PHASE_CURRENT, PDU_PHASE_VOLTAGE)
    kw = got[PDU_POWER] / 100
    assert 0.8 < kw < 3.0
    assert 225 <= got[PDU_PHASE_VOLTAGE] <= 235
    assert got[PDU_PHASE_CURRENT] / 10 * got[PDU_PHASE_VOLTAGE] == pytest.approx(kw * 1000 / 0.95, rel=0.06)


def test_a_probe_reads_the_inlet_temperature(room: Lab) -> None:
    tenths = room.get("lab-probe-A01", PROBE_TEMP_RAW)[PROBE_TEMP_RAW]
    assert 180 <= tenths <= 300


def test_utility_loss_puts_the_ups_on_battery(room: Lab) -> None:
    room.runner.faults.utility_lost = True
    room.render()
    assert room.get("lab-ups-a", UPS_OUTPUT_SOURCE)[UPS_OUTPUT_SOURCE] == 5
    room.render(advance=90)
    got = room.get("lab-ups-b", UPS_OUTPUT_SOURCE, UPS_SECONDS_ON_BATTERY, UPS_INPUT_VOLTAGE_1, UPS_ALARMS_PRESENT)
    assert got == {UPS_OUTPUT_SOURCE: 5, UPS_SECONDS_ON_BATTERY: 90, UPS_INPUT_VOLTAGE_1: 0, UPS_ALARMS_PRESENT: 2}


def test_failed_cracs_raise_every_inlet_temperature(room: Lab) -> None:
    probes = [f"lab-probe-{r}" for r in room.runner.room.model.racks]
    before = {p: room.get(p, PROBE_TEMP_RAW)[PROBE_TEMP_RAW] for p in probes}
    room.runner.faults.crac_failed = {"crac-1", "crac-2", "crac-3"}
    room.render(advance=1800)
    after = {p: room.get(p, PROBE_TEMP_RAW)[PROBE_TEMP_RAW] for p in probes}
    assert all(after[p] > before[p] + 50 for p in probes), (before, after)
    crac = room.get("lab-crac-2", IRRC_OPERATE_MODE, IRRC_ALARMS)
    assert crac == {IRRC_OPERATE_MODE: 1, IRRC_ALARMS: 1}


def test_contacts_alarm_and_a_down_agent_stays_silent_without_silencing_others(room: Lab) -> None:
    assert room.get("lab-leak-1", CONTACT_STATUS)[CONTACT_STATUS] == 2
    room.runner.faults.leak = True
    room.runner.faults.agent_down = {"probe-B05"}
    room.render()
    assert room.get("lab-leak-1", CONTACT_STATUS)[CONTACT_STATUS] == 4
    assert room.get("lab-door-1", CONTACT_STATUS)[CONTACT_STATUS] == 2
    for _ in range(3):  # polled repeatedly while down, as a collector would
        with pytest.raises(TimeoutError):
            room.get("lab-probe-B05", PROBE_TEMP_RAW, timeout=0.3)
    for dev in room.runner.room.devices:  # every other agent still answers
        if dev.name != "probe-B05":
            assert dev.snmp.community is not None
            assert room.get(dev.snmp.community.reveal(), SYS_UPTIME)
    room.runner.faults.agent_down = set()
    room.render(advance=30)
    assert room.get("lab-probe-B05", SYS_UPTIME)[SYS_UPTIME] == 3000  # rebooted 30 s ago


def test_the_background_updater_follows_the_clock(room: Lab) -> None:
    before = room.get("lab-door-1", SYS_UPTIME)[SYS_UPTIME]
    room.clock.now += 100
    deadline = time.monotonic() + 5
    while (now := room.get("lab-door-1", SYS_UPTIME)[SYS_UPTIME]) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert now == before + 10_000, "the updater did not re-render within 5 s"


def test_a_bulk_walk_returns_the_recording_in_order(room: Lab) -> None:
    walk = require_command("snmpbulkwalk")
    out = subprocess.run(
        [walk, "-v2c", "-c", "lab-crac-1", "-On", "-t", "2", "-r", "0", f"127.0.0.1:{room.port}", "1.3.6"],
        capture_output=True, text=True, timeout=20, check=True,
    )
    # snmpsim fills the rest of the last GETBULK with endOfMibView rows; net-snmp prints them
    walked = [line.split(" = ")[0].lstrip(".") for line in out.stdout.splitlines() if "No more variables" not in line]
    recording = room.runner.room.recording_path("crac-1").read_text().splitlines()
    assert walked == [line.split("|")[0] for line in recording]
    assert "OID not increasing" not in out.stderr


def test_stopping_the_lab_leaves_no_snmpsim_behind(reference: Inventory, tmp_path: Path) -> None:
    if not responder_path().exists():
        missing(f"snmpsim ({responder_path()})")
    port = free_udp_port()
    runner = LabRunner(at_address(reference, "127.0.0.1", port), tmp_path, FakeClock(NIGHT))
    with runner:
        assert runner.agent is not None
        pid = runner.agent.pid
        assert pid is not None and Path(f"/proc/{pid}").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(RuntimeError), LabRunner(at_address(reference, "127.0.0.1", port), tmp_path / "2",
                                                 FakeClock(NIGHT)) as failing:
        assert failing.agent is not None
        pid = failing.agent.pid
        raise RuntimeError("a test fails inside the lab")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_busy_port_is_refused_before_snmpsim_starts_deaf(reference: Inventory, tmp_path: Path) -> None:
    if not responder_path().exists():
        missing(f"snmpsim ({responder_path()})")
    port = free_udp_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", port))
        with pytest.raises(SnmpSimError, match=f"cannot serve 127.0.0.1:{port}: Address already in use"):
            LabRunner(at_address(reference, "127.0.0.1", port), tmp_path).start()
