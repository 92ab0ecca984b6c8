"""`dcops extranet onboard --all` as an admin runs it: a real process, interrupted, killed, run again.

The lab serves a trimmed city (the first agencies of every access switch, so
every switch takes part) on free ports. What it proves: progress per switch
and a summary; Ctrl-C (SIGINT) stops at a unit boundary and leaves every
agency on all its switches or on none; a SIGKILL leaves what it leaves, and
the next run finishes the rest; then a run changes nothing and says 0
changes, and the audit finds no drift.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import missing
from lab.extranet.testing import ExtranetLab, agency_presence, serve_lab
from playbooks.state import connect

pytestmark = pytest.mark.slow
PER_ACCESS_SWITCH = 4
SUMMARY = re.compile(r"^(\d+) agencies: (\d+) ok, (\d+) failed(?:, (\d+) interrupted)?; "
                     r"made (\d+) changes in [\d.]+ s$", re.M)


def _first_of_each_switch() -> Any:
    seen: dict[str, int] = {}

    def keep(agency: dict[str, Any]) -> bool:
        if agency["status"] != "planned":
            return False
        seen[agency["switch"]] = seen.get(agency["switch"], 0) + 1
        return seen[agency["switch"]] <= PER_ACCESS_SWITCH

    return keep


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExtranetLab]:
    yield from serve_lab(tmp_path_factory.mktemp("bulk"), missing, keep=_first_of_each_switch())


def dcops(lab: ExtranetLab, *args: str) -> list[str]:
    return [sys.executable, "-m", "dcops.cli", "extranet", *args, "--inventory", str(lab.inventory),
            "--state", str(lab.state.parent / "extranet.db"), "--workers", "2"]


def interrupted(lab: ExtranetLab, sig: signal.Signals) -> tuple[int, str, str]:
    """Run --all, send `sig` once the first switch has finished its batch; (exit code, stdout, stderr)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(dcops(lab, "onboard", "--all"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    assert proc.stderr is not None and proc.stdout is not None
    err = []
    for line in proc.stderr:
        err.append(line)
        if line.startswith("[1/"):
            proc.send_signal(sig)
            break
    rest_out, rest_err = proc.communicate(timeout=300)
    return proc.returncode, rest_out, "".join(err) + rest_err


def summary(out: str) -> tuple[int, ...]:
    m = SUMMARY.search(out)
    assert m, out
    return tuple(int(g or 0) for g in m.groups())


def test_onboard_all_is_resumable_and_idempotent(lab: ExtranetLab) -> None:
    codes = [a.code for a in lab.extranet.agencies.values() if a.planned]
    switches = len(lab.extranet.switches)
    assert (len(codes), switches) == (9 * PER_ACCESS_SWITCH, 16)
    db = lab.state.parent / "extranet.db"

    # Ctrl-C: the units at hand finish, nothing new starts, incomplete agencies are rolled back
    code, out, err = interrupted(lab, signal.SIGINT)
    assert code == 130, (out, err)
    assert "SIGINT: finishing the units at hand, then rolling back agencies left incomplete" in err
    total, ok, failed, stopped, changes = summary(out)
    assert (total, failed, ok + stopped) == (len(codes), 0, len(codes)) and stopped > 0 and ok > 0, out
    assert out.splitlines()[-1] == (f"interrupted: {stopped} agencies not done (nothing of them is left on any "
                                    f"switch); run the same command again to finish")
    presence = agency_presence(lab, db, codes)
    live = {r[0] for r in connect(db).execute("SELECT agency FROM onboarded")}
    assert {c for c, p in presence.items() if p == "all"} == live and len(live) == ok
    assert {c for c, p in presence.items() if p == "none"} == set(codes) - live  # nothing half-applied

    # SIGKILL: no chance to clean up; the next run diffs every switch and finishes what is left
    code, out, err = interrupted(lab, signal.SIGKILL)
    assert code == -signal.SIGKILL

    done = subprocess.run(dcops(lab, "onboard", "--all"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.stdout, done.stderr)
    total, ok, failed, stopped, changes = summary(done.stdout)
    assert (total, ok, failed, stopped) == (len(codes), len(codes), 0, 0) and changes > 0
    progress = done.stderr.splitlines()
    units = 2 * len(codes)  # each agency: its access switch and its gateway
    assert len(progress) == switches and progress[-1].startswith(f"[{switches}/{switches} switches, "
                                                                 f"{units}/{units} units] ")
    assert all(re.match(r"^\[\d+/16 switches, \d+/\d+ units\] [a-z0-9-]+: (\d+ (changed|ok|unchanged)(, )?)+ "
                        r"\([\d.]+ s\)$", line) for line in progress), progress
    assert set(agency_presence(lab, db, codes).values()) == {"all"}

    again = subprocess.run(dcops(lab, "onboard", "--all"), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0
    assert summary(again.stdout)[:3] + summary(again.stdout)[4:] == (len(codes), len(codes), 0, 0)
    assert "made 0 changes" in again.stdout

    audit = subprocess.run(dcops(lab, "audit"), capture_output=True, text=True, timeout=300)
    assert (audit.returncode, audit.stdout) == (0, "0 difference(s) on 0 switch(es); 0 switch(es) unreadable\n")
