"""Profiles are data: they load strictly, and evaluation follows the MIB's scale, units and indexes."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.profile import PROFILES_DIR, evaluate, load_profiles, measure, select
from dcops.types import UNITS
from inventory import InventoryError

PROFILES = load_profiles()


def test_every_profile_loads_with_units_from_the_documented_set() -> None:
    assert {"ups-mib", "apc-rpdu2", "akcp-sensorprobe", "apc-inrow", "entity-sensor-mib"} <= set(PROFILES)
    for profile in PROFILES.values():
        for reading in profile.readings:
            assert reading.kind.unit in UNITS, (profile.name, reading.name)


def test_ups_mib_scales_runtime_minutes_and_tenths() -> None:
    values = {
        "1.3.6.1.2.1.33.1.2.3.0": 42,     # upsEstimatedMinutesRemaining
        "1.3.6.1.2.1.33.1.2.4.0": 97,     # charge, percent
        "1.3.6.1.2.1.33.1.2.5.0": 2211,   # battery voltage, 0.1 V
        "1.3.6.1.2.1.33.1.4.1.0": 5,      # output source: battery
    }
    walked = {"1.3.6.1.2.1.33.1.4.4.1.3": [("1.3.6.1.2.1.33.1.4.4.1.3.1", 94)]}
    got = {s.metric: s for s in evaluate(PROFILES["ups-mib"], "ups-a", values, walked, 100.0)}
    assert got["ups_battery_runtime_seconds"].value == 2520
    assert got["ups_battery_charge_ratio"].value == pytest.approx(0.97)
    assert got["ups_battery_voltage_volts"].value == pytest.approx(221.1)
    assert got["ups_output_source"].value == 5 and got["ups_output_source"].text == "battery"
    current = got["ups_output_current_amperes"]
    assert current.value == pytest.approx(9.4) and current.labels == (("line", "1"),)
    assert current.oid == "1.3.6.1.2.1.33.1.4.4.1.3.1"


def test_absent_and_non_numeric_values_give_no_sample() -> None:
    values = {"1.3.6.1.2.1.33.1.2.3.0": None, "1.3.6.1.2.1.33.1.2.4.0": "n/a"}
    assert evaluate(PROFILES["ups-mib"], "ups-a", values, {}, 0.0) == []


def test_lookup_names_the_sensor_from_its_description_column() -> None:
    walked = {
        "1.3.6.1.4.1.3854.1.2.2.1.16.1.14": [("1.3.6.1.4.1.3854.1.2.2.1.16.1.14.0", 231)],
        "1.3.6.1.4.1.3854.1.2.2.1.16.1.1": [("1.3.6.1.4.1.3854.1.2.2.1.16.1.1.0", "A01 inlet ")],
    }
    (s,) = evaluate(PROFILES["akcp-sensorprobe"], "probe-A01", {}, walked, 0.0)
    assert s.metric == "env_temperature_celsius"
    assert s.value == pytest.approx(23.1)
    assert s.labels == (("sensor_index", "0"), ("sensor", "A01 inlet"))


def test_entity_sensor_value_follows_type_scale_and_precision() -> None:
    base = "1.3.6.1.2.1.99.1.1.1"
    walked = {
        f"{base}.4": [(f"{base}.4.1001", 345), (f"{base}.4.1002", 12000), (f"{base}.4.1003", 5)],
        f"{base}.1": [(f"{base}.1.1001", 8), (f"{base}.1.1002", 4), (f"{base}.1.1003", 8)],
        f"{base}.2": [(f"{base}.2.1001", 9), (f"{base}.2.1002", 8), (f"{base}.2.1003", 9)],
        f"{base}.3": [(f"{base}.3.1001", 1), (f"{base}.3.1002", 0), (f"{base}.3.1003", 0)],
        f"{base}.5": [(f"{base}.5.1001", 1), (f"{base}.5.1002", 1), (f"{base}.5.1003", 2)],
        "1.3.6.1.2.1.47.1.1.1.1.7": [("1.3.6.1.2.1.47.1.1.1.1.7.1001", "CPU temp")],
    }
    got = evaluate(PROFILES["entity-sensor-mib"], "sw1", {}, walked, 0.0)
    by_index = {s.label("entity"): s for s in got}
    assert set(by_index) == {"1001", "1002"}  # 1003 is unavailable (status 2)
    assert by_index["1001"].metric == "entity_temperature_celsius"
    assert by_index["1001"].value == pytest.approx(34.5)
    assert by_index["1001"].label("sensor") == "CPU temp"
    assert by_index["1002"].metric == "entity_voltage_volts"
    assert by_index["1002"].value == pytest.approx(12.0)  # 12000 milli-volts


@pytest.mark.parametrize(
    ("facts", "prefixes", "expected"),
    [
        ({"1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.318.1.3.4.6",
          "1.3.6.1.4.1.318.1.1.26.4.3.1.5.1": 117}, set(), ["apc-rpdu2"]),
        ({"1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.2254.2.5", "1.3.6.1.2.1.33.1.1.1.0": "Delta"}, set(),
         ["ups-mib-decivolt"]),
        ({"1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.5491.304", "1.3.6.1.2.1.33.1.1.1.0": "Riello"}, set(),
         ["ups-mib"]),
        ({"1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.3854.1"}, set(), ["akcp-sensorprobe"]),
        ({"1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.9.1.1208"}, {"1.3.6.1.2.1.99.1.1.1.4"},
         ["cisco", "entity-sensor-mib", "if-mib"]),
        ({"1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.99999", "1.3.6.1.2.1.1.1.0": "Acme Fabric Switch 24"}, set(),
         ["if-mib"]),
        ({"1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.99999"}, set(), []),
    ],
    ids=["apc-pdu", "decivolt-card-replaces-rfc1628", "rfc1628-ups", "akcp", "entity-sensors", "switch-by-sysdescr",
         "unknown"],
)
def test_auto_selects_profiles_by_sysobjectid_and_probe_oids(
    facts: dict[str, object], prefixes: set[str], expected: list[str]
) -> None:
    chosen = select(list(PROFILES.values()), facts, prefixes)  # type: ignore[arg-type]
    assert [p.name for p in chosen] == expected


BAD_PROFILES = [
    ("unknown-key", "  - {name: x, class: state, metric: m, oid: 1.3.6.1.2.1.1.3.0, colour: red}\n",
     "readings[0].colour", "unknown key"),
    ("bad-oid", "  - {name: x, class: state, metric: m, oid: iso.3.6}\n",
     "readings[0] (x).oid", "'iso.3.6' is not a numeric OID"),
    ("bad-unit", "  - {name: x, class: temperature, metric: t, oid: 1.3.6.1, unit: fahrenheit}\n",
     "readings[0] (x).unit", "'fahrenheit' is not one of"),
    ("bad-metric", "  - {name: x, class: state, metric: Bad-Name, oid: 1.3.6.1}\n",
     "readings[0] (x).metric", "'Bad-Name' is not a valid name"),
    ("table-without-index", "  - {name: x, class: state, metric: m, oid: 1.3.6.1, table: true}\n",
     "readings[0] (x).index", "a table reading needs index labels"),
    ("enum-with-unit", "  - {name: x, class: state, metric: m, oid: 1.3.6.1, unit: volts, enum: {1: a}}\n",
     "readings[0] (x).unit", "a reading with an enumeration is a state"),
]


@pytest.mark.parametrize(("case", "reading", "key", "message"), BAD_PROFILES,
                         ids=[c[0] for c in BAD_PROFILES])
def test_a_bad_profile_names_file_line_and_key(
    tmp_path: Path, case: str, reading: str, key: str, message: str
) -> None:
    (tmp_path / "p.yml").write_text(
        "name: p\nmatch: {sysobjectid: [1.3.6.1.4.1.1]}\nreadings:\n" + reading, encoding="utf-8")
    with pytest.raises(InventoryError) as exc:
        load_profiles(tmp_path)
    (err,) = exc.value.errors
    assert (Path(err.file).name, err.line, err.key) == ("p.yml", 4, key)
    assert message in err.message


def test_profiles_directory_is_the_packaged_one() -> None:
    assert PROFILES_DIR.is_dir() and any(PROFILES_DIR.glob("*.yml"))


# --- generic mechanisms: each is data in a profile, shown here on a small profile of its own -----------------

def _profile(tmp_path: Path, readings: str, extra: str = "") -> dict[str, object]:
    (tmp_path / "p.yml").write_text("name: p\nmatch: {sysobjectid: [1.3.6.1.4.1.1]}\n" + extra + "readings:\n"
                                    + readings, encoding="utf-8")
    return load_profiles(tmp_path)  # type: ignore[return-value]


def test_a_digits_column_and_an_index_component_decide_value_and_class(tmp_path: Path) -> None:
    p = _profile(tmp_path, """\
  - name: inlet
    class: pdu
    metric: pdu
    oid: 1.3.6.1.4.1.1.5
    table: true
    index: [pdu, inlet, type]
    exponent: {column: 1.3.6.1.4.1.1.7, times: -1}
    kinds_by:
      index: -1
      kinds:
        1: {class: current, metric: a_amperes, unit: amperes}
        4: {class: voltage, metric: v_volts, unit: volts}
