"""The strict inventory loader's promises (DESIGN.md, conventions 4 and 14).

The reference site loads into typed objects; secrets never print; and every kind
of bad input fails at start with one error that names file, line and key. Each
bad-input case copies the reference inventory and makes ONE text edit, so the
line numbers in the expected errors are the lines a user would open.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import pickle
import shutil
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from dcops.secrets import REDACTED, Secret, SecretStore
from dcops.types import DEVICE_CLASSES
from inventory import REFERENCE_DIR, Inventory, InventoryError, LoadError, load_inventory

SECRETS_YML = REFERENCE_DIR / "secrets.yml"
SECRET_VALUES = sorted(str(v) for v in yaml.safe_load(SECRETS_YML.read_text("utf-8")).values())
CLASSES = ", ".join(sorted(DEVICE_CLASSES))
DEVICE_KEYS = ("address, class, feed, interval, label, location, modbus, name, position, profile, "
               "rack, rating, snmp, u_height")
SNMP_KEYS = ("auth_key, auth_protocol, community, context, engine_id, priv_key, priv_protocol, user, "
             "version")
SECTIONS = ("agencies, devices, locations, power, prefix_pools, racks, shared_services, site, switches, "
            "vlan_groups")
RACK_STATUSES = "active, planned, reserved, available"

# ups-a's SNMP block in devices.yml (lines 6-9)
UPS_A_SNMP = "  snmp:\n    version: 2c\n    community:\n      secret: community-ups-a\n"


# ---------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def no_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default secret store reads os.environ: keep the machine's variables out."""
    for name in list(os.environ):
        if name.startswith("DCOPS_SECRET_"):
            monkeypatch.delenv(name)


def file_secrets(directory: Path = REFERENCE_DIR, **environ: str) -> SecretStore:
    return SecretStore.from_file(directory / "secrets.yml", environ=environ)


@pytest.fixture(scope="module")
def reference() -> Inventory:
    return load_inventory(REFERENCE_DIR, secrets=file_secrets())


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A copy of the reference inventory, to break."""
    for path in REFERENCE_DIR.glob("*.yml"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def edit(directory: Path, file: str, old: str, new: str, count: int = 1,
         encoding: str = "utf-8") -> None:
    """Replace the first `count` occurrences of `old` in one file."""
    path = directory / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"{file} has no {count} x {old!r}"
    path.write_text(text.replace(old, new, count), encoding=encoding)


def shown(error: LoadError, directory: Path) -> str:
    """`file:line: key: message` with paths relative to the inventory directory."""
    return str(error).replace(f"{directory}{os.sep}", "").replace(str(directory), ".")


def load_errors(directory: Path, **kwargs: Any) -> list[str]:
    with pytest.raises(InventoryError) as caught:
        load_inventory(directory, **kwargs)
    return [shown(e, directory) for e in caught.value.errors]


# ---------------------------------------------------------------- the reference site


def test_reference_site_and_room(reference: Inventory) -> None:
    assert reference.site.slug == "city-dc"
    assert reference.site.timezone == "Asia/Shanghai"
    assert list(reference.locations) == ["room-1"]
    room = reference.locations["room-1"]
    assert room.area_m2 == 106
    assert room.rows * room.columns >= len(reference.racks)


def test_reference_racks(reference: Inventory) -> None:
    assert len(reference.racks) == 24
    active = [r.name for r in reference.racks.values() if r.in_use]
    assert len(active) == 11
    assert all(r.status == "active" for r in reference.racks.values() if r.in_use)


def test_reference_power_chain(reference: Inventory) -> None:
    ups = {d.name for d in reference.devices_of("ups")}
    assert len(ups) == 2
    assert {p.ups for p in reference.panels.values()} == ups  # each panel fed by its own UPS
    for rack in (r for r in reference.racks.values() if r.in_use):
        pdus = [d for d in reference.devices_in(rack.name) if d.device_class == "pdu"]
        assert len(pdus) == 2, rack.name
        feeds = [reference.feeds[p.feed] for p in pdus if p.feed is not None]
        assert [f.rack for f in feeds] == [rack.name, rack.name], rack.name
        assert sorted(f.side for f in feeds) == ["A", "B"], rack.name
        assert [f.side for f in reference.feeds_of(rack.name)] == ["A", "B"], rack.name


def test_reference_environment(reference: Inventory) -> None:
    assert len(reference.devices_of("cooling")) >= 2
    for rack in (r for r in reference.racks.values() if r.in_use):
        probes = [d for d in reference.devices_in(rack.name) if d.device_class == "env"]
        assert len(probes) == 1, rack.name
    for device_class in ("leak", "smoke", "door"):
        assert reference.devices_of(device_class), device_class
    # a device in a rack stands in the rack's room
    assert reference.devices["probe-A01"].location == "room-1"


def test_reference_communities_are_secrets(reference: Inventory) -> None:
    values = yaml.safe_load(SECRETS_YML.read_text("utf-8"))
    for device in reference.devices.values():
        community = device.snmp.community
        assert isinstance(community, Secret), device.name
        assert community.reveal() == values[community.name]


# ---------------------------------------------------------------- secrets never leak


def assert_redacted(text: str) -> None:
    leaked = [v for v in SECRET_VALUES if v in text]
    assert not leaked, f"secret values in output: {leaked}"
    assert REDACTED in text


def fields_dump(obj: object) -> object:
    """What `dataclasses.asdict` builds, minus its deepcopy: what a JSON exporter would write."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: fields_dump(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: fields_dump(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [fields_dump(v) for v in obj]
    return obj


