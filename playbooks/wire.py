"""Units and results as plain JSON data: how the Ansible engine hands work to our module and gets it back.

Facts hold tuples (keys, values, ACL rules) and compare by value, so a fact
that went through JSON must come back with its tuples, or the diff of a
re-run would see a change that is not there. Everything else is a dataclass
of strings, numbers and lists.
"""

from __future__ import annotations

from typing import Any

from .batch import SwitchRun, Unit, UnitResult
from .facts import Fact


def _tuples(value: Any) -> Any:
    """JSON arrays back into the tuples a fact is made of."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def fact_data(f: Fact) -> list[Any]:
    return [f.kind, list(f.key), [[k, v] for k, v in f.value]]


def fact_from(data: list[Any]) -> Fact:
    kind, key, value = data
    return Fact(str(kind), _tuples(key), tuple((str(k), _tuples(v)) for k, v in value))


def unit_data(unit: Unit) -> dict[str, Any]:
    return {"agency": unit.agency, "want": [fact_data(f) for f in unit.want]}


def unit_from(data: dict[str, Any]) -> Unit:
    return Unit(str(data["agency"]), [fact_from(f) for f in data["want"]])


def result_data(r: UnitResult) -> dict[str, Any]:
    return {"agency": r.agency, "switch": r.switch, "status": r.status, "changed": r.changed, "diff": r.diff,
            "commands": r.commands, "undo": [fact_data(f) for f in r.undo], "error": r.error}


def result_from(data: dict[str, Any]) -> UnitResult:
    return UnitResult(str(data["agency"]), str(data["switch"]), str(data["status"]), bool(data["changed"]),
                      [str(d) for d in data["diff"]], [str(c) for c in data["commands"]],
                      [fact_from(f) for f in data["undo"]], str(data["error"]))


def run_data(run: SwitchRun) -> dict[str, Any]:
    """A switch's run for the module's return value; the backup stays in the state database."""
    return {"switch": run.switch, "results": [result_data(r) for r in run.results], "saved": run.saved,
            "error": run.error, "seconds": run.seconds}


def run_from(data: dict[str, Any]) -> SwitchRun:
    return SwitchRun(str(data["switch"]), [result_from(r) for r in data["results"]], "", bool(data["saved"]),
                     str(data["error"]), float(data["seconds"]))