""")["p"]
    walked = {"1.3.6.1.4.1.1.5": [("1.3.6.1.4.1.1.5.1.1.1", 7467), ("1.3.6.1.4.1.1.5.1.1.4", 2291),
                                  ("1.3.6.1.4.1.1.5.1.1.99", 5)],
              "1.3.6.1.4.1.1.7": [("1.3.6.1.4.1.1.7.1.1.1", 3), ("1.3.6.1.4.1.1.7.1.1.4", 1)]}
    got = {m.sample.oid.rsplit(".", 1)[1]: m for m in measure(p, "d", {}, walked, 0.0)}  # type: ignore[arg-type]
    assert set(got) == {"1", "4"}  # type 99 is no kind the profile knows
    assert (got["1"].cls, got["1"].sample.value, got["1"].sample.unit) == ("current", 7.467, "amperes")
    assert (got["4"].cls, got["4"].sample.value) == ("voltage", pytest.approx(229.1))
    assert got["4"].sample.labels == (("pdu", "1"), ("inlet", "1"), ("type", "4"))


def test_a_unit_text_column_a_validity_column_and_a_signed_scale_column(tmp_path: Path) -> None:
    p = _profile(tmp_path, """\
  - name: var
    class: env
    metric: var
    oid: 1.3.6.1.4.1.1.11
    table: true
    index: [var]
    when: {column: 1.3.6.1.4.1.1.6, in: [2, 4]}
    scale_by: {column: 1.3.6.1.4.1.1.7, mode: signed}
    text: 1.3.6.1.4.1.1.10
    kinds_by:
      column: 1.3.6.1.4.1.1.5
      kinds:
        "degree C": {class: temperature, metric: t_celsius, unit: celsius}
        "deg F": {class: temperature, metric: t_celsius, unit: celsius, scale: 0.5555555556, offset: -17.7777777778}
        "": {class: state, metric: s, unit: state}
