"""The extranet inventory's promises (DESIGN.md conventions 4, 12 and 14).

The reference city loads: 16 switches of three vendors, 7 VLAN groups, 178
agencies. Each bad input is ONE text edit of a copy of the reference, and the
test asserts the one error a user would see: file, line, key and message.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest

from dcops.secrets import SecretStore
from inventory import REFERENCE_DIR, InventoryError, load_inventory
from inventory.model import Extranet
from lab.extranet import reference

SECRETS = SecretStore.from_file(REFERENCE_DIR / "secrets.yml", environ={})


@pytest.fixture(scope="module")
def extranet() -> Extranet:
    return load_inventory(REFERENCE_DIR, secrets=SECRETS).extranet


@pytest.fixture
def site(tmp_path: Path) -> Path:
    for path in REFERENCE_DIR.glob("*.yml"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def edit(directory: Path, file: str, old: str, new: str, nth: int = 1) -> None:
    """Replace the `nth` occurrence of `old` in one file."""
    path = directory / file
    text = path.read_text("utf-8")
    at = -1
    for _ in range(nth):
        at = text.index(old, at + 1)
    path.write_text(text[:at] + new + text[at + len(old):], "utf-8")


def errors_of(directory: Path) -> list[str]:
    with pytest.raises(InventoryError) as caught:
        load_inventory(directory, secrets=SecretStore.from_file(directory / "secrets.yml", environ={}))
    return [str(e).replace(f"{directory}{os.sep}", "") for e in caught.value.errors]


# ---------------------------------------------------------------- the reference city


def test_reference_city(extranet: Extranet) -> None:
    assert len(extranet.switches) == 16
    assert {s.vendor for s in extranet.switches.values()} == {"huawei_vrp", "hp_comware", "cisco_ios"}
    assert {s.role for s in extranet.switches.values()} == {"core", "aggregation", "access"}
    assert sorted(extranet.groups) == ["bs", "jz", "lx", "qs", "sm", "ty", "yt"]
    assert len(extranet.agencies) == 178
    statuses = [a.status for a in extranet.agencies.values()]
    assert (statuses.count("planned"), statuses.count("active"), statuses.count("retired")) == (172, 4, 2)
    gaj = extranet.agencies["jz-gaj"]
    assert (gaj.name, gaj.switch, gaj.vid, gaj.prefix) == ("江州市公安局", "acc-jz-1", 112, "10.80.1.64/27")
    assert extranet.group_of(gaj).gateway == "core-jz"
    assert extranet.switches["acc-jz-1"].ports[:2] == ("GigabitEthernet0/0/1", "GigabitEthernet0/0/2")
    assert extranet.switches["acc-jz-1"].address == "127.0.0.1:12002"


def test_switch_passwords_resolve_and_never_print(extranet: Extranet) -> None:
    core = extranet.switches["core-jz"]
    assert core.password.reveal() == "lab-core-Pa55"
    dumped = repr(extranet) + str(dataclasses.asdict(extranet))
    for value in ("lab-core-Pa55", "lab-agg-Pa55", "lab-acc-Pa55"):
        assert value not in dumped


def test_a_switch_without_a_port_in_its_address_uses_ssh(site: Path) -> None:
    edit(site, "extranet.yml", "address: 127.0.0.1:12001", "address: 10.1.1.1")
    assert load_inventory(site, secrets=SECRETS).extranet.switches["core-jz"].port == 22


def test_generated_reference_is_current() -> None:
    assert reference.main(["--check"]) == 0, "run: python -m lab.extranet.reference"


# ---------------------------------------------------------------- bad input: one edit, one error

DUPLICATE_SWITCH = """- name: acc-jz-1
  vendor: huawei_vrp
  role: access
  address: 127.0.0.1:12099
  username: netops
  password:
    secret: switch-access
  group: jz
  ports:
  - GigabitEthernet0/0/1-8
