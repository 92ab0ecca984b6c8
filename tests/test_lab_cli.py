"""`dcops lab up|status|down`: a background lab that starts, answers and stops without leftovers."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from dcops.cli import main
from lab import free_udp_port
from lab.cli import _group_alive
from lab.snmpsim import snmp_get


def test_lab_up_serves_the_room_and_down_stops_every_process(tmp_path: Path) -> None:
    runner = CliRunner()
    port = free_udp_port()
    work = str(tmp_path / "lab")
    result = runner.invoke(main, ["lab", "up", "--workdir", work, "--port", str(port)])
    extranet = tmp_path / "lab" / "extranet"
    try:
        assert result.exit_code == 0, result.output
        assert f"serving 41 devices on 127.0.0.1:{port}" in result.output
        assert "extranet: 16 switches over SSH" in result.output
        switch_pids = [int(p.read_text()) for p in extranet.glob("*.pid")]
        assert len(switch_pids) == 2
        pid = int((tmp_path / "lab" / "lab.pid").read_text())
        answer = snmp_get("127.0.0.1", port, "lab-ups-a", ["1.3.6.1.2.1.33.1.4.1.0"])
        assert answer["1.3.6.1.2.1.33.1.4.1.0"] == 3  # upsOutputSource normal
        again = runner.invoke(main, ["lab", "up", "--workdir", work])
        assert again.exit_code == 1 and f"already running (pid {pid})" in again.output
        assert runner.invoke(main, ["lab", "status", "--workdir", work]).exit_code == 0
    finally:
        down = runner.invoke(main, ["lab", "down", "--workdir", work])
    assert down.exit_code == 0
    assert down.output == f"extranet vrp-comware down\nextranet ios down\nlab down (pid {pid})\n"
    assert not any(_group_alive(p) for p in switch_pids)
    assert not _group_alive(pid), "a process of the lab is still alive"
    status = runner.invoke(main, ["lab", "status", "--workdir", work])
    assert status.exit_code == 1 and status.output == "the lab is not running\n"


def test_lab_up_reports_why_the_lab_could_not_start(tmp_path: Path) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["lab", "up", "--no-extranet", "--workdir", str(tmp_path),
                                           "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot serve 127.0.0.1:{port}: Address already in use" in result.output
    assert not (tmp_path / "lab.pid").exists()
