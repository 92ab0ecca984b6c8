"""Real devices: every LibreNMS recording in ../shared/devices, served by one snmpsim and probed once.

For each device class at least 95 % of LibreNMS's expected sensor rows must be
read at the same OID with the same value (1 %, after unit conversion); every
miss must carry its reason; where LibreNMS's value is wrong we read the MIB's
value, and the tests below say why. The recordings are GPL-3.0 test data:
they are read where they are, never copied into the project.
"""

from __future__ import annotations

import json

import pytest

from bench import RESULTS
from bench.devices import CLASSES, HELD_OUT, DeviceResult, recordings, serve_and_probe, summary
from conftest import SHARED_DEVICES, missing
from lab import responder_path


@pytest.fixture(scope="module")
def results() -> dict[str, DeviceResult]:
    if not SHARED_DEVICES.is_dir() or not recordings(SHARED_DEVICES):
        missing(f"the LibreNMS device recordings ({SHARED_DEVICES})")
    if not responder_path().exists():
        missing("snmpsim (snmpsim-command-responder)")
    return {r.name: r for r in serve_and_probe(SHARED_DEVICES)}


def miss(result: DeviceResult, oid: str) -> dict[str, object]:
    (found,) = [m for m in result.misses if m["oid"] == oid]
    return found


@pytest.mark.parametrize("cls", CLASSES)
def test_each_class_matches_at_least_95_percent_of_librenms_rows(results: dict[str, DeviceResult], cls: str) -> None:
    s = summary(list(results.values()))[cls]
    assert s["devices"] > 0
    assert s["percent"] >= 95.0, (cls, s, [(r.name, r.matched, r.expected) for r in results.values() if r.cls == cls])


def test_every_device_is_detected_and_read(results: dict[str, DeviceResult]) -> None:
    assert [(r.name, r.error) for r in results.values() if r.error or not r.profiles] == []
    assert all(r.readings > 0 for r in results.values())


def test_every_miss_carries_its_reason(results: dict[str, DeviceResult]) -> None:
    unexplained = [(r.name, m["oid"], m["expected"], m["got"]) for r in results.values() for m in r.misses
                   if str(m["reason"]).startswith("UNEXPLAINED")]
    assert unexplained == []


def test_held_out_recordings_are_read_in_full(results: dict[str, DeviceResult]) -> None:
    # These four were kept out of sight while the profiles were written (collectors/README.md).
    assert {name: (results[name].matched, results[name].expected) for name in HELD_OUT} == {
        name: (results[name].expected, results[name].expected) for name in HELD_OUT}


def test_committed_results_are_what_a_fresh_run_gives(results: dict[str, DeviceResult]) -> None:
    committed = json.loads((RESULTS / "devices.json").read_text(encoding="utf-8"))["details"]
    assert committed["summary"] == summary(list(results.values()))
    assert {d["name"]: (d["matched"], d["expected"]) for d in committed["devices"]} == {
        r.name: (r.matched, r.expected) for r in results.values()}


# --- where LibreNMS's expected value is wrong, we read the MIB's value ---------------------------------------

def test_rfc1628_frequency_is_in_tenths_of_hertz_not_hundredths(results: dict[str, DeviceResult]) -> None:
    # Huawei UPS2000, raw 500: UPS-MIB says 0.1 Hz, so 50 Hz on a 50 Hz grid. LibreNMS expects 5 Hz.
    m = miss(results["huaweiups_ups2000"], "1.3.6.1.2.1.33.1.4.2.0")
    assert (m["expected"], m["got"]) == (5.0, [50.0])


def test_delta_mini_snmp_voltages_are_in_tenths_of_volts(results: dict[str, DeviceResult]) -> None:
    # The card puts 2302 in upsOutputVoltage on a 230 V line: 0.1 V (profile ups-mib-decivolt). LibreNMS: 2302 V.
    m = miss(results["deltaups_mini-snmp"], "1.3.6.1.2.1.33.1.4.4.1.2.1")
    assert (m["expected"], m["got"]) == (2302.0, [230.2])


def test_raritan_power_factor_takes_its_decimal_digits(results: dict[str, DeviceResult]) -> None:
    # inletSensorDecimalDigits for powerFactor is 2: raw 98 is 0.98. LibreNMS ignores the digits: 98.
    m = miss(results["raritan-pdu_px3"], "1.3.6.1.4.1.13742.6.5.2.3.1.4.1.1.7")
    assert (m["expected"], m["got"]) == (98.0, [0.98])


def test_vertiv_dcs_pdu_power_is_in_hundredths_of_kilowatts(results: dict[str, DeviceResult]) -> None:
    # PDU 1 draws 1.9 A at 230 V (~440 VA); raw 35 in 0.01 kW is 350 W. LibreNMS expects 3.5 W.
    m = miss(results["vertiv-dcs"], "1.3.6.1.4.1.13400.3.2.225.1.1.8.1")
    assert (m["expected"], m["got"]) == (3.5, [350.0])


def test_an_oid_the_device_never_answers_is_not_a_reading(results: dict[str, DeviceResult]) -> None:
    # LibreNMS polls xupsTestBatteryStatus at .0.0.0, which the recording does not hold, and stores 0.
    m = miss(results["eatonups"], "1.3.6.1.4.1.534.1.8.2.0.0.0")
    assert m["got"] == [] and str(m["reason"]).startswith("not in the recording")
