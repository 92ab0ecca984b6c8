"""10,000 devices every 60 s on this 2-core machine: the poller's CPU share and memory.

The agents are one snmpsim process serving 10,000 recordings of the lab's
UPS (RFC1628 UPS-MIB, ~30 OIDs each; community = device). The poller runs
its production loop (`Poller.run`) for several intervals; we record, per
interval, the CPU seconds it spent, its RSS and how many devices answered.
Goals (issue 3): under half of one core and under 500 MB, flat over time.
The goals are absolute, so the "peer" column holds the goal. The agent's
own CPU is recorded too: one snmpsim process is the ceiling on this
2-core machine (components.md: ~1,500 GETs/s), not the poller.
"""

from __future__ import annotations

import asyncio
import os
import resource
import tempfile
import time
from pathlib import Path

from bench import BENCHMARKS, Result, Row
from collectors.poller import Poller, PollerSettings
from collectors.profile import load_profiles
from dcops.secrets import Secret
from inventory import REFERENCE_DIR, load_inventory
from inventory.model import Device, Inventory, SnmpCredentials
from lab import VirtualRoom
from lab.snmpsim import SnmpSim, free_udp_port

DEVICES = int(os.environ.get("DCOPS_BENCH_DEVICES", "10000"))
INTERVAL = float(os.environ.get("DCOPS_BENCH_INTERVAL", "60"))
CYCLES = int(os.environ.get("DCOPS_BENCH_CYCLES", "3"))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def agent_cpu(agent: SnmpSim) -> float:
    """CPU seconds of the agent process: it shares the machine's 2 cores with the poller."""
    pid = agent.pid
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ups_recording(workdir: Path) -> str:
    room = VirtualRoom(load_inventory(REFERENCE_DIR), workdir / "room")
    room.render()
    return room.recording_path("ups-a").read_text(encoding="utf-8")


@BENCHMARKS.decorator("scale")
def bench_scale() -> Result:
    profile = load_profiles()["ups-mib"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "data"
        data.mkdir()
        text = ups_recording(work)
        names = [f"ups-{i:05d}" for i in range(DEVICES)]
        for name in names:
            (data / f"{name}.snmprec").write_text(text, encoding="utf-8")
        port = free_udp_port()
        started = time.monotonic()
        agent = SnmpSim(data, [("127.0.0.1", port)], work, probe_community=names[0], ready_timeout=900)
        agent.start()
        agent_start = time.monotonic() - started
        try:
            devices = {n: Device(n, "ups", "127.0.0.1", port, SnmpCredentials("2c", community=Secret(n, n)),
                                 "ups-mib", "bench") for n in names}
            inventory = Inventory(site=load_inventory(REFERENCE_DIR).site, devices=devices)
            per_cycle: dict[int, dict[str, int]] = {}

            def count(report, samples) -> None:  # type: ignore[no-untyped-def]
                cycle = int((time.monotonic() - t0) // INTERVAL)
                c = per_cycle.setdefault(cycle, {"up": 0, "down": 0, "samples": 0})
                c["up" if report.up else "down"] += 1
                c["samples"] += len(samples)

            poller = Poller(inventory, outputs=[count], profiles={profile.name: profile},
                            settings=PollerSettings(interval=INTERVAL, concurrency=64, timeout=5, retries=1))
            marks: list[tuple[float, float, float, float]] = []

            async def run() -> None:
                stop = asyncio.Event()
                task = asyncio.create_task(poller.run(stop))
                for _ in range(CYCLES):
                    marks.append((time.monotonic(), cpu(), rss_mb(), agent_cpu(agent)))
                    await asyncio.sleep(INTERVAL)
                marks.append((time.monotonic(), cpu(), rss_mb(), agent_cpu(agent)))
                stop.set()
                await task
                poller.transport.close()  # type: ignore[attr-defined]

            t0 = time.monotonic()
            asyncio.run(run())
        finally:
            agent.stop()
    cycles = []
    for i in range(CYCLES):
        (w0, c0, _, a0), (w1, c1, r1, a1) = marks[i], marks[i + 1]
        cycles.append({"cycle": i, "cpu_share_of_one_core": round((c1 - c0) / (w1 - w0), 4),
                       "agent_cpu_share_of_one_core": round((a1 - a0) / (w1 - w0), 4),
                       "rss_mb_at_end": round(r1, 1), **per_cycle.get(i, {})})
    steady = cycles[1:] or cycles
    share = max(c["cpu_share_of_one_core"] for c in steady)
    peak = max(c["rss_mb_at_end"] for c in cycles)
    polled = min(c.get("up", 0) + c.get("down", 0) for c in steady)
    case = f"{DEVICES} devices / {INTERVAL:g} s"
    return Result("scale", [
        Row(case, "CPU share of one core", share, 0.5, "goal"),
        Row(case, "RSS MB", peak, 500.0, "goal"),
        Row(case, "devices polled per interval", polled, DEVICES, "goal", better="higher"),
    ], details={"load_average_at_end": os.getloadavg(),
                "devices": DEVICES, "interval_s": INTERVAL, "oids_per_device": text.count("\n"),
                "agent": "one snmpsim process", "agent_start_seconds": round(agent_start, 1),
                "cycles": cycles,
                "memory_flat": cycles[-1]["rss_mb_at_end"] <= steady[0]["rss_mb_at_end"] * 1.05})
