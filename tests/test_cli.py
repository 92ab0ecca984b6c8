"""The `dcops` command: exit codes and messages at the boundary (click's CliRunner)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import copy_reference
from dcops.cli import main
from inventory import REFERENCE_DIR
from lab import LabRunner


def test_inventory_check_accepts_the_reference_site() -> None:
    result = CliRunner().invoke(main, ["inventory", "check", str(REFERENCE_DIR)])
    assert result.exit_code == 0, result.output
    assert "valid — site city-dc, 1 room(s), 24 racks (11 in use), 22 power feeds, 41 devices" in result.output


def test_inventory_check_lists_every_error_and_exits_2(tmp_path: Path) -> None:
    inv = copy_reference(tmp_path)
    racks = inv / "racks.yml"
    racks.write_text(racks.read_text(encoding="utf-8").replace("u_height: 42", "u_height: 4.5", 2),
                     encoding="utf-8")
    result = CliRunner().invoke(main, ["inventory", "check", str(inv)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[0] == f"{racks}:7: racks[0].u_height: expected an integer, got a number (4.5)"
    assert lines[1] == f"{racks}:14: racks[1].u_height: expected an integer, got a number (4.5)"
    assert lines[-1] == f"{len(lines) - 1} error(s) in {inv}"


def test_inventory_check_of_a_missing_directory_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["inventory", "check", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "no such directory" in result.output


def test_poll_without_once_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["poll"])
    assert result.exit_code == 2
    assert "Missing option '--once'" in result.output


def test_poll_once_prints_a_line_per_device_and_a_summary(running_room: LabRunner, tmp_path: Path) -> None:
    port = running_room.room.endpoints[0][1]
    inv = copy_reference(tmp_path, port)
    result = CliRunner().invoke(main, ["poll", "--once", "--inventory", str(inv), "--timeout", "1",
                                       "--store", str(tmp_path / "s.db")])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 42
    assert lines[0].split()[:2] == ["crac-1", "up"] and lines[0].endswith("apc-inrow")
    assert lines[-1].startswith("41/41 devices answered, ")


def test_poll_once_exits_1_and_names_the_device_that_did_not_answer(
    running_room: LabRunner, tmp_path: Path
) -> None:
    port = running_room.room.endpoints[0][1]
    inv = copy_reference(tmp_path, port)
    devices = inv / "devices.yml"
    text = devices.read_text(encoding="utf-8")
    devices.write_text(text.replace(f"- name: smoke-1\n  class: smoke\n  address: 127.0.0.1:{port}",
                                    "- name: smoke-1\n  class: smoke\n  address: 127.0.0.1:9"), encoding="utf-8")
    # generous for the 40 that answer (other tests may load the machine); port 9 never answers
    result = CliRunner().invoke(main, ["poll", "--once", "--inventory", str(inv), "--timeout", "2",
                                       "--retries", "0"])
    assert result.exit_code == 1, result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("smoke-1")]
    assert "DOWN" in line and "No SNMP response received before timeout" in line
    assert "40/41 devices answered" in result.output


@pytest.mark.parametrize("args", [["poll", "--once", "--timeout", "0"], ["poll", "--once", "--retries", "-1"],
                                  ["demo", "--port", "70000"]])
def test_out_of_range_options_are_usage_errors(args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "Invalid value" in result.output


@pytest.mark.parametrize("listen", ["8080", "127.0.0.1:http", "127.0.0.1:70000"])
def test_run_refuses_a_bad_listen_address(listen: str) -> None:
    result = CliRunner().invoke(main, ["run", "--listen", listen])
    assert result.exit_code == 2
    assert f"Invalid value for --listen: {listen!r} is not HOST:PORT" in result.output
