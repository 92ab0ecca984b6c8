"""The Ansible engine: ansible-runner runs playbooks/apply.yml, whose one task is our module on each switch.

The play is `connection: local`; the module (playbooks/library/dcops_switch.py)
runs `run_switch` with netmiko, the same batch the netmiko engine runs in a
thread, so backup, diff, apply, verify, save and the per-unit rollback of a
rejected command are the same code. Each host's result (changed, diff,
failed, and our per-unit results) comes back through ansible-runner's
events; `onboard` then rolls back across switches as for the other engine.
A dry run is Ansible's check mode.

Credentials: the inventory and the module's arguments name an environment
variable per switch, never a password. ansible-runner records its whole
environment in its artifacts, so its private directory is a fresh 0700
temporary directory, removed when the run ends.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inventory.model import Extranet

from .batch import FAILED, SwitchRun, Unit, UnitResult
from .wire import run_from, unit_data

if TYPE_CHECKING:
    from .onboard import Context

PLAYBOOK_DIR = Path(__file__).parent
PLAYBOOK = "apply.yml"
RESULT_EVENTS = ("runner_on_ok", "runner_on_failed", "runner_on_unreachable")


def password_variable(switch: str) -> str:
    return "DCOPS_SWITCH_PASSWORD_" + re.sub(r"[^A-Za-z0-9]", "_", switch).upper()


def ansible_environment(private: Path) -> dict[str, str]:
    """What ansible-playbook needs from a venv: its bin on PATH (components.md), a UTF-8 locale, its
    home and temporary files in the private directory, and no colour or chatter in the events."""
    bin_dir = str(Path(sys.executable).parent)
    return {
        "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "/usr/bin:/bin")]),
        "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8",
        "ANSIBLE_HOME": str(private / "home"), "ANSIBLE_LOCAL_TEMP": str(private / "tmp"),
        "ANSIBLE_REMOTE_TEMP": str(private / "tmp"), "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "False", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "ANSIBLE_DEPRECATION_WARNINGS": "False", "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "False",  # our module is all the play uses
    }


def host_vars(x: Extranet, name: str, units: list[Unit]) -> dict[str, Any]:
    sw = x.switches[name]
    return {"dcops_switch": {"name": sw.name, "vendor": sw.vendor, "host": sw.host, "port": sw.port,
                             "username": sw.username, "password_env": password_variable(sw.name)},
            "dcops_units": [unit_data(u) for u in units]}


def ansible_engine(x: Extranet, batches: dict[str, list[Unit]], dry_run: bool, ctx: Context) -> list[SwitchRun]:
    import ansible_runner

    order = sorted(batches, key=lambda n: -len(batches[n]))  # the busiest switches first, as the netmiko engine
    runs: dict[str, SwitchRun] = {}
    with tempfile.TemporaryDirectory(prefix="dcops-ansible-") as tmp:
        private = Path(tmp)
        stop_file = private / "stop"
        env = ansible_environment(private)
        env.update({password_variable(n): x.switches[n].password.reveal() for n in order})
        inventory = {"all": {
            "hosts": {n: host_vars(x, n, batches[n]) for n in order},
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                     "dcops_state": str(ctx.db_path.resolve()), "dcops_stop_file": str(stop_file),
                     **({"dcops_job": ctx.job} if ctx.job is not None else {})}}}

        def on_event(event: dict[str, Any]) -> bool:
            data = event.get("event_data", {})
            host = data.get("host")
            if event.get("event") in RESULT_EVENTS and host in batches and host not in runs:
                runs[host] = run = _host_run(host, data.get("res", {}), batches[host])
                for r in run.results:
                    ctx.progress(r)
                ctx.on_switch(run)
            return False  # ansible-runner need not keep the event on disk

        finished = threading.Event()

        def watch_stop() -> None:  # the module looks for this file before each unit
            while not finished.wait(0.05):
                if ctx.stop.is_set():
                    stop_file.touch()
                    return

        watcher = threading.Thread(target=watch_stop, name="ansible-stop", daemon=True)
        watcher.start()
        try:
            result = ansible_runner.run(
                private_data_dir=tmp, project_dir=str(PLAYBOOK_DIR), playbook=PLAYBOOK, inventory=inventory,
                envvars=env, forks=max(1, ctx.workers), cmdline="--diff --check" if dry_run else "--diff",
                quiet=True, event_handler=on_event, cancel_callback=lambda: False,  # our signal handlers stay
                suppress_env_files=True, settings={"suppress_ansible_output": True})
        finally:
            finished.set()
            watcher.join()
        if len(runs) < len(order):  # ansible-playbook itself failed (a syntax error, a missing module)
            tail = " ".join(result.stdout.read().split()[-40:]) if result.stdout else ""
            why = f"ansible-runner {result.status} (rc {result.rc}): {tail}"
            for name in order:
                runs.setdefault(name, SwitchRun(name, [UnitResult(u.agency, name, FAILED, error=why)
                                                       for u in batches[name]], error=why))
    return [runs[n] for n in order]


def _host_run(host: str, res: dict[str, Any], units: list[Unit]) -> SwitchRun:
    """The module's report, or, when it crashed before reporting, every unit failed with Ansible's message."""
    if isinstance(res.get("dcops"), dict):
        return run_from(res["dcops"])
    why = f"{host}: the module failed: {res.get('msg') or res.get('module_stderr') or 'no result'}".strip()
    return SwitchRun(host, [UnitResult(u.agency, host, FAILED, error=why) for u in units], error=why)
