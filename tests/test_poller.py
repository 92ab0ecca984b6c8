"""The poller against real SNMP agents: every device answers, failures are reports, never crashes."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from collectors.poller import Poller, PollerSettings
from collectors.snmp import SnmpClient, SnmpError, Target
from dcops.types import PollReport, Sample
from lab import LabRunner, free_udp_port
from outputs.store import Store

# generous: other tests may load the machine; a silent agent is tested with its own short timeout
FAST = PollerSettings(timeout=2.0, retries=1, concurrency=16)
SHORT = PollerSettings(timeout=1.0, retries=0, concurrency=16)


def poll_once(poller: Poller) -> list[tuple[PollReport, list[Sample]]]:
    async def run() -> list[tuple[PollReport, list[Sample]]]:
        try:
            return await poller.poll_once()
        finally:
            poller.transport.close()  # type: ignore[attr-defined]

    return asyncio.run(run())


def test_every_reference_device_answers_with_its_profile(running_room: LabRunner) -> None:
    inventory = running_room.room.inventory
    results = poll_once(Poller(inventory, settings=FAST))
    reports = {r.device: r for r, _ in results}
    assert set(reports) == set(inventory.devices)
    assert [r.device for r in reports.values() if not r.up] == []
    expected = {"ups": "ups-mib", "pdu": "apc-rpdu2", "cooling": "apc-inrow", "env": "akcp-sensorprobe",
                "leak": "akcp-sensorprobe", "smoke": "akcp-sensorprobe", "door": "akcp-sensorprobe"}
    for name, device in inventory.devices.items():
        assert reports[name].profiles == (expected[device.device_class],), name
        assert reports[name].samples > 0 and reports[name].duration > 0


def test_readings_carry_the_values_the_agent_serves(running_room: LabRunner) -> None:
    inventory = running_room.room.inventory
    state = running_room.room.state
    assert state is not None
    results = dict((r.device, s) for r, s in poll_once(Poller(inventory, settings=FAST)))
    probe = {s.metric: s for s in results["probe-A01"]}
    temperature = probe["env_temperature_celsius"]
    assert temperature.value == pytest.approx(state.rack_inlet_c["A01"], abs=0.051)
    assert temperature.label("sensor") == "A01 inlet" and temperature.unit == "celsius"
    ups = {(s.metric, s.labels): s for s in results["ups-a"]}
    source = ups[("ups_output_source", ())]
    assert (source.value, source.text) == (3, "normal")
    pdu_watts = sum(s.value for s in results["pdu-A01-a"] if s.metric == "pdu_power_watts")
    assert pdu_watts > 100


def test_a_silent_agent_is_down_with_its_reason_and_the_others_still_answer(running_room: LabRunner) -> None:
    room = running_room.room
    room.faults.agent_down.add("crac-2")
    room.render()
    room.render()  # a fault takes effect from the previous render
    try:
        results = poll_once(Poller(room.inventory, settings=SHORT))
    finally:
        room.faults.agent_down.discard("crac-2")
        room.render()
    down = {r.device: r for r, _ in results if not r.up}
    assert list(down) == ["crac-2"]
    assert "No SNMP response received before timeout" in down["crac-2"].error
    assert down["crac-2"].samples == 0


def test_unreachable_and_wrong_community_are_reports_not_exceptions(running_room: LabRunner) -> None:
    inventory = running_room.room.inventory
    ups = inventory.devices["ups-a"]
    nobody = dataclasses.replace(ups, name="nobody", port=free_udp_port())
    wrong = dataclasses.replace(ups, name="wrong-community",
                                snmp=dataclasses.replace(ups.snmp, community=type(ups.snmp.community)(
                                    "x", "not-a-community")))  # type: ignore[misc]
    results = poll_once(Poller(inventory, devices=[nobody, wrong, ups], settings=SHORT))
    by_name = {r.device: r for r, _ in results}
    assert by_name["ups-a"].up
    for name in ("nobody", "wrong-community"):
        assert not by_name[name].up and by_name[name].error


def test_poll_results_reach_the_store(running_room: LabRunner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store(tmp_path / "dcops.db")
    poll_once(Poller(running_room.room.inventory, outputs=[store.publish], settings=FAST))
    reports = store.reports()
    assert len(reports) == 41 and all(r.up for r in reports.values())
    (temp,) = store.latest("probe-A03", "env_temperature_celsius")
    assert 15 < temp.value < 35
    mode = store.latest("crac-1", "cooling_operate_mode")[0]
    assert mode.text == "on"


def test_a_broken_output_does_not_stop_the_others(running_room: LabRunner) -> None:
    got: list[str] = []

    def broken(report: PollReport, samples: object) -> None:
        raise RuntimeError("disk full")

    inventory = running_room.room.inventory
    poller = Poller(inventory, outputs=[broken, lambda r, s: got.append(r.device)], settings=FAST,
                    devices=[inventory.devices["ups-a"]])
    poll_once(poller)
    assert got == ["ups-a"]


def test_walk_refuses_an_agent_that_returns_non_increasing_oids() -> None:
    class Looping(SnmpClient):
        async def _request(self, target, bulk, oids):  # type: ignore[no-untyped-def, override]
            return [("1.3.6.1.2.1.2.2.1.2.1", "eth0"), ("1.3.6.1.2.1.2.2.1.2.1", "eth0")]

    async def run() -> None:
        await Looping().walk(Target("127.0.0.1", 1, None), "1.3.6.1.2.1.2.2.1.2")  # type: ignore[arg-type]

    with pytest.raises(SnmpError, match="non-increasing OID 1.3.6.1.2.1.2.2.1.2.1"):
        asyncio.run(run())


def test_run_polls_each_device_on_its_interval_until_stopped(running_room: LabRunner) -> None:
    inventory = running_room.room.inventory
    seen: list[str] = []
    devices = [inventory.devices["ups-a"], dataclasses.replace(inventory.devices["ups-b"], interval=0.2)]
    poller = Poller(inventory, devices=devices, outputs=[lambda r, s: seen.append(r.device)],
                    settings=dataclasses.replace(FAST, interval=60))

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(poller.run(stop))
        await asyncio.sleep(1.1)
        stop.set()
        await task
        poller.transport.close()  # type: ignore[attr-defined]

    asyncio.run(run())
    assert seen.count("ups-a") == 1  # 60 s interval: once
    assert 4 <= seen.count("ups-b") <= 7  # 0.2 s interval over ~1.1 s


def test_an_agent_that_restarts_reports_its_new_uptime_and_is_detected_again(running_room: LabRunner) -> None:
    room = running_room.room
    poller = Poller(room.inventory, devices=[room.inventory.devices["pdu-A02-a"]], settings=FAST)

    def uptime() -> float:
        (report, samples), = poll_once(poller)
        assert report.up, report.error
        (s,) = [s for s in samples if s.metric == "agent_uptime_seconds"]
        return s.value

    before = uptime()
    assert poller.state["pdu-A02-a"].profiles
    room.faults.agent_down.add("pdu-A02-a")
    room.render()
    room.render()
    room.faults.agent_down.discard("pdu-A02-a")
    room.render()  # the agent comes back with a fresh sysUpTime
    after = uptime()
    assert after < before
    assert poller.state["pdu-A02-a"].profiles == []  # re-detected at the next poll
    uptime()
    assert [p.name for p in poller.state["pdu-A02-a"].profiles] == ["apc-rpdu2"]
