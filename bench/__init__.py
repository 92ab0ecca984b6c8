"""Benchmarks (`make bench`): each compares dcops with a peer measured in the same run.

A benchmark is a function returning a `Result`; `python -m bench` runs them,
prints one table and writes bench/results/<name>.json.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dcops.registry import Registry

RESULTS = Path(__file__).parent / "results"


@dataclass
class Row:
    """One line of the table: what was measured for dcops and for the peer."""

    case: str
    metric: str
    dcops: float
    peer: float
    peer_name: str
    better: str = "lower"  # is a lower or a higher number better?

    @property
    def ratio(self) -> float:
        """How many times better dcops is than the peer (>1 = better)."""
        if self.better == "lower":
            return self.peer / self.dcops if self.dcops else float("inf")
        return self.dcops / self.peer if self.peer else float("inf")


@dataclass
class Result:
    name: str
    rows: list[Row]
    details: dict[str, object] = field(default_factory=dict)

    def write(self, directory: Path = RESULTS) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}.json"
        payload = {
            "benchmark": self.name,
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": {"python": platform.python_version(), "cpus": _cpus()},
            "rows": [{**asdict(r), "ratio": round(r.ratio, 3)} for r in self.rows],
            "details": self.details,
        }
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


BENCHMARKS: Registry[Callable[[], Result]] = Registry("benchmark")