def test_repr_of_the_inventory_redacts_secrets(reference: Inventory) -> None:
    assert_redacted(repr(reference))
    assert_redacted(str(reference))


def test_str_and_format_of_every_device_redact_secrets(reference: Inventory) -> None:
    for device in reference.devices.values():
        assert_redacted(str(device))
        assert_redacted(f"{device} {device.snmp} {device.snmp.community}")


def test_dumps_redact_secrets(reference: Inventory) -> None:
    assert_redacted(json.dumps(fields_dump(reference), default=str, ensure_ascii=False))
    assert_redacted(json.dumps(reference, default=str, ensure_ascii=False))
    for device in reference.devices.values():
        assert_redacted(json.dumps(vars(device), default=str, ensure_ascii=False))


def test_dataclasses_asdict_redacts_secrets(reference: Inventory) -> None:
    device = reference.devices["ups-a"]
    assert_redacted(json.dumps(dataclasses.asdict(device), default=str, ensure_ascii=False))


def test_pickling_is_refused(reference: Inventory) -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(reference)


def test_log_records_redact_secrets(reference: Inventory) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("dcops.test_inventory")
    logger.addHandler(handler)
    try:
        for device in reference.devices.values():
            logger.warning("poll of %s failed (credentials %r)", device, device.snmp)
        try:
            raise RuntimeError(f"cannot poll {reference.devices['ups-a']}")
        except RuntimeError:
            logger.exception("collector crashed")
    finally:
        logger.removeHandler(handler)
    assert_redacted(stream.getvalue())


def test_a_broken_secrets_file_does_not_quote_its_values(site: Path) -> None:
    # PyYAML's own error text quotes the offending line: here, a secret value
    edit(site, "secrets.yml", "community-ups-b: lab-ups-b\n", "community-ups-b: lab-ups-b: oops\n")
    with pytest.raises(InventoryError) as caught:
        load_inventory(site)
    text = "".join(traceback.format_exception(caught.value))
    assert "lab-ups-b" not in text
    assert "secrets.yml:4: (yaml): not valid YAML: mapping values are not allowed here" in text


# ---------------------------------------------------------------- secrets from the environment


def test_environment_overrides_the_secrets_file() -> None:
    store = file_secrets(DCOPS_SECRET_COMMUNITY_UPS_A="from-env")
    inventory = load_inventory(REFERENCE_DIR, secrets=store)
    community = inventory.devices["ups-a"].snmp.community
    assert community is not None and community.reveal() == "from-env"
    other = inventory.devices["ups-b"].snmp.community
    assert other is not None and other.reveal() == "lab-ups-b"
    assert "from-env" not in repr(inventory)


