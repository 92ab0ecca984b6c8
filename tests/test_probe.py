"""`dcops snmp probe`: it detects a device, reads it once and prints readings in one documented shape.

The agents are real (snmpsim) and their recordings are made here with the lab's
`Record`: members of the profiled families with indexes, row counts and units
the LibreNMS recordings do not have, to show the profiles follow each MIB's
structure rather than one file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from collectors.cli import parse_target, snmp
from collectors.probe import present
from collectors.profile import Measured
from conftest import missing
from dcops.types import Sample
from lab import Record, SnmpSim, free_udp_port, responder_path

SYS = "1.3.6.1.2.1.1"
UNITS_SHOWN = {"celsius", "percent", "volts", "amperes", "watts", "voltamperes", "hertz", "seconds", "rpm",
               "kilowatthours", "cfm", "pascals", "liters_per_minute", "dbm", "ratio", "count", "bytes",
               "bits_per_second", "state"}


def system(rec: Record, descr: str, object_id: str) -> None:
    rec.string(f"{SYS}.1.0", descr)
    rec.object_id(f"{SYS}.2.0", object_id)
    rec.ticks(f"{SYS}.3.0", 12345)


def ups_three_phase() -> Record:
    """An RFC1628 UPS with three input and output lines (the recordings have one or three, never line 3 alone)."""
    rec = Record()
    system(rec, "Netman 204", "1.3.6.1.4.1.5491.304")
    u = "1.3.6.1.2.1.33.1"
    rec.string(f"{u}.1.1.0", "RIELLO")
    rec.integer(f"{u}.2.1.0", 2)
    rec.integer(f"{u}.2.3.0", 42)      # minutes
    rec.integer(f"{u}.2.4.0", 97)      # percent
    for line, volts in ((1, 229), (2, 231), (3, 0)):
        rec.integer(f"{u}.3.3.1.3.{line}", volts)
        rec.integer(f"{u}.4.4.1.2.{line}", volts)
        rec.integer(f"{u}.4.4.1.5.{line}", 10 * line)
    return rec


def raritan_two_inlets() -> Record:
    """A Raritan PDU2 with two inlets whose sensors have their own decimal digits, and an external sensor."""
    rec = Record()
    system(rec, "Raritan PDU, MD:PX3-5000", "1.3.6.1.4.1.13742.6")
    meas, conf = "1.3.6.1.4.1.13742.6.5.2.3.1.4.1", "1.3.6.1.4.1.13742.6.3.3.4.1.7.1"
    rec.string("1.3.6.1.4.1.13742.6.3.3.3.1.2.1.2", "I2")
    for inlet, (amps, amp_digits, volts, volt_digits) in {1: (7467, 3, 230, 0), 2: (123, 1, 2291, 1)}.items():
        rec.gauge(f"{meas}.{inlet}.1", amps)
        rec.gauge(f"{conf}.{inlet}.1", amp_digits)
        rec.gauge(f"{meas}.{inlet}.4", volts)
        rec.gauge(f"{conf}.{inlet}.4", volt_digits)
    rec.gauge(f"{meas}.2.7", 87)
    rec.gauge(f"{conf}.2.7", 2)
    outlet = "1.3.6.1.4.1.13742.6.5.4.3.1.4.1"
    rec.gauge(f"{outlet}.7.14", 1)  # outlet 7 switched off
    rec.gauge("1.3.6.1.4.1.13742.6.3.5.4.1.7.1.7.14", 0)
    ext = "1.3.6.1.4.1.13742.6"
    rec.integer(f"{ext}.3.6.3.1.2.1.4", 11)       # externalSensorType: humidity
    rec.gauge(f"{ext}.3.6.3.1.17.1.4", 0)
    rec.string(f"{ext}.3.6.3.1.4.1.4", "Rack 9 humidity")
    rec.gauge(f"{ext}.5.5.3.1.4.1.4", 41)
    return rec


def hwg_ste_fahrenheit() -> Record:
    """A HW group STE (a different subtree from the Poseidon recording) set to °F."""
    rec = Record()
    system(rec, "HWg-STE", "1.3.6.1.4.1.21796.4.1")
    t = "1.3.6.1.4.1.21796.4.1.3.1"
    for idx, (name, state, value, unit) in {1: ("Cold aisle", 1, 770, 1), 2: ("Cold aisle RH", 1, 455, 3)}.items():
        rec.string(f"{t}.2.{idx}", name)
        rec.integer(f"{t}.3.{idx}", state)
        rec.integer(f"{t}.5.{idx}", value)
        rec.integer(f"{t}.7.{idx}", unit)
    return rec


def huawei_other_chassis() -> Record:
    """A VRP switch with other entity indexes; one optic dark (0 µW), one at exactly 1 mW."""
    rec = Record()
    system(rec, "S6720-54C-EI-48S-AC\nHuawei Versatile Routing Platform Software", "1.3.6.1.4.1.2011.2.23.400")
    o = "1.3.6.1.4.1.2011.5.25.31.1.1.3.1"
    for ent, (rx, tx) in {16842753: (0, 1000), 16842815: (250, 500)}.items():
        rec.string(f"1.3.6.1.2.1.47.1.1.1.1.7.{ent}", f"XGigabitEthernet0/0/{ent % 100}")
        rec.integer(f"{o}.8.{ent}", rx)
        rec.integer(f"{o}.9.{ent}", tx)
    rec.integer("1.3.6.1.4.1.2011.5.25.31.1.1.1.1.11.16777225", 47)
    rec.integer("1.3.6.1.4.1.2011.5.25.31.1.1.10.1.7.1.2", 2)
    return rec


def unknown_device() -> Record:
    rec = Record()
    system(rec, "Acme widget controller", "1.3.6.1.4.1.99999.1")
    return rec


RECORDINGS = {"ups3": ups_three_phase, "raritan2": raritan_two_inlets, "ste-f": hwg_ste_fahrenheit,
              "vrp-other": huawei_other_chassis, "unknown": unknown_device}


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One snmpsim serving every fixture recording; yields HOST:PORT."""
    if not responder_path().exists():
        missing("snmpsim (snmpsim-command-responder)")
    data = tmp_path_factory.mktemp("recordings")
    for name, make in RECORDINGS.items():
        (data / f"{name}.snmprec").write_text(make().snmprec(), encoding="ascii")
    port = free_udp_port()
    with SnmpSim(data, [("127.0.0.1", port)], tmp_path_factory.mktemp("snmpsim"), probe_community="ups3"):
        yield f"127.0.0.1:{port}"


