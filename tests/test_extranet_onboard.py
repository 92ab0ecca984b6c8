"""Onboarding against real SSH servers on 127.0.0.1: our VRP/Comware simulator and fake-switches (IOS).

netmiko talks SSH to every switch; nothing is mocked. Each test uses agencies
of its own, so the lab (started once for the module) is shared.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import missing
from dcops.cli import main
from inventory.model import Extranet
from lab.extranet.lab import load_extranet, served_switches
from lab.extranet.sshd import SwitchLab
from playbooks.onboard import Context, onboard
from playbooks.state import connect

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("extranet")


@pytest.fixture(scope="module")
def lab(workdir: Path) -> Iterator[SwitchLab]:
    try:
        import fake_switches  # noqa: F401
    except ImportError:
        missing("fake-switches (pip install --no-deps fake-switches==1.5.0)")
    sims = SwitchLab(served_switches(None, workdir / "state", ("huawei_vrp", "hp_comware"))).start()
    ios = subprocess.Popen([sys.executable, "-m", "lab.extranet.cisco", "--state", str(workdir / "state")],
                           stdout=subprocess.PIPE, text=True)
    assert ios.stdout is not None and ios.stdout.readline().startswith("serving 3 switches")
    yield sims
    ios.terminate()
    ios.wait(10)
    sims.stop()


@pytest.fixture(scope="module")
def x() -> Extranet:
    return load_extranet(None)


@pytest.fixture
def ctx(lab: SwitchLab, x: Extranet, workdir: Path) -> Context:
    return Context(x, workdir / "extranet.db", workers=4, user="tester")


def running(lab: SwitchLab, name: str) -> str:
    return lab.switches[name].device.running()


def test_dry_run_shows_the_commands_and_changes_nothing(ctx: Context, lab: SwitchLab) -> None:
    before = {n: running(lab, n) for n in ("acc-jz-1", "core-jz")}
    report = onboard(ctx, ["jz-kjj"], dry_run=True)
    o = report.outcomes["jz-kjj"]
    assert (o.allocation and o.allocation.vid, o.status) == (113, "changed")
    access = next(r for r in o.results if r.switch == "acc-jz-1")
    assert access.diff == ["+ vlan 113 description=extranet jz-kjj name=jz-kjj",
                           "+ access GigabitEthernet0/0/4 vid=113", "+ trunk XGigabitEthernet0/0/1 113"]
    assert access.commands == ["vlan 113", " name jz-kjj", " description extranet jz-kjj", " quit",
                               "interface GigabitEthernet0/0/4", " port link-type access", " port default vlan 113",
                               " quit", "interface XGigabitEthernet0/0/1", " port link-type trunk",
                               " port trunk allow-pass vlan 113", " quit"]
    assert {n: running(lab, n) for n in before} == before
    assert connect(ctx.db_path).execute("SELECT count(*) FROM vlan_alloc").fetchone() == (0,)


@pytest.mark.parametrize(("code", "switches"), [
    ("jz-gxj", {"acc-jz-1": "huawei_vrp", "core-jz": "huawei_vrp"}),
    ("lx-fgj", {"acc-lx": "huawei_vrp", "agg-lx": "hp_comware"}),
    ("qs-fgj", {"acc-qs": "hp_comware", "agg-qs": "huawei_vrp"}),
    ("sm-fgj", {"acc-sm": "cisco_ios", "agg-sm": "huawei_vrp"}),
])
def test_onboard_verifies_and_a_rerun_changes_nothing(ctx: Context, x: Extranet, code: str,
                                                       switches: dict[str, str]) -> None:
    report = onboard(ctx, [code])
    o = report.outcomes[code]
    assert o.status == "changed", o.reason
    assert {r.switch: x.switches[r.switch].vendor for r in o.results} == switches
    assert all(r.status == "ok" and r.changed for r in o.results)
    again = onboard(ctx, [code])
    assert (again.outcomes[code].status, again.changes) == ("unchanged", 0)
    db = connect(ctx.db_path)
    audit = db.execute("SELECT user, action, switch, result FROM audit WHERE agency = ?", (code,)).fetchall()
    assert sorted(audit) == sorted(("tester", "onboard", sw, "ok") for sw in switches)
    assert {r[0] for r in db.execute("SELECT switch FROM backups")} >= set(switches)


def test_a_rejected_command_rolls_every_switch_back(ctx: Context, lab: SwitchLab) -> None:
    before = {n: running(lab, n) for n in ("acc-jz-2", "core-jz")}
    lab.reject("core-jz", r"^traffic-filter")
    try:
        report = onboard(ctx, ["jz-jgj"])  # on acc-jz-2 (H3C) behind core-jz
    finally:
        lab.reject("core-jz", None)
    o = report.outcomes["jz-jgj"]
    assert o.status == "rolled-back"
    results = {r.switch: r for r in o.results}
    assert results["core-jz"].error == ("core-jz: rejected a command: "
                                        "Error: Unrecognized command found at '^' position.")
    assert results["acc-jz-2"].status == "rolled-back"
    assert results["acc-jz-2"].error.startswith("rolled back because core-jz: rejected a command")
    assert {n: running(lab, n) for n in before} == before  # nothing half-applied, anywhere


def test_an_unreachable_switch_fails_its_agencies_and_the_rest_carries_on(ctx: Context, lab: SwitchLab) -> None:
    before = running(lab, "acc-yt")
    lab.down("agg-yt")
    try:
        report = onboard(ctx, ["yt-fgj", "ty-fgj"])
    finally:
        lab.up("agg-yt")
    failed, fine = report.outcomes["yt-fgj"], report.outcomes["ty-fgj"]
    assert failed.status == "rolled-back"
    assert {r.switch: r.status for r in failed.results} == {"acc-yt": "rolled-back", "agg-yt": "failed"}
    assert failed.reason == "agg-yt: unreachable at 127.0.0.1:12011 (NetmikoTimeoutException)"
    assert running(lab, "acc-yt") == before
    assert fine.status == "changed"


def test_a_wrong_password_is_a_clear_error(ctx: Context, x: Extranet, lab: SwitchLab) -> None:
    from dcops.secrets import Secret

    bad = dataclasses.replace(x.switches["agg-bs"], password=Secret("switch-aggregation", "wrong"))
    ctx.extranet = dataclasses.replace(x, switches={**x.switches, "agg-bs": bad})
    report = onboard(ctx, ["bs-fgj"])
    o = report.outcomes["bs-fgj"]
    assert o.reason == "agg-bs: authentication failed (wrong username or password?)"
    assert {r.switch: r.status for r in o.results} == {"acc-bs": "rolled-back", "agg-bs": "failed"}


def test_cli_onboard_and_audit(ctx: Context, lab: SwitchLab, workdir: Path) -> None:
    runner = CliRunner()
    args = ["--state", str(ctx.db_path)]
    result = runner.invoke(main, ["extranet", "onboard", "nope", *args])
    assert (result.exit_code, result.output) == (1, "Error: unknown agency 'nope'\n")
    result = runner.invoke(main, ["extranet", "onboard", *args])
    assert result.exit_code == 2 and "give one AGENCY or --all" in result.output
    result = runner.invoke(main, ["extranet", "onboard", "ty-jyj", "--dry-run", *args])
    assert result.exit_code == 0, result.output
    assert "      port default vlan" in result.output and "would make 7 changes" in result.output
    result = runner.invoke(main, ["extranet", "onboard", "ty-jyj", *args])
    assert result.exit_code == 0 and "ty-jyj: changed" in result.output
    result = runner.invoke(main, ["extranet", "audit", *args])
    assert result.exit_code == 0, result.output
    port = lab.switches["acc-ty"].device.ports["GigabitEthernet0/0/3"]  # ty-jyj's port: someone moves it
    port.pvid = 300
    result = runner.invoke(main, ["extranet", "audit", *args])
    assert result.exit_code == 1
    assert "acc-ty: ty-jyj: wrong access GigabitEthernet0/0/3 (vid: 300 -> 111)" in result.output
    port.pvid = 111
