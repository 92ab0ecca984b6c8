"""The module side of the Ansible engine: one switch's batch from the module's arguments to its result.

Run inside our Ansible module (playbooks/library/dcops_switch.py) by the venv's
Python. It takes the switch's lock and writes its backup to the state
database as the netmiko engine does, and returns Ansible's `changed`, `diff`
(Ansible's `prepared` text) and `failed`, with our per-unit results under
`dcops`.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

from dcops.secrets import Secret
from inventory.model import Switch

from . import jobs
from .batch import OK, run_switch
from .driver import DRIVERS
from .state import backup, connect, switch_lock
from .wire import run_data, unit_from


def _switch(spec: dict[str, Any]) -> Switch:
    variable = str(spec["password_env"])
    return Switch(name=str(spec["name"]), vendor=str(spec["vendor"]), role=str(spec.get("role", "")),
                  host=str(spec["host"]), port=int(spec["port"]), username=str(spec["username"]),
                  password=Secret(variable, os.environ.get(variable, "")), group="", ports=())


def switch_task(params: dict[str, Any], *, check_mode: bool) -> dict[str, Any]:
    switch = _switch(params["switch"])
    units = [unit_from(u) for u in params["units"]]
    stop_file = params.get("stop_file")
    state = params.get("state")
    db = connect(state) if state else None

    def on_backup(name: str, text: str) -> None:
        if db is not None:
            backup(db, name, text, time.time())

    def on_step(done: int) -> None:
        if db is not None and params.get("job") is not None:
            jobs.step(db, int(params["job"]), switch.name, done)

    def stop() -> bool:
        return bool(stop_file) and Path(str(stop_file)).exists()

    lock = switch_lock(state, switch.name) if state else contextlib.nullcontext()
    try:
        with lock:
            run = run_switch(switch, units, DRIVERS[params.get("driver") or "netmiko"], dry_run=check_mode,
                             on_backup=on_backup, stop=stop, on_step=on_step)
    finally:
        if db is not None:
            db.close()
    failed = [r for r in run.results if r.failed]
    changed = any(r.changed and (check_mode or r.status == OK) for r in run.results)
    prepared = "\n".join(f"{r.agency}: {line}" for r in run.results for line in r.diff)
    msg = run.error or (f"{len(failed)} of {len(run.results)} unit(s) failed: {failed[0].error}" if failed
                        else f"{len(run.results)} unit(s) ok")
    return {"changed": changed, "failed": bool(run.error or failed), "msg": msg,
            "diff": {"prepared": prepared + "\n" if prepared else ""}, "dcops": run_data(run)}