def probe_json(agent: str, community: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(snmp, ["probe", agent, "--community", community, "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert isinstance(rows, list)
    return rows


def by_oid(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["oid"]: r for r in rows}


def test_json_is_one_array_of_readings_in_the_documented_shape(agent: str) -> None:
    rows = probe_json(agent, "ups3")
    for r in rows:
        assert {"class", "name", "oid", "value", "unit", "profile"} <= set(r)
        assert not r["oid"].startswith(".") and r["unit"] in UNITS_SHOWN
        if r["unit"] == "state":
            assert isinstance(r["value"], int) and "text" in r
    got = by_oid(rows)
    assert got["1.3.6.1.2.1.33.1.2.3.0"]["value"] == 2520 and got["1.3.6.1.2.1.33.1.2.3.0"]["unit"] == "seconds"
    assert got["1.3.6.1.2.1.33.1.2.4.0"]["value"] == pytest.approx(97)   # percent, not a 0-1 ratio
    assert got["1.3.6.1.2.1.33.1.2.4.0"]["unit"] == "percent"
    assert got["1.3.6.1.2.1.33.1.2.1.0"]["value"] == 2 and got["1.3.6.1.2.1.33.1.2.1.0"]["text"] == "batteryNormal"
    assert got["1.3.6.1.2.1.33.1.4.4.1.5.3"]["value"] == pytest.approx(30)  # line 3 exists on its own index
    assert {r["profile"] for r in rows} == {"ups-mib"}


def test_the_table_names_the_profiles_and_shows_states_with_their_text(agent: str) -> None:
    result = CliRunner().invoke(snmp, ["probe", agent, "-c", "ups3"])
    assert result.exit_code == 0, result.output
    assert "profiles ups-mib" in result.output
    assert "2 (batteryNormal)" in result.output


def test_raritan_inlets_take_each_sensors_own_decimal_digits(agent: str) -> None:
    got = by_oid(probe_json(agent, "raritan2"))
    meas = "1.3.6.1.4.1.13742.6.5.2.3.1.4.1"
    assert got[f"{meas}.1.1"]["value"] == pytest.approx(7.467)     # 3 digits
    assert got[f"{meas}.2.1"]["value"] == pytest.approx(12.3)      # 1 digit
    assert got[f"{meas}.2.4"]["value"] == pytest.approx(229.1)
    assert got[f"{meas}.2.7"] == {**got[f"{meas}.2.7"], "class": "power_factor", "unit": "ratio", "value": 0.87}
    assert got[f"{meas}.2.1"]["labels"]["inlet_name"] == "I2"
    switch = got["1.3.6.1.4.1.13742.6.5.4.3.1.4.1.7.14"]
    assert (switch["class"], switch["value"], switch["text"]) == ("state", 1, "off")
    humidity = got["1.3.6.1.4.1.13742.6.5.5.3.1.4.1.4"]
    assert (humidity["class"], humidity["value"], humidity["unit"]) == ("humidity", pytest.approx(41), "percent")


def test_hwg_ste_sensors_follow_their_unit_column(agent: str) -> None:
    got = by_oid(probe_json(agent, "ste-f"))
    t = "1.3.6.1.4.1.21796.4.1.3.1"
    assert got[f"{t}.5.1"]["class"] == "temperature" and got[f"{t}.5.1"]["value"] == pytest.approx(25.0)  # 77.0 °F
    assert got[f"{t}.5.2"]["class"] == "humidity" and got[f"{t}.5.2"]["value"] == pytest.approx(45.5)
    assert got[f"{t}.3.1"]["text"] == "normal"


def test_huawei_optics_convert_microwatts_to_dbm_and_dark_reads_the_floor(agent: str) -> None:
    got = by_oid(probe_json(agent, "vrp-other"))
    o = "1.3.6.1.4.1.2011.5.25.31.1.1.3.1"
    assert got[f"{o}.8.16842753"]["value"] == -60.0                   # 0 µW: no light
    assert got[f"{o}.9.16842753"]["value"] == pytest.approx(0.0)      # 1 mW = 0 dBm
    assert got[f"{o}.8.16842815"]["value"] == pytest.approx(-6.0206, abs=1e-3)
    assert got[f"{o}.8.16842815"]["unit"] == "dbm"
    assert got["1.3.6.1.4.1.2011.5.25.31.1.1.1.1.11.16777225"]["value"] == 47
    assert got["1.3.6.1.4.1.2011.5.25.31.1.1.10.1.7.1.2"]["text"] == "abnormal"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["probe", "127.0.0.1"], 2, "give either --community (v2c) or --user (v3)"),
        (["probe", "127.0.0.1", "-c", "x", "-u", "me"], 2, "give either --community (v2c) or --user (v3)"),
        (["probe", "127.0.0.1:0", "-c", "x"], 2, "'127.0.0.1:0' is not HOST[:PORT] (port 1-65535)"),
        (["probe", "127.0.0.1:snmp", "-c", "x"], 2, "is not HOST[:PORT]"),
        (["probe", "no-such-host.invalid", "-c", "x"], 1, "cannot resolve host 'no-such-host.invalid'"),
        (["probe", "127.0.0.1", "-c", "x", "--auth-protocol", "XYZ"], 2, "Invalid value for '--auth-protocol'"),
    ],
    ids=["no-credentials", "both-credentials", "port-0", "port-not-a-number", "unresolvable", "bad-auth-protocol"],
)
def test_bad_input_is_a_clear_error_with_its_exit_code(args: list[str], code: int, message: str) -> None:
    result = CliRunner().invoke(snmp, args)
    assert result.exit_code == code, result.output
    assert message in result.output


