"""Raw polling speed against net-snmp agents: dcops, snmp_exporter 0.21 and snmpbulkwalk, same run.

Each reads the same subtrees (bench/profiles/net-snmp-host.yml: interfaces,
storage and the process tables, ~1,000 OIDs per agent) from the same snmpd
agents on loopback, with the same concurrency and max-repetitions. We count
OIDs returned and the CPU each poller spends (dcops in-process; the
exporter's process from /proc; snmpbulkwalk as our children), so the
comparison is OIDs per wall second and OIDs per CPU second.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import subprocess
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import BENCHMARKS, Result, Row
from bench.agents import Snmpd, SnmpExporter, exporter_module, need
from collectors.poller import Poller, PollerSettings
from collectors.profile import Profile, load_profiles
from collectors.snmp import SnmpClient
from dcops.secrets import Secret
from inventory.model import Device, Inventory, Site, SnmpCredentials

AGENTS = 8
ROUNDS = 5
REPS = 25
PROFILES = Path(__file__).parent / "profiles"


def _profile() -> Profile:
    return load_profiles(PROFILES)["net-snmp-host"]


def _cpu(who: int) -> float:
    u = resource.getrusage(who)
    return u.ru_utime + u.ru_stime


def _inventory(ports: list[int]) -> Inventory:
    creds = SnmpCredentials("2c", community=Secret("bench", "public"))
    devices = {f"host-{i}": Device(f"host-{i}", "switch", "127.0.0.1", port, creds, "net-snmp-host", "bench")
               for i, port in enumerate(ports)}
    return Inventory(site=Site("bench", "bench", "UTC"), devices=devices)


def _dcops(inventory: Inventory) -> list[tuple[float, float, int]]:
    errors: list[str] = []
    profile = _profile()
    poller = Poller(inventory, profiles={profile.name: profile},
                    settings=PollerSettings(concurrency=AGENTS, max_repetitions=REPS, timeout=5))
    transport = poller.transport
    assert isinstance(transport, SnmpClient)
    out: list[tuple[float, float, int]] = []

    async def rounds() -> None:
        await poller.poll_once()  # warm-up: the first requests of a new engine are slow
        for _ in range(ROUNDS):
            before, cpu0, t0 = transport.oids_returned, _cpu(resource.RUSAGE_SELF), time.perf_counter()
            results = await poller.poll_once()
            out.append((time.perf_counter() - t0, _cpu(resource.RUSAGE_SELF) - cpu0,
                        transport.oids_returned - before))
            errors.extend(r.error for r, _ in results if not r.up)
        transport.close()

    asyncio.run(rounds())
    if errors:
        raise RuntimeError(f"dcops could not poll: {errors[:3]}")
    return out


def _exporter(workdir: Path, ports: list[int]) -> list[tuple[float, float, int]]:
    profile = _profile()
    exporter = SnmpExporter(workdir, {"bench": exporter_module(profile, "public", REPS)})

    def scrape(port: int) -> int:
        url = f"http://127.0.0.1:{exporter.port}/snmp?module=bench&target=127.0.0.1:{port}"
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (loopback)
            text = response.read().decode()
        # the var-binds it walked (lookup columns become labels, so metric lines would undercount)
        (pdus,) = [line for line in text.splitlines() if line.startswith("snmp_scrape_pdus_returned ")]
        return int(float(pdus.split()[1]))

    out = []
    try:
        with ThreadPoolExecutor(AGENTS) as pool:
            list(pool.map(scrape, ports))  # warm-up
            for _ in range(ROUNDS):
                cpu0, t0 = exporter.cpu_seconds(), time.perf_counter()
                oids = sum(pool.map(scrape, ports))
                out.append((time.perf_counter() - t0, exporter.cpu_seconds() - cpu0, oids))
    finally:
        exporter.stop()
    return out


def _bulkwalk(ports: list[int]) -> list[tuple[float, float, int]]:
    profile = _profile()
    binary = need("snmpbulkwalk")

    def walk_agent(port: int) -> int:
        n = 0
        for root in profile.walks:
            out = subprocess.run([binary, "-v2c", "-c", "public", "-On", f"-Cr{REPS}", f"127.0.0.1:{port}", root],
                                 capture_output=True, text=True, check=True).stdout
            n += sum(1 for line in out.splitlines() if " = " in line and "No more variables" not in line)
        return n

    out = []
    with ThreadPoolExecutor(AGENTS) as pool:
        list(pool.map(walk_agent, ports))
        for _ in range(ROUNDS):
            cpu0, t0 = _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
            oids = sum(pool.map(walk_agent, ports))
            out.append((time.perf_counter() - t0, _cpu(resource.RUSAGE_CHILDREN) - cpu0, oids))
    return out


def _rates(runs: list[tuple[float, float, int]]) -> tuple[float, float, int]:
    """Median OIDs per wall second and per CPU second, and OIDs per round."""
    return (statistics.median(o / w for w, _, o in runs), statistics.median(o / max(c, 1e-9) for _, c, o in runs),
            int(statistics.median(o for _, _, o in runs)))


@BENCHMARKS.decorator("speed")
def bench_speed() -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        agents = [Snmpd(Path(tmp)) for _ in range(AGENTS)]
        try:
            ports = [a.port for a in agents]
            dcops = _rates(_dcops(_inventory(ports)))
            exporter = _rates(_exporter(Path(tmp), ports))
            bulkwalk = _rates(_bulkwalk(ports))
        finally:
            for a in agents:
                a.stop()
    case = f"{AGENTS} snmpd agents"
    return Result("speed", [
        Row(case, "OIDs per wall second", dcops[0], exporter[0], "snmp_exporter", better="higher"),
        Row(case, "OIDs per CPU second", dcops[1], exporter[1], "snmp_exporter", better="higher"),
        Row(case, "CPU s per 1000 OIDs", 1000 / dcops[1], 1000 / exporter[1], "snmp_exporter"),
        Row(case, "OIDs per wall second", dcops[0], bulkwalk[0], "snmpbulkwalk", better="higher"),
        Row(case, "OIDs per CPU second", dcops[1], bulkwalk[1], "snmpbulkwalk", better="higher"),
    ], details={"agents": AGENTS, "rounds": ROUNDS, "max_repetitions": REPS,
                "oids_per_round": {"dcops": dcops[2], "snmp_exporter": exporter[2], "snmpbulkwalk": bulkwalk[2]},
                "note": "process tables change between runs, so OIDs per round differ slightly by tool; "
                        "snmp_exporter's count is its snmp_scrape_pdus_returned"})
