"""Poll the whole reference room: dcops's poller against snmpbulkwalk/snmpget on the same agents.

Both read the same OIDs from the same snmpsim agents, with the same
concurrency; dcops in-process on pysnmp, the peer as net-snmp command-line
tools (the way a cron script would). snmpsim is agent-bound, so this
measures how close each gets to the agent's limit, and what it costs in CPU.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import BENCHMARKS, Result, Row
from collectors.poller import Poller, PollerSettings
from collectors.profile import Profile, load_profiles
from collectors.snmp import SnmpClient
from inventory import REFERENCE_DIR, load_inventory
from inventory.model import Device
from lab import LabRunner, at_address, free_udp_port

ROUNDS = 7
CONCURRENCY = 32


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _peer_commands(device: Device, profiles: list[Profile]) -> list[list[str]]:
    assert device.snmp.community is not None
    community = device.snmp.community.reveal()
    target = f"{device.host}:{device.port}"
    scalars = ["1.3.6.1.2.1.1.3.0"] + [o for p in profiles for o in p.scalars]
    cmds = [["snmpget", "-v2c", "-c", community, "-On", "-t", "2", "-r", "1", target, *scalars]]
    for p in profiles:
        for root in p.walks:
            cmds.append(["snmpbulkwalk", "-v2c", "-c", community, "-On", "-Cr25", "-t", "2", "-r", "1",
                         target, root])
    return cmds


def _run_peer(commands: list[list[str]]) -> tuple[float, float, int]:
    def one(cmd: list[str]) -> int:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        absent = ("No Such", "No more variables")  # net-snmp prints endOfMibView and noSuch* too
        return sum(1 for line in out.splitlines() if " = " in line and not any(a in line for a in absent))

    cpu0, t0 = _cpu_children(), time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        oids = sum(pool.map(one, commands))
    return time.perf_counter() - t0, _cpu_children() - cpu0, oids


@BENCHMARKS.decorator("poll")
def bench_poll() -> Result:
    profiles = load_profiles()
    inventory = at_address(load_inventory(REFERENCE_DIR), "127.0.0.1", free_udp_port())
    with tempfile.TemporaryDirectory() as tmp, LabRunner(inventory, Path(tmp), interval=3600) as lab:
        poller = Poller(inventory, profiles=profiles, settings=PollerSettings(concurrency=CONCURRENCY))
        walls: list[float] = []
        cpus: list[float] = []
        samples = oids = 0
        transport = poller.transport
        assert isinstance(transport, SnmpClient)

        async def rounds() -> None:
            nonlocal samples, oids
            await poller.poll_once()  # warm-up: detection and the engine's first requests
            for _ in range(ROUNDS):
                before = transport.oids_returned
                cpu0, t0 = _cpu_self(), time.perf_counter()
                results = await poller.poll_once()
                walls.append(time.perf_counter() - t0)
                cpus.append(_cpu_self() - cpu0)
                assert all(r.up for r, _ in results), [r for r, _ in results if not r.up]
                samples = sum(r.samples for r, _ in results)
                oids = transport.oids_returned - before
            poller.transport.close()  # type: ignore[attr-defined]

        asyncio.run(rounds())
        commands = [c for d in inventory.devices.values()
                    for c in _peer_commands(d, poller.state[d.name].profiles)]
        _run_peer(commands)  # warm-up
        peer = [_run_peer(commands) for _ in range(ROUNDS)]
        served = len(lab.room.devices)
    peer_wall = statistics.median(p[0] for p in peer)
    peer_cpu = statistics.median(p[1] for p in peer)
    peer_oids = peer[0][2]
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    return Result("poll", [
        Row("reference room, 41 devices", "wall seconds per poll", wall, peer_wall, "snmpbulkwalk"),
        Row("reference room, 41 devices", "CPU seconds per poll", cpu, peer_cpu, "snmpbulkwalk"),
        Row("reference room, 41 devices", "CPU s per 1000 OIDs", 1000 * cpu / oids,
            1000 * peer_cpu / peer_oids, "snmpbulkwalk"),
    ], details={
        "devices": served, "rounds": ROUNDS, "concurrency": CONCURRENCY, "agent": "snmpsim 1.2 (one process)",
        "dcops_samples_per_poll": samples, "dcops_oids_per_poll": oids,
        "peer_oids_per_poll": peer_oids, "peer_commands": len(commands),
        "dcops_wall_seconds": walls, "peer_wall_seconds": [p[0] for p in peer],
    })