def test_environment_supplies_a_secret_the_file_lacks(site: Path) -> None:
    edit(site, "secrets.yml", "community-door-1: lab-door-1\n", "")
    assert load_errors(site, secrets=file_secrets(site)) == [
        "devices.yml:469: devices[40] (door-1).snmp.community.secret: secret 'community-door-1' "
        "is not defined (add it to the secrets file or set DCOPS_SECRET_COMMUNITY_DOOR_1)",
    ]
    store = file_secrets(site, DCOPS_SECRET_COMMUNITY_DOOR_1="door-from-env")
    community = load_inventory(site, secrets=store).devices["door-1"].snmp.community
    assert community is not None and community.reveal() == "door-from-env"


def test_default_store_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCOPS_SECRET_COMMUNITY_CRAC_1", "crac-from-env")
    community = load_inventory(REFERENCE_DIR).devices["crac-1"].snmp.community
    assert community is not None and community.reveal() == "crac-from-env"


# ---------------------------------------------------------------- good input, one edit each


def case(case_id: str, file: str, old: str, new: str, *expected: str, count: int = 1,
         encoding: str = "utf-8", **load: Any) -> Any:
    return pytest.param(file, old, new, count, encoding, load, list(expected), id=case_id)


def good(case_id: str, file: str, old: str, new: str, get: Callable[[Inventory], object],
         expected: object, **load: Any) -> Any:
    return pytest.param(file, old, new, load, get, expected, id=case_id)


ADDRESS = "  address: 127.0.0.1:11161\n"  # first is ups-a's

GOOD = [
    good("hostname without port polls 161", "devices.yml", ADDRESS, "  address: ups-a.dc.local\n",
         lambda inv: inv.devices["ups-a"].address, "ups-a.dc.local:161"),
    good("bracketed IPv6 with port", "devices.yml", ADDRESS, "  address: '[fd00::5]:1161'\n",
         lambda inv: (inv.devices["ups-a"].host, inv.devices["ups-a"].port), ("fd00::5", 1161)),
    good("bare IPv6", "devices.yml", ADDRESS, "  address: fd00::5\n",
         lambda inv: inv.devices["ups-a"].address, "fd00::5:161"),
    good("SNMP version 1 written as an integer", "devices.yml",
         "    version: 2c\n", "    version: 1\n",
         lambda inv: inv.devices["ups-a"].snmp.version, "1"),
    good("SNMP v3 authPriv with default protocols", "devices.yml", UPS_A_SNMP,
         "  snmp:\n    version: 3\n    user: dcops\n"
         "    auth_key:\n      secret: community-ups-a\n"
         "    priv_key:\n      secret: community-ups-b\n",
         lambda inv: (inv.devices["ups-a"].snmp.user, inv.devices["ups-a"].snmp.auth_protocol,
                      inv.devices["ups-a"].snmp.priv_protocol,
                      str(inv.devices["ups-a"].snmp.auth_key)),
         ("dcops", "SHA", "AES", REDACTED)),
    good("2U device in the top two U", "devices.yml",
         "  rack: A01\n  position: 0\n", "  rack: A01\n  position: 41\n  u_height: 2\n",
         lambda inv: inv.devices["pdu-A01-a"].position, 41),
    good("profile the collectors know", "devices.yml",
         "  profile: auto\n", "  profile: ups-mib\n",
         lambda inv: inv.devices["ups-a"].profile, "ups-mib", profiles={"ups-mib"}),
]


@pytest.mark.parametrize(("file", "old", "new", "load", "get", "expected"), GOOD)
def test_good_input(site: Path, file: str, old: str, new: str, load: dict[str, Any],
                    get: Callable[[Inventory], object], expected: object) -> None:
    edit(site, file, old, new)
    assert get(load_inventory(site, **load)) == expected


# ---------------------------------------------------------------- bad input, one edit each

