"""`dcops alerts ...` and `dcops lab scenario` at the command line: exit codes and exact messages."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from alerts.state import AlertStore
from dcops.cli import main


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_check_the_reference_rules() -> None:
    assert run("alerts", "check") == (0, "29 rules, 1 channels, 4 people, 2 escalation levels: valid\n")


def test_silences_from_the_command_line(tmp_path: Path) -> None:
    db = str(tmp_path / "dcops.db")
    code, out = run("alerts", "silence", "add", "-m", "rack~A01", "--author", "王伟", "--reason", "维保", "--store", db)
    assert code == 2
    assert out.splitlines()[-1] == ("Error: Invalid value for '--match' / '-m': bad matcher 'rack~A01': expected "
                                    "label=value, label!=value, label=~regex or label!~regex")
    code, out = run("alerts", "silence", "add", "-m", "rack=A01", "--duration", "soon", "--author", "王伟",
                    "--reason", "维保", "--store", db)
    assert (code, out.splitlines()[-1]) == (2, "Error: Invalid value for '--duration': 'soon' is not a duration "
                                               "(like 30m, 2h, 1d)")
    code, out = run("alerts", "silence", "add", "-m", "rack=A01", "-m", 'alertname=~"inlet-.*"', "--duration", "1h",
                    "--author", "王伟", "--reason", "A01 空调维保", "--store", db)
    assert code == 0 and out.startswith("silence 1: rack=A01, alertname=~\"inlet-.*\" until ")
    code, out = run("alerts", "silence", "list", "--store", db)
    assert code == 0 and out.startswith('1\track=A01, alertname=~"inlet-.*"\t王伟\t')
    assert out.endswith("\tA01 空调维保\n")
    assert run("alerts", "silence", "expire", "1", "--store", db) == (0, "silence 1 expired\n")
    assert run("alerts", "silence", "expire", "1", "--store", db) == (1, "Error: no active silence 1\n")
    assert run("alerts", "silence", "list", "--store", db) == (0, "no active silence\n")


def test_acknowledge_from_the_command_line(tmp_path: Path) -> None:
    db = tmp_path / "dcops.db"
    store = AlertStore(db)
    inc = store.new_incident("room=room-1,category=safety", {"room": "room-1", "category": "safety"}, 1.0)
    assert run("alerts", "ack", "99", "--by", "王伟", "--store", str(db)) == (1, "Error: no incident 99\n")
    code, out = run("alerts", "ack", str(inc.id), "--by", "王伟", "--note", "已到现场", "--wait", "0",
                    "--store", str(db))
    assert (code, out) == (0, f"acknowledgement of incident {inc.id} recorded; the engine applies it when it runs\n")
    assert store.pending_commands() == [(1, "ack", {"by": "王伟", "incident": inc.id, "note": "已到现场"})]
    code, out = run("alerts", "list", "--store", str(db))
    assert (code, out) == (0, f"#{inc.id} room=room-1,category=safety - (not notified yet, not acknowledged) \n")
    assert run("alerts", "ack", "0", "--by", "x", "--store", str(db))[0] == 2


def test_a_scenario_needs_a_known_name_and_a_real_start() -> None:
    code, out = run("lab", "scenario", "earthquake")
    assert code == 2 and "Invalid value for '{agent-down|crac-failure|door-forced|utility-outage|water-leak}'" in out
    code, out = run("lab", "scenario", "door-forced", "--start", "tomorrow")
    assert (code, out.splitlines()[-1]) == (2, "Error: Invalid value for '--start': 'tomorrow' is not a date and "
                                               "time like 2026-11-25T02:00")
