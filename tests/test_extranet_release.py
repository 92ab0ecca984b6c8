"""Retiring an agency: its configuration leaves the switches through the same diff/apply/verify/rollback as
onboarding, then its vid and subnet go back to IPAM. Real SSH switches on 127.0.0.1, both engines."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import missing
from dcops.cli import main
from inventory.model import RETIRED, Extranet
from lab.extranet.testing import ExtranetLab, serve_lab
from playbooks.ipam import IPAM
from playbooks.onboard import Context, onboard, retire
from playbooks.state import connect

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExtranetLab]:
    yield from serve_lab(tmp_path_factory.mktemp("release"), missing)


@pytest.fixture
def ctx(lab: ExtranetLab) -> Context:
    return Context(lab.extranet, lab.state.parent / "extranet.db", workers=4, user="tester")


def retired(x: Extranet, code: str) -> Extranet:
    return dataclasses.replace(x, agencies={**x.agencies, code: dataclasses.replace(x.agencies[code],
                                                                                    status=RETIRED)})


def configs(lab: ExtranetLab, *names: str) -> dict[str, str]:
    return {n: lab.running(n) for n in names}


def audit_rows(ctx: Context, code: str) -> list[tuple[str, str, str]]:
    return connect(ctx.db_path).execute("SELECT action, switch, result FROM audit WHERE agency = ? AND "
                                        "action = 'release' ORDER BY id", (code,)).fetchall()


@pytest.mark.parametrize(("engine", "code", "switches"), [("netmiko", "sm-zjj", ("acc-sm", "agg-sm")),
                                                          ("ansible", "lx-zjj", ("acc-lx", "agg-lx"))])
def test_retiring_removes_exactly_what_onboarding_added(ctx: Context, lab: ExtranetLab, engine: str, code: str,
                                                        switches: tuple[str, str]) -> None:
    before = configs(lab, *switches)
    assert onboard(ctx, [code], engine=engine).outcomes[code].status == "changed"
    held = IPAM(ctx.db(), ctx.extranet).get(code)
    assert held is not None
    ctx.extranet = retired(ctx.extranet, code)
    o = retire(ctx, [code], engine=engine).outcomes[code]
    assert o.status == "changed", o.reason
    assert {r.switch for r in o.results if r.changed} == set(switches)
    assert all(line.startswith("- ") for r in o.results for line in r.diff)
    assert f"- vlan {held.vid}" in [" ".join(line.split()[:3]) for r in o.results for line in r.diff]
    assert configs(lab, *switches) == before  # exactly as it was before the agency came
    assert IPAM(ctx.db(), ctx.extranet).get(code) is None
    assert connect(ctx.db_path).execute("SELECT count(*) FROM onboarded WHERE agency = ?", (code,)).fetchone() == (0,)
    assert audit_rows(ctx, code) == [("release", switches[0], "ok"), ("release", switches[1], "ok"),
                                     ("release", "", "ok")]
    again = retire(ctx, [code], engine=engine).outcomes[code]
    assert (again.allocation, again.results, again.failed) == (None, [], False)


def test_a_port_that_now_carries_another_vlan_is_left_alone(ctx: Context, lab: ExtranetLab) -> None:
    assert lab.sims is not None
    code = "ty-zjj"
    onboard(ctx, [code])
    agency = ctx.extranet.agencies[code]
    port = lab.sims.switches[agency.switch].device.ports[agency.port]
    port.pvid = 300  # re-patched to someone else's VLAN since
    ctx.extranet = retired(ctx.extranet, code)
    o = retire(ctx, [code]).outcomes[code]
    assert o.status == "changed", o.reason
    assert not any(line.startswith("- access") for r in o.results for line in r.diff)
    assert port.pvid == 300
    assert IPAM(ctx.db(), ctx.extranet).get(code) is None
    port.pvid = 1


def test_a_failed_removal_is_rolled_back_and_keeps_the_allocation(ctx: Context, lab: ExtranetLab) -> None:
    assert lab.sims is not None
    code = "qs-zjj"  # on acc-qs (H3C) behind agg-qs (VRP)
    onboard(ctx, [code])
    onboarded = configs(lab, "acc-qs", "agg-qs")
    ctx.extranet = retired(ctx.extranet, code)
    lab.sims.reject("agg-qs", r"^undo vlan")
    try:
        o = retire(ctx, [code]).outcomes[code]
    finally:
        lab.sims.reject("agg-qs", None)
    assert o.status == "rolled-back"
    assert o.reason == "agg-qs: rejected a command: Error: Unrecognized command found at '^' position."
    assert {r.switch: r.status for r in o.results} == {"acc-qs": "rolled-back", "agg-qs": "rolled-back"}
    assert configs(lab, "acc-qs", "agg-qs") == onboarded  # the agency is whole again, everywhere
    assert IPAM(ctx.db(), ctx.extranet).get(code) is not None
    assert audit_rows(ctx, code) == [("release", "acc-qs", "rolled-back"), ("release", "agg-qs", "rolled-back")]
    assert retire(ctx, [code]).outcomes[code].status == "changed"  # once the switch takes it


def test_cli_release(ctx: Context, lab: ExtranetLab, tmp_path: Path) -> None:
    code = "yt-zjj"
    onboard(ctx, [code])
    held = IPAM(ctx.db(), ctx.extranet).get(code)
    assert held is not None
    runner = CliRunner()
    args = ["--state", str(ctx.db_path), "--inventory", str(lab.inventory)]
    result = runner.invoke(main, ["extranet", "release", code, *args])
    assert (result.exit_code, result.output) == (
        1, f"Error: agency {code} is planned: set status: retired in the inventory first\n")
    result = runner.invoke(main, ["extranet", "release", "nope", *args])
    assert (result.exit_code, result.output) == (1, "Error: unknown agency 'nope'\n")
    result = runner.invoke(main, ["extranet", "release", "jz-lsj", *args])  # retired, never onboarded
    assert (result.exit_code, result.output) == (0, "jz-lsj: held nothing\n")

    inventory = tmp_path / "inventory"  # the admin marks it retired
    shutil.copytree(lab.inventory, inventory)
    data = yaml.safe_load((inventory / "agencies.yml").read_text("utf-8"))
    next(a for a in data["agencies"] if a["code"] == code)["status"] = "retired"
    (inventory / "agencies.yml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    args = ["--state", str(ctx.db_path), "--inventory", str(inventory)]
    result = runner.invoke(main, ["extranet", "release", code, "--dry-run", *args])
    assert result.exit_code == 0, result.output
    assert f"    - vlan {held.vid} description=extranet {code} name={code}" in result.output
    assert f"      undo vlan {held.vid}" in result.output
    assert result.output.endswith(f"{code}: would remove 7 item(s) from 2 switch(es) and release vid {held.vid} "
                                  f"and {held.prefix}\n")
    result = runner.invoke(main, ["extranet", "release", code, "--engine", "ansible", *args])
    assert result.exit_code == 0, result.output
    assert result.output.endswith(f"{code}: removed its configuration from 2 switch(es); released vid {held.vid} "
                                  f"and {held.prefix}\n")
    result = runner.invoke(main, ["extranet", "audit", *args])
    assert result.exit_code == 0, result.output  # no extra VLAN left behind