BAD = [
    # -- strictness: keys and sections
    case("unknown key in a device", "devices.yml",
         "- name: ups-a\n", "- name: ups-a\n  colour: red\n",
         f"devices.yml:4: devices[0].colour: unknown key (allowed: {DEVICE_KEYS})"),
    case("unknown key in snmp", "devices.yml",
         "    version: 2c\n", "    version: 2c\n    retries: 3\n",
         f"devices.yml:8: devices[0] (ups-a).snmp.retries: unknown key (allowed: {SNMP_KEYS})"),
    case("unknown top-level section", "site.yml",
         "    columns: 6\n", "    columns: 6\ntenants: []\n",
         f"site.yml:14: tenants: unknown section (allowed: {SECTIONS})"),
    case("duplicate key in one mapping", "devices.yml",
         "  rating: 120\n", "  rating: 120\n  rating: 100\n",
         "devices.yml:13: devices[0].rating: duplicate key (first at line 12)"),
    case("section defined in two files", "site.yml",
         "    columns: 6\n", "    columns: 6\nracks: []\n",
         "site.yml:14: racks: section already defined in racks.yml"),
    case("site section missing", "site.yml",
         "site:\n  name: 市政务云数据中心\n  slug: city-dc\n  city: 江州市\n"
         "  timezone: Asia/Shanghai\n", "",
         ".:0: site: missing required section"),
    case("device without snmp", "devices.yml", UPS_A_SNMP, "",
         "devices.yml:3: devices[0].snmp: missing required key"),
    case("device in a rack without position", "devices.yml",
         "  rack: A01\n  position: 0\n", "  rack: A01\n",
         "devices.yml:58: devices[5] (pdu-A01-a).position: "
         "missing required key for a device in a rack"),
    # -- types and ranges (a rack with an error is reported once, not again by every reference)
    case("rack row is a word", "racks.yml", "  row: 1\n", "  row: one\n",
         "racks.yml:5: racks[0].row: expected an integer, got a string ('one')"),
    case("rack row tagged !!int but a word", "racks.yml", "  row: 1\n", "  row: !!int one\n",
         "racks.yml:5: racks[0].row: expected an integer, got 'one'"),
    case("rack row zero", "racks.yml", "  row: 1\n", "  row: 0\n",
         "racks.yml:5: racks[0].row: 0 is out of range 1..100"),
    case("rack u_height fractional", "racks.yml", "  u_height: 42\n", "  u_height: 4.5\n",
         "racks.yml:7: racks[0].u_height: expected an integer, got a number (4.5)"),
    case("rack status not allowed", "racks.yml", "  status: active\n", "  status: retired\n",
         f"racks.yml:8: racks[0].status: 'retired' is not one of: {RACK_STATUSES}"),
    case("device position quoted", "devices.yml", "  position: 0\n", "  position: '0'\n",
         "devices.yml:67: devices[5] (pdu-A01-a).position: "
         "expected an integer, got a string ('0')"),
    case("device rating a word", "devices.yml", "  rating: 120\n", "  rating: lots\n",
         "devices.yml:12: devices[0] (ups-a).rating: expected a number, got a string ('lots')"),
    case("unknown device class", "devices.yml", "  class: ups\n", "  class: toaster\n",
         f"devices.yml:4: devices[0] (ups-a).class: 'toaster' is not one of: {CLASSES}"),
    case("feed side neither A nor B", "power.yml", "    side: A\n", "    side: C\n",
         "power.yml:21: power.feeds[0].side: 'C' is not one of: A, B"),
    # -- addresses
    case("address octet above 255", "devices.yml", ADDRESS, "  address: 10.0.0.300\n",
         "devices.yml:5: devices[0] (ups-a).address: '10.0.0.300' is not a valid host[:port]"),
    case("address port above 65535", "devices.yml", ADDRESS, "  address: host:99999\n",
         "devices.yml:5: devices[0] (ups-a).address: 'host:99999' is not a valid host[:port]"),
    case("address not a host", "devices.yml", ADDRESS, "  address: not an address!\n",
         "devices.yml:5: devices[0] (ups-a).address: 'not an address!' is not a valid host[:port]"),
    # -- names
    case("duplicate device name", "devices.yml", "- name: crac-2\n", "- name: crac-1\n",
         "devices.yml:36: devices[3] (crac-1).name: duplicate device name 'crac-1' "
         "(first defined at devices.yml:25)"),
    case("duplicate rack name", "racks.yml", "- name: C02\n", "- name: C01\n",
         "racks.yml:94: racks[13].name: duplicate rack name 'C01' (first defined at racks.yml:87)"),
    # -- the floor and the rack
    case("rack row beyond the floor grid", "racks.yml",
         "  row: 3\n  column: 1\n", "  row: 5\n  column: 1\n",
         "racks.yml:89: racks[12].row: row 5, column 1 is outside room-1's "
         "floor grid of 4 rows x 6 columns"),
    case("rack column beyond the floor grid", "racks.yml",
         "  row: 3\n  column: 1\n", "  row: 3\n  column: 7\n",
         "racks.yml:90: racks[12].column: row 3, column 7 is outside room-1's "
         "floor grid of 4 rows x 6 columns"),
    case("two racks on one floor spot", "racks.yml",
         "  row: 1\n  column: 2\n", "  row: 1\n  column: 1\n",
         "racks.yml:13: racks[1].column: floor position row 1, column 1 is taken by A01"),
    case("device above the top of its rack", "devices.yml",
         "  rack: A01\n  position: 0\n", "  rack: A01\n  position: 42\n  u_height: 2\n",
         "devices.yml:67: devices[5] (pdu-A01-a).position: U42-U43 does not fit rack A01 (U1-U42)"),
    case("two devices in the same U (both A01 PDUs at U10-U11)", "devices.yml",
         "  rack: A01\n  position: 0\n  feed", "  rack: A01\n  position: 10\n  u_height: 2\n  feed",
         "devices.yml:80: devices[6] (pdu-A01-b).position: U10 of rack A01 is taken by pdu-A01-a",
         count=2),
    # -- references
    case("device in a rack that does not exist", "devices.yml",
         "  rack: A01\n  position: 0\n  label", "  rack: Z99\n  position: 0\n  label",
         "devices.yml:90: devices[7] (probe-A01).rack: rack 'Z99' does not exist"),
    case("feed from a panel that does not exist", "power.yml",
         "    panel: pp-a\n", "    panel: pp-x\n",
         "power.yml:19: power.feeds[0].panel: power panel 'pp-x' does not exist"),
    case("panel fed by a UPS that does not exist", "power.yml",
         "    ups: ups-a\n", "    ups: ups-x\n",
         "power.yml:12: power.panels[0].ups: device 'ups-x' does not exist"),
    case("PDU on a feed of another rack", "devices.yml", "  feed: A01-A\n", "  feed: A02-A\n",
         "devices.yml:68: devices[5] (pdu-A01-a).feed: "
         "power feed 'A02-A' goes to rack A02, not A01"),
    case("PDU on a feed that does not exist", "devices.yml", "  feed: A01-A\n", "  feed: A01-C\n",
         "devices.yml:68: devices[5] (pdu-A01-a).feed: power feed 'A01-C' does not exist"),
    case("secret that is not defined", "devices.yml",
         "      secret: community-ups-a\n", "      secret: community-ups-z\n",
         "devices.yml:9: devices[0] (ups-a).snmp.community.secret: secret 'community-ups-z' "
         "is not defined (add it to the secrets file or set DCOPS_SECRET_COMMUNITY_UPS_Z)"),
    case("profile the collectors do not know", "devices.yml",
         "  profile: auto\n", "  profile: ups-mibb\n",
         "devices.yml:10: devices[0] (ups-a).profile: unknown profile 'ups-mibb' "
         "(known: auto, apc-rpdu2, ups-mib)",
         profiles={"ups-mib", "apc-rpdu2"}),
    # -- SNMP
    case("SNMP version 4", "devices.yml", "    version: 2c\n", "    version: 4\n",
         "devices.yml:7: devices[0] (ups-a).snmp.version: '4' is not one of: 1, 2c, 3"),
    case("SNMP version left empty", "devices.yml", "    version: 2c\n", "    version:\n",
         "devices.yml:7: devices[0] (ups-a).snmp.version: expected one of: 1, 2c, 3, got null"),
    case("SNMP v3 without user", "devices.yml",
         "    version: 2c\n    community:\n", "    version: 3\n    auth_key:\n",
         "devices.yml:7: devices[0] (ups-a).snmp.user: missing required key for SNMP v3"),
    case("SNMP v2c with a v3 user", "devices.yml",
         "    version: 2c\n", "    version: 2c\n    user: dcops\n",
         "devices.yml:8: devices[0] (ups-a).snmp.user: only used with SNMP v3, not v2c"),
    # -- files (an unreadable file stops the load before cross-checks: no noise about its names)
    case("invalid YAML", "racks.yml", "  status: active\n", "  status: active: yes\n",
         "racks.yml:8: (yaml): not valid YAML: mapping values are not allowed here"),
    case("file saved as GBK, not UTF-8", "site.yml", "site:\n", "site:\n",
         "site.yml:3: (file): not UTF-8 text (byte 0xca); save it as UTF-8",
         encoding="gbk"),
    case("secrets file not valid YAML", "secrets.yml",
         "community-ups-b: lab-ups-b\n", "community-ups-b: lab-ups-b: oops\n",
         "secrets.yml:4: (yaml): not valid YAML: mapping values are not allowed here"),
]


