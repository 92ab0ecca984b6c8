"""Sharding: `--shard i/N` polls a stable hash share; N pollers together poll every device exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from collectors.shard import Shard, shard_of
from conftest import copy_reference
from dcops.cli import main
from inventory import REFERENCE_DIR, load_inventory
from lab import LabRunner
from outputs.store import Store

DCOPS = Path(sys.executable).with_name("dcops")
names = st.sets(st.text(min_size=1, max_size=30), max_size=60)


@pytest.mark.parametrize(("text", "message"), [
    ("0/3", "0/3: i must be between 1 and 3"),
    ("4/3", "4/3: i must be between 1 and 3"),
    ("1/0", "1/0: N must be at least 1"),
    ("0/0", "0/0: N must be at least 1"),
    ("a/b", "'a/b' is not i/N (two whole numbers, e.g. 1/3)"),
    ("-1/3", "'-1/3' is not i/N (two whole numbers, e.g. 1/3)"),
    ("1/3/3", "'1/3/3' is not i/N (two whole numbers, e.g. 1/3)"),
    ("3", "'3' is not i/N (two whole numbers, e.g. 1/3)"),
    ("", "'' is not i/N (two whole numbers, e.g. 1/3)"),
])
@pytest.mark.parametrize("command", [["poll", "--once"], ["run"]])
def test_a_bad_shard_is_a_usage_error_that_says_why(command: list[str], text: str, message: str) -> None:
    result = CliRunner().invoke(main, [*command, "--shard", text])
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == f"Error: Invalid value for '--shard': {message}"


@pytest.mark.parametrize(("text", "shard"), [("1/1", Shard(1, 1)), ("3/3", Shard(3, 3)), (" 2/3 ", Shard(2, 3)),
                                             ("07/10", Shard(7, 10))])
def test_good_shards_parse(text: str, shard: Shard) -> None:
    assert Shard.parse(text) == shard


def test_the_hash_is_fixed_not_pythons_per_process_hash() -> None:
    # pinned: a change here re-shards every site; the 3-process test below also runs with different PYTHONHASHSEEDs
    assert {d: shard_of(d, 3) for d in ("ups-a", "ups-b", "crac-1", "pdu-A01-a", "probe-B05", "door-1")} == {
        "ups-a": 2, "ups-b": 2, "crac-1": 2, "pdu-A01-a": 1, "probe-B05": 2, "door-1": 1}


@given(names, st.integers(1, 20))
def test_the_shares_are_disjoint_and_together_complete(devices: set[str], count: int) -> None:
    shares = [Shard(i, count).share(sorted(devices)) for i in range(1, count + 1)]
    assert sorted(d for share in shares for d in share) == sorted(devices)  # every device once


@given(names, st.integers(1, 20))
def test_a_new_poller_takes_devices_only_for_itself(devices: set[str], count: int) -> None:
    # rendezvous hashing: going from N to N+1 pollers, a device stays where it was or moves to the new one
    for device in devices:
        assert shard_of(device, count + 1) in (shard_of(device, count), count + 1)


def test_the_reference_room_splits_into_three_non_empty_shares() -> None:
    devices = load_inventory(REFERENCE_DIR).devices.values()
    assert [len(Shard(i, 3).select(devices)) for i in (1, 2, 3)] == [14, 12, 15]


@pytest.mark.slow
def test_three_pollers_together_poll_every_device_exactly_once(running_room: LabRunner, tmp_path: Path) -> None:
    inv = copy_reference(tmp_path, running_room.room.endpoints[0][1])
    procs = [
        subprocess.Popen([str(DCOPS), "poll", "--once", "--inventory", str(inv), "--shard", f"{i}/3",
                          "--timeout", "2", "--store", str(tmp_path / f"shard{i}.db")],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env={**os.environ, "PYTHONHASHSEED": str(i)})  # hash() differs in each; the shares must not
        for i in (1, 2, 3)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    polled = [set(Store(tmp_path / f"shard{i}.db").reports()) for i in (1, 2, 3)]
    everything = set(load_inventory(inv).devices)
    assert sum(len(s) for s in polled) == len(everything) == 41  # no device twice...
    assert set().union(*polled) == everything  # ...and none left out
    for i, (share, out) in enumerate(zip(polled, outputs, strict=True), start=1):
        assert share == {d.name for d in Shard(i, 3).select(load_inventory(inv).devices.values())}
        printed = {line.split()[0] for line in out.splitlines()[:-1]}
        assert printed == share
        assert f"{len(share)}/{len(share)} devices answered (shard {i}/3 of 41 devices), " in out.splitlines()[-1]