def test_an_unreachable_agent_exits_1_saying_it_did_not_answer() -> None:
    port = free_udp_port()  # nothing listens there
    result = CliRunner().invoke(snmp, ["probe", f"127.0.0.1:{port}", "-c", "x", "--timeout", "0.3",
                                       "--retries", "0"])
    assert result.exit_code == 1, result.output
    assert f"127.0.0.1:{port} did not answer" in result.output


def test_a_device_no_profile_knows_exits_3_with_its_sysobjectid(agent: str) -> None:
    result = CliRunner().invoke(snmp, ["probe", agent, "-c", "unknown"])
    assert result.exit_code == 3, result.output
    assert "no profile matches sysObjectID 1.3.6.1.4.1.99999.1 ('Acme widget controller')" in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10.0.0.1", ("10.0.0.1", 161)), ("10.0.0.1:1161", ("10.0.0.1", 1161)), ("ups-a", ("ups-a", 161)),
     ("[::1]", ("::1", 161)), ("[::1]:1161", ("::1", 1161))],
)
def test_targets_parse_as_host_and_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_target(text) == expected


def _measured(unit: str, value: float, cls: str, text: str = "") -> Measured:
    sample = Sample(device="d", metric="m", value=value, ts=0.0, unit=unit, oid="1.3.6.1", text=text)
    return Measured(sample, cls, "r", "p", "r", None)


@pytest.mark.parametrize(
    ("unit", "value", "cls", "shown"),
    [("ratio", 0.425, "humidity", (42.5, "percent")), ("ratio", 0.97, "charge", (97.0, "percent")),
     ("ratio", 0.87, "power_factor", (0.87, "ratio")), ("joules", 3.6e6 * 70.6, "power_consumed",
                                                       (70.6, "kilowatthours")),
     ("celsius", 21.5, "temperature", (21.5, "celsius")), ("state", 3, "state", (3, "state"))],
    ids=["humidity", "charge", "power-factor-stays-a-ratio", "energy", "unchanged", "state"],
)
def test_presentation_converts_base_units_in_one_place(unit: str, value: float, cls: str,
                                                        shown: tuple[float, str]) -> None:
    row = present(_measured(unit, value, cls, text="x" if unit == "state" else ""))
    assert (row["value"], row["unit"]) == (pytest.approx(shown[0]), shown[1])