""")["p"]
    col = "1.3.6.1.4.1.1"
    walked = {f"{col}.11": [(f"{col}.11.1", 2420), (f"{col}.11.2", 77), (f"{col}.11.3", 1), (f"{col}.11.4", 5)],
              f"{col}.5": [(f"{col}.5.1", "degree C"), (f"{col}.5.2", "deg F"), (f"{col}.5.3", ""),
                           (f"{col}.5.4", "degree C")],
              f"{col}.6": [(f"{col}.6.1", 2), (f"{col}.6.2", 2), (f"{col}.6.3", 4), (f"{col}.6.4", 3)],
              f"{col}.7": [(f"{col}.7.1", -100), (f"{col}.7.2", 0)],
              f"{col}.10": [(f"{col}.10.3", "Open ")]}
    got = {m.sample.oid.rsplit(".", 1)[1]: m.sample for m in measure(p, "d", {}, walked, 0.0)}  # type: ignore
    assert set(got) == {"1", "2", "3"}  # row 4 is a string variable (type 3): not read
    assert got["1"].value == pytest.approx(24.2)        # -100: divide by 100
    assert got["2"].value == pytest.approx(25.0)        # 77 °F
    assert (got["3"].unit, got["3"].value, got["3"].text) == ("state", 1, "Open")


def test_a_scalar_setting_switches_every_rows_unit_and_defaults_when_absent(tmp_path: Path) -> None:
    readings = """\
  - name: t
    class: temperature
    metric: t_celsius
    oid: 1.3.6.1.4.1.1.3
    table: true
    index: [probe]
    kinds_by:
      scalar: 1.3.6.1.4.1.1.9.0
      default: 1
      kinds:
        1: {class: temperature, metric: t_celsius, unit: celsius}
        2: {class: temperature, metric: t_celsius, unit: celsius, scale: 0.5555555556, offset: -17.7777777778}
"""
    p = _profile(tmp_path, readings)["p"]
    walked = {"1.3.6.1.4.1.1.3": [("1.3.6.1.4.1.1.3.1", 81)]}
    (fahrenheit,) = evaluate(p, "d", {"1.3.6.1.4.1.1.9.0": 2}, walked, 0.0)  # type: ignore[arg-type]
    (default,) = evaluate(p, "d", {}, walked, 0.0)  # type: ignore[arg-type]
    assert fahrenheit.value == pytest.approx(27.22, abs=0.01) and default.value == 81


def test_text_values_with_units_and_microwatts_as_dbm(tmp_path: Path) -> None:
    p = _profile(tmp_path, """\
  - {name: t, class: temperature, metric: t_celsius, oid: 1.3.6.1.4.1.1.1.0, unit: celsius, parse: true}
  - {name: rx, class: dbm, metric: rx_dbm, oid: 1.3.6.1.4.1.1.2, table: true, index: [port], scale: 0.001,
     unit: dbm, decibels: true}
