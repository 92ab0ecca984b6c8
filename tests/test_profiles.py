"""Profiles are data: they load strictly, and evaluation follows the MIB's scale, units and indexes."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.profile import PROFILES_DIR, evaluate, load_profiles, select
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
