"""The Ansible engine through the real ansible-runner and ansible-playbook, against the lab's SSH switches.

Its promise: the same plan → apply → verify → rollback as the netmiko engine
(the module runs the same batch code; test_extranet_onboard.py runs every
onboarding case through both engines), results per switch with changed, diff
and failed, check mode as the dry run, passwords by reference only, and a
stop request honoured by the module between units.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import missing
from inventory.model import Extranet
from lab.extranet.testing import ExtranetLab, serve_lab
from playbooks.ansible_engine import PLAYBOOK, PLAYBOOK_DIR, ansible_environment, host_vars, password_variable
from playbooks.batch import Unit
from playbooks.facts import fact
from playbooks.onboard import Context, onboard

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExtranetLab]:
    yield from serve_lab(tmp_path_factory.mktemp("ansible"), missing)


@pytest.fixture
def ctx(lab: ExtranetLab) -> Context:
    return Context(lab.extranet, lab.state.parent / "extranet.db", workers=4, user="tester")


@pytest.fixture
def x(lab: ExtranetLab) -> Extranet:
    return lab.extranet


def test_a_stop_request_leaves_every_agency_on_all_its_switches_or_on_none(ctx: Context, lab: ExtranetLab) -> None:
    """The CLI sets ctx.stop on SIGINT; here the first switch to finish sets it."""
    codes = ["ty-jyj", "ty-gaj", "yt-jyj", "yt-gaj", "jz-zjj", "jz-jtj"]
    ctx.workers = 1
    ctx.on_switch = lambda run: ctx.stop.set()
    report = onboard(ctx, codes, engine="ansible")
    statuses = {c: o.status for c, o in report.outcomes.items()}
    assert set(statuses.values()) <= {"changed", "interrupted"} and "interrupted" in statuses.values(), statuses
    for o in report.interrupted:
        assert o.reason == "interrupted before this unit was applied" or o.reason.startswith("rolled back")
        assert all(r.status in ("interrupted", "rolled-back") for r in o.results)
    ctx.stop.clear()
    ctx.on_switch = lambda run: None
    rest = onboard(ctx, codes, engine="ansible")
    assert {c: o.status for c, o in rest.outcomes.items()} == {
        c: "unchanged" if s == "changed" else "changed" for c, s in statuses.items()}


def test_the_module_reports_changed_diff_and_failed_per_host(ctx: Context, x: Extranet, tmp_path: Path) -> None:
    """What an Ansible user sees: one result per switch, in check mode nothing is applied."""
    import ansible_runner

    units = {"acc-ty": [Unit("ty-wjj", [fact("vlan", (450,), name="ty-wjj", description="extranet ty-wjj")])],
             "agg-ty": [Unit("ty-wjj", [fact("vlan", (1,), name="", description="")])]}
    hosts = {n: host_vars(x, n, u) for n, u in units.items()}
    hosts["agg-ty"]["dcops_switch"]["port"] = 1  # nothing listens there
    env = ansible_environment(tmp_path)
    env.update({password_variable(n): x.switches[n].password.reveal() for n in units})
    inventory = {"all": {"hosts": hosts, "vars": {"ansible_connection": "local",
                                                  "ansible_python_interpreter": sys.executable,
                                                  "dcops_state": str(tmp_path / "state.db"),
                                                  "dcops_stop_file": str(tmp_path / "stop")}}}
    run = ansible_runner.run(private_data_dir=str(tmp_path), project_dir=str(PLAYBOOK_DIR), playbook=PLAYBOOK,
                             inventory=inventory, envvars=env, cmdline="--check --diff", quiet=True)
    results = {e["event_data"]["host"]: (e["event"], e["event_data"]["res"]) for e in run.events
               if e["event"] in ("runner_on_ok", "runner_on_failed")}
    event, res = results["acc-ty"]
    assert (event, res["changed"]) == ("runner_on_ok", True)  # Ansible says failed by the event's kind
    assert res["diff"] == {"prepared": "ty-wjj: + vlan 450 description=extranet ty-wjj name=ty-wjj\n"}
    assert res["msg"] == "1 unit(s) ok"
    event, res = results["agg-ty"]
    assert (event, res["changed"]) == ("runner_on_failed", False)
    assert res["msg"] == "agg-ty: unreachable at 127.0.0.1:1 (NetmikoTimeoutException)"
    assert run.rc == 2 and run.status == "failed"
    events = json.dumps(list(run.events))
    assert "password_env" in events and x.switches["acc-ty"].password.reveal() not in events  # by reference only
    assert "ty-wjj" not in running_by_ssh(ctx, "acc-ty")


def running_by_ssh(ctx: Context, name: str) -> str:
    from playbooks.driver import DRIVERS

    driver = DRIVERS["netmiko"](ctx.extranet.switches[name])
    try:
        return driver.running()
    finally:
        driver.close()