""")["p"]
    walked = {"1.3.6.1.4.1.1.2": [("1.3.6.1.4.1.1.2.1", 78), ("1.3.6.1.4.1.1.2.2", 0)]}
    got = {s.oid: s.value for s in evaluate(p, "d", {"1.3.6.1.4.1.1.1.0": "23.5 C"}, walked, 0.0)}  # type: ignore
    assert got == {"1.3.6.1.4.1.1.1.0": 23.5, "1.3.6.1.4.1.1.2.1": pytest.approx(-11.0791, abs=1e-4),
                   "1.3.6.1.4.1.1.2.2": -60.0}


def test_a_profile_that_extends_another_rescales_its_readings_and_stands_in_for_it() -> None:
    base, card = PROFILES["ups-mib"], PROFILES["ups-mib-decivolt"]
    walked = {"1.3.6.1.2.1.33.1.4.4.1.2": [("1.3.6.1.2.1.33.1.4.4.1.2.1", 2302)]}
    assert [s.value for s in evaluate(base, "u", {}, walked, 0.0) if s.metric == "ups_output_voltage_volts"] == [2302]
    assert [s.value for s in evaluate(card, "u", {}, walked, 0.0)
            if s.metric == "ups_output_voltage_volts"] == [pytest.approx(230.2)]
    facts = {"1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.2254.2.5", "1.3.6.1.2.1.33.1.1.1.0": "Delta"}
    assert [p.name for p in select(list(PROFILES.values()), facts, set())] == ["ups-mib-decivolt"]


def test_every_profile_names_its_readings_once_and_uses_the_documented_units() -> None:
    for profile in PROFILES.values():
        names = [r.name for r in profile.readings]
        assert len(names) == len(set(names)), profile.name
        for r in profile.readings:
            kinds = list(r.kinds_by.kinds.values()) if r.kinds_by else [r.kind]
            assert all(k.unit in UNITS for k in kinds), (profile.name, r.name)
            assert not r.counter or r.kind.metric.endswith("_total")


BAD_FEATURES = [
    ("kinds-by-two-sources", "  - {name: x, class: a, metric: m, oid: 1.3.6.1, table: true, index: [i],\n"
     "     kinds_by: {column: 1.3.6.2, index: -1, kinds: {1: {class: b, metric: n}}}}\n",
     "readings[0] (x).kinds_by", "give exactly one of column, index or scalar", 5),
    ("when-without-values", "  - {name: x, class: a, metric: m, oid: 1.3.6.1, when: {column: 1.3.6.2}}\n",
     "readings[0] (x).when", "give exactly one of in or not_in", 4),
    ("scale-by-mode", "  - {name: x, class: a, metric: m, oid: 1.3.6.1, scale_by: {column: 1.3.6.2, mode: add}}\n",
     "readings[0] (x).scale_by.mode", "'add' is not one of", 4),
    ("counter-name", "  - {name: x, class: a, metric: m_bytes, oid: 1.3.6.1, unit: bytes, counter: true}\n",
     "readings[0] (x).metric", "a counter's metric name ends in _total", 4),
    ("default-kind", "  - {name: x, class: a, metric: m, oid: 1.3.6.1, kinds_by: {scalar: 1.3.6.2, default: 7,\n"
     "     kinds: {1: {class: b, metric: n}}}}\n", "readings[0] (x).kinds_by.default", "7 is not one of the kinds", 4),
]


@pytest.mark.parametrize(("case", "reading", "key", "message", "line"), BAD_FEATURES,
                         ids=[c[0] for c in BAD_FEATURES])
def test_a_bad_mechanism_names_file_line_and_key(
    tmp_path: Path, case: str, reading: str, key: str, message: str, line: int
) -> None:
    with pytest.raises(InventoryError) as exc:
        _profile(tmp_path, reading)
    (err,) = exc.value.errors
    assert (Path(err.file).name, err.line, err.key) == ("p.yml", line, key), err
    assert message in err.message


def test_extends_names_an_existing_profile_and_rescales_only_its_readings(tmp_path: Path) -> None:
    (tmp_path / "base.yml").write_text(
        "name: base\nmatch: {has_oid: [1.3.6.1.2]}\nreadings:\n"
        "  - {name: v, class: voltage, metric: v_volts, oid: 1.3.6.1.1.0, unit: volts}\n", encoding="utf-8")
    (tmp_path / "card.yml").write_text(
        "name: card\nextends: base\nmatch: {sysobjectid: [1.3.6.1.4.1.9]}\nrescale: {v: 0.1, w: 2}\nreadings: []\n",
        encoding="utf-8")
    with pytest.raises(InventoryError) as exc:
        load_profiles(tmp_path)
    (err,) = exc.value.errors
    assert (Path(err.file).name, err.key, err.message) == ("card.yml", "rescale.w", "base has no reading 'w'")