@pytest.mark.parametrize(("file", "old", "new", "count", "encoding", "load", "expected"), BAD)
def test_bad_input(site: Path, file: str, old: str, new: str, count: int, encoding: str,
                   load: dict[str, Any], expected: list[str]) -> None:
    edit(site, file, old, new, count, encoding)
    assert load_errors(site, **load) == expected


@pytest.mark.parametrize(("make", "expected"), [
    pytest.param(lambda d: d.mkdir(), ".:0: (directory): no inventory files "
                 "(*.yml besides secrets.yml)", id="empty directory"),
    pytest.param(lambda d: (d.mkdir(), (d / "secrets.yml").write_text("a: b\n")),
                 ".:0: (directory): no inventory files (*.yml besides secrets.yml)",
                 id="only a secrets file"),
    pytest.param(lambda d: None, ".:0: (directory): no such directory", id="no such directory"),
    pytest.param(lambda d: d.write_text("site: {}\n"), ".:0: (directory): not a directory",
                 id="a file, not a directory"),
])
def test_bad_directory(tmp_path: Path, make: Callable[[Path], object], expected: str) -> None:
    directory = tmp_path / "inventory"
    make(directory)
    assert load_errors(directory) == [expected]


# ---------------------------------------------------------------- all errors at once


def test_every_error_is_reported_sorted_by_file_and_line(site: Path) -> None:
    edit(site, "site.yml", "    columns: 6\n", "    columns: 6\ntenants: []\n")
    edit(site, "racks.yml", "  status: available\n", "  status: retired\n")  # C01, line 92
    edit(site, "racks.yml", "  row: 1\n", "  row: one\n")  # A01, line 5
    edit(site, "power.yml", "    side: A\n", "    side: C\n")
    edit(site, "devices.yml", "  class: cooling\n", "  class: toaster\n")  # crac-1
    edit(site, "devices.yml", "- name: ups-a\n", "- name: ups-a\n  colour: red\n")
    with pytest.raises(InventoryError) as caught:
        load_inventory(site)
    errors = caught.value.errors
    assert [shown(e, site) for e in errors] == [
        f"devices.yml:4: devices[0].colour: unknown key (allowed: {DEVICE_KEYS})",
        f"devices.yml:27: devices[2] (crac-1).class: 'toaster' is not one of: {CLASSES}",
        "power.yml:21: power.feeds[0].side: 'C' is not one of: A, B",
        "racks.yml:5: racks[0].row: expected an integer, got a string ('one')",
        f"racks.yml:92: racks[12].status: 'retired' is not one of: {RACK_STATUSES}",
        f"site.yml:14: tenants: unknown section (allowed: {SECTIONS})",
    ]
    assert errors == sorted(errors, key=lambda e: (e.file, e.line))
    assert str(caught.value) == "\n".join(str(e) for e in errors)
