"""Onboarding against real SSH servers on 127.0.0.1: our VRP/Comware simulator and fake-switches (IOS).

netmiko talks SSH to every switch, directly or inside our Ansible module run
by the real ansible-runner; nothing is mocked. Each test uses agencies of its
own, so the lab (started once for the module, on free ports) is shared; the
CLI test at the end audits every switch, so it also proves that no earlier
test left anything half-applied.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from conftest import missing
from dcops.cli import main
from dcops.secrets import Secret
from inventory.model import Extranet
from lab.extranet.testing import ExtranetLab, serve_lab
from playbooks import jobs
from playbooks.batch import SwitchRun
from playbooks.onboard import Context, onboard
from playbooks.state import connect

pytestmark = pytest.mark.slow
ENGINES = ["netmiko", "ansible"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExtranetLab]:
    yield from serve_lab(tmp_path_factory.mktemp("extranet"), missing)


@pytest.fixture
def x(lab: ExtranetLab) -> Extranet:
    return lab.extranet


@pytest.fixture
def ctx(lab: ExtranetLab, x: Extranet) -> Context:
    return Context(x, lab.state.parent / "extranet.db", workers=4, user="tester")


def configs(lab: ExtranetLab, *names: str) -> dict[str, str]:
    return {n: lab.running(n) for n in names}


def test_dry_run_shows_the_commands_and_changes_nothing(ctx: Context, lab: ExtranetLab) -> None:
    before = configs(lab, "acc-jz-1", "core-jz")
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
    by_ansible = onboard(ctx, ["jz-kjj"], dry_run=True, engine="ansible").outcomes["jz-kjj"]  # check mode
    assert [(r.switch, r.status, r.diff, r.commands, r.undo) for r in by_ansible.results] == \
        [(r.switch, r.status, r.diff, r.commands, r.undo) for r in o.results]
    assert configs(lab, *before) == before
    assert connect(ctx.db_path).execute("SELECT count(*) FROM vlan_alloc").fetchone() == (0,)


@pytest.mark.parametrize(("engine", "code", "switches"), [
    ("netmiko", "jz-gxj", {"acc-jz-1": "huawei_vrp", "core-jz": "huawei_vrp"}),
    ("netmiko", "lx-fgj", {"acc-lx": "huawei_vrp", "agg-lx": "hp_comware"}),
    ("netmiko", "qs-fgj", {"acc-qs": "hp_comware", "agg-qs": "huawei_vrp"}),
    ("netmiko", "sm-fgj", {"acc-sm": "cisco_ios", "agg-sm": "huawei_vrp"}),
    ("ansible", "jz-sfj", {"acc-jz-1": "huawei_vrp", "core-jz": "huawei_vrp"}),
    ("ansible", "lx-jyj", {"acc-lx": "huawei_vrp", "agg-lx": "hp_comware"}),
    ("ansible", "qs-jyj", {"acc-qs": "hp_comware", "agg-qs": "huawei_vrp"}),
    ("ansible", "sm-jyj", {"acc-sm": "cisco_ios", "agg-sm": "huawei_vrp"}),
])
def test_onboard_verifies_and_a_rerun_changes_nothing(ctx: Context, x: Extranet, engine: str, code: str,
                                                       switches: dict[str, str]) -> None:
    o = onboard(ctx, [code], engine=engine).outcomes[code]
    assert o.status == "changed", o.reason
    assert {r.switch: x.switches[r.switch].vendor for r in o.results} == switches
    assert all(r.status == "ok" and r.changed for r in o.results)
    for again_by in ENGINES:  # what one engine did, both see as done
        again = onboard(ctx, [code], engine=again_by)
        assert (again.outcomes[code].status, again.changes) == ("unchanged", 0)
    db = connect(ctx.db_path)
    audit = db.execute("SELECT user, action, switch, result FROM audit WHERE agency = ?", (code,)).fetchall()
    assert sorted(audit) == sorted(("tester", "onboard", sw, "ok") for sw in switches)
    assert {r[0] for r in db.execute("SELECT switch FROM backups")} >= set(switches)


@pytest.mark.parametrize(("engine", "code", "other"), [("netmiko", "jz-jgj", "qs-gaj"),
                                                       ("ansible", "jz-wb", "qs-mzj")])
def test_a_rejected_command_rolls_every_switch_back(ctx: Context, lab: ExtranetLab, engine: str, code: str,
                                                    other: str) -> None:
    assert lab.sims is not None
    before = configs(lab, "acc-jz-2", "core-jz")  # code is on acc-jz-2 (H3C) behind core-jz (VRP)
    lab.sims.reject("core-jz", r"^traffic-filter")
    try:
        report = onboard(ctx, [code, other], engine=engine)
    finally:
        lab.sims.reject("core-jz", None)
    o = report.outcomes[code]
    assert o.status == "rolled-back"
    results = {r.switch: r for r in o.results}
    assert results["core-jz"].error == ("core-jz: rejected a command: "
                                        "Error: Unrecognized command found at '^' position.")
    assert results["acc-jz-2"].status == "rolled-back"
    assert results["acc-jz-2"].error.startswith("rolled back because core-jz: rejected a command")
    assert [(r.switch, r.status) for r in o.rollback] == [("acc-jz-2", "ok")]
    assert configs(lab, *before) == before  # nothing half-applied, anywhere
    assert report.outcomes[other].status == "changed"  # the independent rest of the batch carried on
    job = jobs.recent(ctx.db(), 1)[0]  # what the panel shows of this run
    assert (job.status, job.engine, job.done, job.units) == ("failed", engine, 4, 4)
    assert json.loads(job.summary) == {"agencies": 2, "ok": 1, "failed": 1, "interrupted": 0, "changes": 7}
    assert {s.switch: (s.status, json.loads(s.results), s.error) for s in job.switches} == {
        "acc-jz-2": ("done", {"rolled-back": 1}, ""),
        "core-jz": ("failed", {"rolled-back": 1}, f"{code}: {results['core-jz'].error}"),
        "acc-qs": ("done", {"ok": 1}, ""), "agg-qs": ("done", {"ok": 1}, "")}


def test_a_job_shows_each_switch_as_it_finishes(ctx: Context) -> None:
    seen: list[tuple[str, str, dict[str, str]]] = []

    def look(run: SwitchRun) -> None:  # while the run goes on, as the panel would read it
        job = jobs.recent(ctx.db(), 1)[0]
        seen.append((run.switch, job.status, {s.switch: s.status for s in job.switches}))

    ctx.workers, ctx.on_switch = 1, look
    onboard(ctx, ["yt-mzj"])
    assert seen == [("acc-yt", "running", {"acc-yt": "done", "agg-yt": "waiting"}),
                    ("agg-yt", "running", {"acc-yt": "done", "agg-yt": "done"})]
    job = jobs.recent(ctx.db(), 1)[0]
    assert (job.status, job.action, job.user, job.dry_run, job.percent) == ("done", "onboard", "tester", False, 100)
    assert [(s.switch, json.loads(s.results)) for s in job.switches] == [("acc-yt", {"ok": 1}), ("agg-yt", {"ok": 1})]


def test_an_unreachable_switch_fails_its_agencies_and_the_rest_carries_on(ctx: Context, lab: ExtranetLab) -> None:
    assert lab.sims is not None
    before = lab.running("acc-yt")
    lab.sims.down("agg-yt")
    try:
        report = onboard(ctx, ["yt-fgj", "ty-fgj"])
    finally:
        lab.sims.up("agg-yt")
    failed, fine = report.outcomes["yt-fgj"], report.outcomes["ty-fgj"]
    assert failed.status == "rolled-back"
    assert {r.switch: r.status for r in failed.results} == {"acc-yt": "rolled-back", "agg-yt": "failed"}
    assert failed.reason == f"agg-yt: unreachable at {ctx.extranet.switches['agg-yt'].address} " \
                            f"(NetmikoTimeoutException)"
    assert lab.running("acc-yt") == before
    assert fine.status == "changed"


@pytest.mark.parametrize(("engine", "codes", "other"), [("netmiko", ["ty-gaj", "ty-mzj"], "lx-gaj"),
                                                        ("ansible", ["ty-czj", "ty-rsj"], "lx-mzj")])
def test_a_switch_lost_in_the_middle_of_its_batch_is_rolled_back_when_it_answers_again(
        ctx: Context, lab: ExtranetLab, engine: str, codes: list[str], other: str) -> None:
    """agg-ty takes the first agency whole and the second one's ACL and VLAN, then the session drops (a link
    flap): neither is verified, so both are undone everywhere, on agg-ty too, once it answers again."""
    assert lab.sims is not None
    before = configs(lab, "acc-ty", "agg-ty")
    lab.sims.drop("agg-ty", rf"^description extranet {codes[1]}$")
    try:
        report = onboard(ctx, [*codes, other], engine=engine)
    finally:
        lab.sims.drop("agg-ty", None)
    for code in codes:
        o = report.outcomes[code]
        assert o.status == "rolled-back", (code, o.reason)
        assert o.reason == "agg-ty: connection lost (the switch closed the session)"
        assert {r.switch: r.status for r in o.results} == {"acc-ty": "rolled-back", "agg-ty": "failed"}
        assert {r.switch: r.status for r in o.rollback} == {"acc-ty": "ok", "agg-ty": "ok"}
    assert configs(lab, *before) == before  # the half-applied second agency is gone from agg-ty as well
    assert report.outcomes[other].status == "changed"


@pytest.mark.parametrize(("engine", "code", "other"), [("netmiko", "bs-fgj", "yt-jyj"),
                                                       ("ansible", "bs-jyj", "yt-gaj")])
def test_a_wrong_password_is_a_clear_error(ctx: Context, x: Extranet, lab: ExtranetLab, engine: str,
                                           code: str, other: str) -> None:
    before = lab.running("acc-bs")  # IOS: fake-switches, read over SSH
    bad = dataclasses.replace(x.switches["agg-bs"], password=Secret("switch-aggregation", "wrong"))
    ctx.extranet = dataclasses.replace(x, switches={**x.switches, "agg-bs": bad})
    report = onboard(ctx, [code, other], engine=engine)
    o = report.outcomes[code]
    assert o.reason == "agg-bs: authentication failed (wrong username or password?)"
    assert {r.switch: r.status for r in o.results} == {"acc-bs": "rolled-back", "agg-bs": "failed"}
    assert lab.running("acc-bs") == before  # `switchport mode access` went too
    assert report.outcomes[other].status == "changed"


def test_cli_onboard_and_audit(ctx: Context, lab: ExtranetLab) -> None:
    runner = CliRunner()
    args = ["--state", str(ctx.db_path), "--inventory", str(lab.inventory)]
    result = runner.invoke(main, ["extranet", "onboard", "nope", *args])
    assert (result.exit_code, result.output) == (1, "Error: unknown agency 'nope'\n")
    result = runner.invoke(main, ["extranet", "onboard", *args])
    assert result.exit_code == 2 and "give one AGENCY or --all" in result.output
    result = runner.invoke(main, ["extranet", "onboard", "ty-jyj", "--dry-run", *args])
    assert result.exit_code == 0, result.output
    assert "      port default vlan" in result.output and "would make 7 changes" in result.output
    result = runner.invoke(main, ["extranet", "onboard", "ty-jyj", "--engine", "ansible", *args])
    assert result.exit_code == 0 and "ty-jyj: changed" in result.output, result.output
    result = runner.invoke(main, ["extranet", "audit", *args])
    assert (result.exit_code, result.output.splitlines()[-1]) == (0, "0 difference(s) on 0 switch(es); "
                                                                     "0 switch(es) unreadable"), result.output
    assert lab.sims is not None
    device = lab.sims.switches["acc-ty"].device
    port = device.ports["GigabitEthernet0/0/3"]  # ty-jyj's port: someone moves it, and adds a VLAN
    vid = port.pvid
    port.pvid = 300
    device.vlans[777] = {"description": "test"}
    try:
        result = runner.invoke(main, ["extranet", "audit", *args])
    finally:
        port.pvid = vid
        del device.vlans[777]
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"acc-ty: ty-jyj: wrong access GigabitEthernet0/0/3 (vid: 300 -> {vid})",
        "acc-ty: extra vlan 777 (no agency owns it)",
        "2 difference(s) on 1 switch(es); 0 switch(es) unreadable"]
