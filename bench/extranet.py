"""Onboard every planned agency of the reference city on the lab extranet, then run it again; per engine.

The lab runs as `dcops lab up` runs it (two server processes: our VRP/Comware
simulator and fake-switches for IOS), on free ports, fresh for each engine.
dcops drives it with its default 8 workers: the netmiko engine (threads in
this process) and the Ansible engine (ansible-runner running
playbooks/apply.yml, our module running the same batch per switch, 8 forks).
The peer column is the goal issue 5 sets: all agencies under 60 s, the
idempotent re-run under 20 s with 0 changes.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bench import BENCHMARKS, Result, Row
from lab.extranet.lab import down, load_extranet, up
from lab.extranet.testing import lab_inventory
from playbooks.onboard import Context, onboard

GOAL_ALL_S, GOAL_RERUN_S = 60.0, 20.0
ENGINES = ("netmiko", "ansible")


def one_engine(engine: str, workers: int) -> tuple[list[Row], dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inventory = lab_inventory(work / "inventory")
        x = load_extranet(inventory)
        codes = [a.code for a in x.agencies.values() if a.planned]
        up(work, inventory)
        try:
            ctx = Context(x, work / "extranet.db", workers=workers, user="bench")
            started = time.monotonic()
            first = onboard(ctx, codes, engine=engine)
            first_s = time.monotonic() - started
            started = time.monotonic()
            again = onboard(ctx, codes, engine=engine)
            again_s = time.monotonic() - started
        finally:
            down(work)
    rows = [
        Row(f"{len(codes)} agencies, {engine}", "seconds", round(first_s, 2), GOAL_ALL_S, "goal (issue 5)"),
        Row(f"re-run, {engine}", "seconds", round(again_s, 2), GOAL_RERUN_S, "goal (issue 5)"),
    ]
    details = {
        "agencies": len(codes), "switches": len(x.switches), "workers": workers,
        "first": {"seconds": round(first_s, 2), "changes": first.changes, "errors": len(first.failed)},
        "rerun": {"seconds": round(again_s, 2), "changes": again.changes, "errors": len(again.failed)},
        "slowest_switch": max(((r.switch, round(r.seconds, 2)) for r in first.runs), key=lambda t: t[1]),
    }
    return rows, details


def run(workers: int = 8) -> Result:
    rows: list[Row] = []
    details: dict[str, Any] = {}
    for engine in ENGINES:
        engine_rows, details[engine] = one_engine(engine, workers)
        rows += engine_rows
    return Result("extranet", rows, details)


BENCHMARKS.register("extranet", run)