"""
CASES = [
    ("extranet.yml", "- name: core-jz\n", "- name: core-jz\n  colour: red\n", 1,
     "extranet.yml:5: switches[0].colour: unknown key (allowed: address, group, label, model, name, password, "
     "ports, role, uplinks, username, vendor)", "unknown switch key"),
    ("extranet.yml", "  vendor: huawei_vrp\n", "  vendor: huawei\n", 1,
     "extranet.yml:5: switches[0] (core-jz).vendor: 'huawei' is not one of: huawei_vrp, hp_comware, cisco_ios",
     "unknown vendor"),
    ("extranet.yml", "  role: core\n", "  role: 3\n", 1,
     "extranet.yml:6: switches[0] (core-jz).role: expected a string, got an integer (3)", "wrong type"),
    ("extranet.yml", "vlan_groups:\n", DUPLICATE_SWITCH + "vlan_groups:\n", 1,
     "extranet.yml:272: switches[16] (acc-jz-1).name: duplicate switch name 'acc-jz-1' (first defined at "
     "extranet.yml:17)", "duplicate switch"),
    ("extranet.yml", "    secret: switch-core\n", "    secret: switch-kore\n", 1,
     "extranet.yml:11: switches[0] (core-jz).password.secret: secret 'switch-kore' is not defined (add it to the "
     "secrets file or set DCOPS_SECRET_SWITCH_KORE)", "unknown secret"),
    ("extranet.yml", "  - GigabitEthernet1/0/1-48\n", "  - GigabitEthernet1/0/1-48\n  - GigabitEthernet1/0/48-1\n", 1,
     "extranet.yml:15: switches[0] (core-jz).ports[1]: 'GigabitEthernet1/0/48-1' is not a port name or range "
     "(GigabitEthernet0/0/1-24)", "backwards port range"),
    ("extranet.yml", "    peer: core-jz\n", "    peer: core-xx\n", 1,
     "extranet.yml:31: switches[1] (acc-jz-1).uplinks[0].peer: switch 'core-xx' does not exist",
     "unknown uplink peer"),
    ("extranet.yml", "    peer_port: GigabitEthernet1/0/1\n", "    peer_port: GigabitEthernet9/0/1\n", 1,
     "extranet.yml:32: switches[1] (acc-jz-1).uplinks[0].peer_port: port GigabitEthernet9/0/1 is not one of "
     "core-jz's ports", "unknown uplink peer port"),
    ("extranet.yml", "    peer: agg-qs\n    peer_port: XGigabitEthernet0/0/1\n",
     "    peer: core-jz\n    peer_port: GigabitEthernet1/0/40\n", 1,
     "extranet.yml:98: switches[5] (acc-qs).uplinks: no uplink path from acc-qs to agg-qs, the gateway of "
     "VLAN group qs", "no layer-2 path to the gateway"),
    ("extranet.yml", "  gateway: core-jz\n", "  gateway: core-xx\n", 1,
     "extranet.yml:280: vlan_groups[0].gateway: switch 'core-xx' does not exist", "unknown gateway"),
    ("extranet.yml", "  gateway: agg-qs\n", "  gateway: core-jz\n", 1,
     "extranet.yml:289: vlan_groups[1].gateway: switch core-jz belongs to VLAN group jz, not qs",
     "gateway in another group"),
    ("extranet.yml", "    min: 100\n", "    min: one\n", 1,
     "extranet.yml:276: vlan_groups[0].vids.min: expected an integer, got a string ('one')", "vid not a number"),
    ("extranet.yml", "    max: 999\n", "    max: 4095\n", 1,
     "extranet.yml:277: vlan_groups[0].vids.max: 4095 is out of range 1..4094", "group range beyond 4094"),
    ("extranet.yml", "    max: 999\n", "    max: 99\n", 1,
     "extranet.yml:277: vlan_groups[0].vids.max: max 99 is below min 100", "group range backwards"),
    ("extranet.yml", "  - 100-109\n", "  - 109-100\n", 1,
     "extranet.yml:279: vlan_groups[0].reserved[0]: '109-100' is not a vid range within 1..4094",
     "reserved range backwards"),
    ("extranet.yml", "  prefix: 10.10.1.0/24\n", "  prefix: 10.80.4.0/24\n", 1,
     "extranet.yml:385: shared_services[1].prefix: 10.80.4.0/24 overlaps prefix pool jz (10.80.0.0/18)",
     "shared service overlaps a pool"),
    ("extranet.yml", "  prefix: 10.82.0.0/20\n  length: 27\n  reserved:\n  - 10.82.0.0/27\n",
     "  prefix: 10.81.8.0/21\n  length: 27\n  reserved:\n  - 10.81.8.0/27\n", 1,
     "extranet.yml:351: prefix_pools[2].prefix: 10.81.8.0/21 overlaps prefix pool qs (10.81.0.0/20)",
     "overlapping pools"),
    ("extranet.yml", "  length: 27\n", "  length: 16\n", 1,
     "extranet.yml:340: prefix_pools[0].length: /16 is larger than the pool 10.80.0.0/18", "length too large"),
    ("extranet.yml", "  - 10.80.0.0/24\n", "  - 10.79.0.0/24\n", 1,
     "extranet.yml:342: prefix_pools[0].reserved[0]: 10.79.0.0/24 is not inside the pool 10.80.0.0/18",
     "reserved prefix outside its pool"),
    ("agencies.yml", "- code: jz-fgw\n", "- code: jz-zfb\n", 1,
     "agencies.yml:15: agencies[1] (jz-zfb).code: duplicate agency code 'jz-zfb' (first defined at "
     "agencies.yml:4)", "duplicate code"),
    ("agencies.yml", "  name: 江州市教育局\n", "  name: 江州市公安局\n", 1,
     "agencies.yml:52: agencies[5] (jz-gaj).name: duplicate agency name '江州市公安局' (agency jz-jyj has it)",
     "duplicate name"),
    ("agencies.yml", "- code: jz-fgw\n", "- code: JZ_fgw\n", 1,
     "agencies.yml:15: agencies[1].code: 'JZ_fgw' is not a valid agency code (3-24 of a-z, 0-9 and -, "
     "starting with a letter)", "bad code"),
    ("agencies.yml", "  status: planned\n", "  status: live\n", 1,
     "agencies.yml:23: agencies[1] (jz-fgw).status: 'live' is not one of: planned, active, retired", "bad status"),
    ("agencies.yml", "    phone: 0797-8000101\n", "    phone: call me\n", 1,
     "agencies.yml:19: agencies[1] (jz-fgw).contact.phone: 'call me' is not a phone number", "bad phone"),
    ("agencies.yml", "  switch: acc-jz-1\n", "  switch: acc-jz-9\n", 2,
     "agencies.yml:21: agencies[1] (jz-fgw).switch: switch 'acc-jz-9' does not exist", "unknown switch"),
    ("agencies.yml", "  port: GigabitEthernet0/0/2\n", "  port: GigabitEthernet0/0/99\n", 1,
     "agencies.yml:22: agencies[1] (jz-fgw).port: port GigabitEthernet0/0/99 is not one of acc-jz-1's ports",
     "unknown port"),
    ("agencies.yml", "  port: GigabitEthernet0/0/2\n", "  port: XGigabitEthernet0/0/1\n", 1,
     "agencies.yml:22: agencies[1] (jz-fgw).port: port XGigabitEthernet0/0/1 of acc-jz-1 is taken by the uplink "
     "to core-jz", "port is an uplink"),
    ("agencies.yml", "  port: GigabitEthernet0/0/2\n", "  port: GigabitEthernet0/0/1\n", 1,
     "agencies.yml:22: agencies[1] (jz-fgw).port: port GigabitEthernet0/0/1 of acc-jz-1 is taken by agency "
     "jz-zfb", "port used twice"),
    ("agencies.yml", "  vid: 110\n", "  vid: 4095\n", 1,
     "agencies.yml:13: agencies[0] (jz-zfb).vid: 4095 is out of range 1..4094", "vid beyond 4094"),
    ("agencies.yml", "  vid: 110\n", "  vid: 0\n", 1,
     "agencies.yml:13: agencies[0] (jz-zfb).vid: 0 is out of range 1..4094", "vid 0"),
    ("agencies.yml", "  vid: 110\n", "  vid: 1200\n", 1,
     "agencies.yml:13: agencies[0] (jz-zfb).vid: vid 1200 is outside VLAN group jz's range 100-999",
     "vid outside its group"),
    ("agencies.yml", "  vid: 110\n", "  vid: 105\n", 1,
     "agencies.yml:13: agencies[0] (jz-zfb).vid: vid 105 is reserved in VLAN group jz", "reserved vid"),
    ("agencies.yml", "  vid: 111\n", "  vid: 110\n", 1,
     "agencies.yml:278: agencies[29] (jz-dsj).vid: vid 110 is already used in VLAN group jz by agency jz-zfb",
     "duplicate vid"),
    ("agencies.yml", "  prefix: 10.80.1.32/27\n", "  prefix: 10.80.1.0/27\n", 1,
     "agencies.yml:279: agencies[29] (jz-dsj).prefix: 10.80.1.0/27 overlaps agency jz-zfb's 10.80.1.0/27",
     "overlapping agency prefixes"),
    ("agencies.yml", "  prefix: 10.80.1.0/27\n", "  prefix: 10.80.0.32/27\n", 1,
     "agencies.yml:14: agencies[0] (jz-zfb).prefix: 10.80.0.32/27 overlaps reserved 10.80.0.0/24",
     "prefix in a reserved range"),
    ("agencies.yml", "  prefix: 10.80.1.0/27\n", "  prefix: 10.99.0.0/27\n", 1,
     "agencies.yml:14: agencies[0] (jz-zfb).prefix: 10.99.0.0/27 is not a /27 inside prefix pool jz "
     "(10.80.0.0/18)", "prefix outside the pool"),
    ("agencies.yml", "  prefix: 10.80.1.0/27\n", "  prefix: 10.80.1.0/28\n", 1,
     "agencies.yml:14: agencies[0] (jz-zfb).prefix: 10.80.1.0/28 is not a /27 inside prefix pool jz "
     "(10.80.0.0/18)", "prefix of the wrong size"),
    ("agencies.yml", "  prefix: 10.80.1.0/27\n", "  prefix: 10.80.1.1/27\n", 1,
     "agencies.yml:14: agencies[0] (jz-zfb).prefix: '10.80.1.1/27' is not an IPv4 prefix (10.80.1.1/27 has host "
     "bits set)", "host bits set"),
    ("agencies.yml", "  vid: 110\n", "", 1,
     "agencies.yml:4: agencies[0] (jz-zfb).vid: an active agency is live already: give its vid and prefix",
     "active without its vid"),
]


@pytest.mark.parametrize(("file", "old", "new", "nth", "expected"),
                         [pytest.param(*c[:5], id=c[5]) for c in CASES])
def test_bad_input(site: Path, file: str, old: str, new: str, nth: int, expected: str) -> None:
    edit(site, file, old, new, nth)
    assert errors_of(site) == [expected]


def test_a_broken_switch_is_reported_once(site: Path) -> None:
    """References to a switch whose definition failed add no noise."""
    edit(site, "extranet.yml", "  vendor: huawei_vrp\n", "  vendor: juniper\n")
    assert errors_of(site) == [
        "extranet.yml:5: switches[0] (core-jz).vendor: 'juniper' is not one of: huawei_vrp, hp_comware, cisco_ios"]


def test_the_cli_stops_at_a_bad_inventory_before_touching_a_switch(site: Path) -> None:
    """Issue 5's fault "a vid out of range", as the admin meets it: exit 2, file, line, key and message."""
    from click.testing import CliRunner

    from dcops.cli import main

    edit(site, "agencies.yml", "  vid: 110\n", "  vid: 4095\n")
    result = CliRunner().invoke(main, ["extranet", "onboard", "jz-fgw", "--inventory", str(site),
                                       "--state", str(site / "extranet.db")])
    assert result.exit_code == 2
    assert result.output.replace(f"{site}{os.sep}", "") == (
        "agencies.yml:13: agencies[0] (jz-zfb).vid: 4095 is out of range 1..4094\n"
        f"1 error(s) in {site}\n")
    assert not (site / "extranet.db").exists()
