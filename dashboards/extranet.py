"""Extranet: the agencies with their VLAN and subnet, onboarding jobs with live progress per switch, the audit log.

It reads the extranet's state database (IPAM, jobs, audit; playbooks/state.py)
and never writes it, except through the one action: an operator starts an
onboarding job (one agency or every planned one, a dry run or for real); it
runs in a background thread of the panel exactly as `dcops extranet onboard`
does, and its page follows it switch by switch.

Configuration (see app.py for the others):

- `EXTRANET_STATE`: the state database (default `$DCOPS_VAR/extranet.db`, `var/extranet.db`).
- `EXTRANET_WORKERS`: switches worked on at once by a job started here (default 8).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from inventory.model import ACTIVE, RETIRED, Extranet
from playbooks import jobs
from playbooks.ipam import IPAM, Allocation

from .auth import audit, current_user, require_role
from .data import get_inventory, now
from .fmt import when
from .i18n import lazy_gettext as _l

bp = Blueprint("extranet", __name__)
NAV = ("extranet.index", "Extranet")
log = logging.getLogger(__name__)

ENGINES = ("netmiko", "ansible")
ALL = "--all"
AUDIT_ROWS = 50
# the words the state database holds (actions, statuses), translated when shown: listed for the catalog
WORDS = (_l("onboard"), _l("release"), _l("rollback"), _l("running"), _l("waiting"), _l("done"), _l("failed"),
         _l("interrupted"), _l("lost"), _l("ok"), _l("unchanged"), _l("rolled-back"), _l("retired"),
         _l("planned"), _l("active"), _l("Extranet"))
# job, switch and agency statuses onto the panel's colours (panel.css data-state)
STATES = {jobs.DONE: "up", jobs.FAILED: "down", jobs.INTERRUPTED: "stale", jobs.LOST: "stale",
          jobs.RUNNING: "on", jobs.WAITING: "idle", "planned": "planned", ACTIVE: "up", RETIRED: "never",
          "ok": "up", "unchanged": "up", "rolled-back": "stale", "interrupted": "stale"}


@dataclass
class AgencyRow:
    name: str  # the agency code
    label: str
    status: str
    status_label: str
    live: bool
    vid: int | None
    prefix: str
    gateway: str
    switch: str
    port: str


@dataclass
class JobRow:
    name: str  # the job id, as panel.js links rows by `name`
    id: int
    started_text: str
    finished_text: str
    user: str
    action: str
    engine: str
    dry_run: bool
    status: str
    status_label: str
    state: str
    percent: int
    progress_text: str
    summary_text: str


@dataclass
class SwitchRow:
    name: str
    vendor: str
    units: int
    done: int
    status: str
    status_label: str
    state: str
    results_text: str
    seconds: float | None
    error: str


@dataclass
class AuditRow:
    name: str
    time_text: str
    user: str
    action: str
    agency: str
    switch: str
    result: str
    result_label: str
    state: str
    detail: str


def state_path() -> Path:
    from playbooks.state import default_db

    return Path(current_app.config.get("EXTRANET_STATE") or default_db())


def _db() -> sqlite3.Connection | None:
    """The state database, or None when no run has made one yet (a panel only reads: it creates nothing)."""
    from playbooks.state import connect

    path = state_path()
    return connect(path) if path.exists() else None


def _extranet() -> Extranet:
    return get_inventory().extranet


def _status(value: str) -> str:
    return _(value) if value else ""


def _counts_text(results: str) -> str:
    counts: dict[str, int] = json.loads(results) if results else {}
    return ", ".join(f"{n} {_status(status)}" for status, n in sorted(counts.items()))


def _summary_text(summary: str) -> str:
    if not summary:
        return ""
    s = json.loads(summary)
    return _("%(agencies)d agencies: %(ok)d ok, %(failed)d failed, %(interrupted)d interrupted; %(changes)d changes",
             **{k: int(s.get(k, 0)) for k in ("agencies", "ok", "failed", "interrupted", "changes")})


def job_row(job: jobs.Job, tz: str) -> JobRow:
    return JobRow(name=str(job.id), id=job.id, started_text=when(job.started, tz), finished_text=when(job.finished, tz),
                  user=job.user, action=_status(job.action), engine=job.engine, dry_run=job.dry_run,
                  status=job.status, status_label=_status(job.status), state=STATES.get(job.status, "unknown"),
                  percent=job.percent, progress_text=f"{job.done}/{job.units} ({job.percent}%)",
                  summary_text=_summary_text(job.summary))


def switch_row(x: Extranet, s: jobs.SwitchProgress) -> SwitchRow:
    sw = x.switches.get(s.switch)
    return SwitchRow(name=s.switch, vendor=sw.vendor if sw else "", units=s.units, done=s.done, status=s.status,
                     status_label=_status(s.status), state=STATES.get(s.status, "unknown"),
                     results_text=_counts_text(s.results), seconds=s.seconds, error=s.error)


def agency_rows(x: Extranet, db: sqlite3.Connection | None) -> list[AgencyRow]:
    held = IPAM(db, x).all() if db is not None else {}
    live = {r[0] for r in db.execute("SELECT agency FROM onboarded")} if db is not None else set()
    rows = []
    for a in x.agencies.values():
        alloc = held.get(a.code)
        if alloc is None and a.vid is not None and a.prefix is not None:  # pinned (an active agency)
            group = x.group_of(a)
            alloc = Allocation(a.code, group.name, a.vid, group.pool, a.prefix)
        rows.append(AgencyRow(name=a.code, label=a.name, status=a.status, status_label=_status(a.status),
                              live=a.code in live or a.status == ACTIVE,
                              vid=alloc.vid if alloc else None, prefix=alloc.prefix if alloc else "",
                              gateway=alloc.gateway if alloc else "", switch=a.switch, port=a.port))
    return rows


def audit_rows(db: sqlite3.Connection | None, tz: str, limit: int = AUDIT_ROWS) -> list[AuditRow]:
    if db is None:
        return []
    rows = db.execute("SELECT id, at, user, action, agency, switch, result, detail FROM audit ORDER BY id DESC "
                      "LIMIT ?", (limit,))
    return [AuditRow(name=str(r[0]), time_text=when(r[1], tz), user=r[2], action=_status(r[3]), agency=r[4],
                     switch=r[5], result=r[6], result_label=_status(r[6]), state=STATES.get(r[6], "unknown"),
                     detail=r[7]) for r in rows]


def overview() -> dict[str, Any]:
    """The page's live part: jobs and audit log (the agencies change only with a job)."""
    tz = get_inventory().site.timezone
    db = _db()
    try:
        recent = jobs.recent(db) if db is not None else []
        return {"jobs": [asdict(job_row(j, tz)) for j in recent], "audit": [asdict(a) for a in audit_rows(db, tz)],
                "ts": now(), "time_text": when(now(), tz)}
    finally:
        if db is not None:
            db.close()


def job_view(job_id: int) -> dict[str, Any]:
    tz = get_inventory().site.timezone
    db = _db()
    found = jobs.recent(db, 1, job=job_id) if db is not None else []
    if db is not None:
        db.close()
    if not found:
        abort(404, _("No such job"))
    x = _extranet()
    return {**asdict(job_row(found[0], tz)), "switches": [asdict(switch_row(x, s)) for s in found[0].switches],
            "ts": now(), "time_text": when(now(), tz)}


@bp.get("/extranet")
def index() -> str:
    x = _extranet()
    db = _db()
    try:
        agencies = agency_rows(x, db)
    finally:
        if db is not None:
            db.close()
    counts = {s: sum(1 for a in agencies if a.status == s) for s in ("planned", ACTIVE, RETIRED)}
    return render_template("extranet/index.html", agencies=agencies, counts=counts, live=sum(a.live for a in agencies),
                           planned=[a for a in agencies if a.status == "planned"], engines=ENGINES, all=ALL,
                           **overview())


@bp.get("/extranet/data.json")
def data() -> ResponseReturnValue:
    return jsonify(overview())


@bp.get("/extranet/jobs/<int:job_id>")
def job(job_id: int) -> str:
    return render_template("extranet/job.html", job=job_view(job_id))


@bp.get("/extranet/jobs/<int:job_id>.json")
def job_data(job_id: int) -> ResponseReturnValue:
    return jsonify(job_view(job_id))


@bp.post("/extranet/onboard")
@require_role("operator")
def onboard() -> ResponseReturnValue:
    """Start an onboarding job; wait until it has its job number, then show its page."""
    from playbooks.onboard import Context
    from playbooks.onboard import onboard as run

    x = _extranet()
    target = request.form.get("agency", "").strip()
    engine = request.form.get("engine", "netmiko")
    dry_run = request.form.get("dry_run") == "1"
    if target == ALL:
        codes = [a.code for a in x.agencies.values() if a.planned]
    elif target in x.agencies and x.agencies[target].status != RETIRED:
        codes = [target]
    else:
        flash(_("Unknown or retired agency: %(code)s", code=target or "—"), "error")
        return redirect(url_for(".index"))
    if engine not in ENGINES or not codes:
        flash(_("Nothing to onboard"), "error")
        return redirect(url_for(".index"))
    user = current_user()
    ctx = Context(x, state_path(), workers=int(current_app.config.get("EXTRANET_WORKERS", 8)),
                  user=user.name if user else "-")
    started = threading.Event()
    box: dict[str, int] = {}

    def on_job(job_id: int) -> None:
        box["job"] = job_id
        started.set()

    ctx.on_job = on_job

    def work() -> None:
        try:
            run(ctx, codes, dry_run=dry_run, engine=engine)
        except Exception:  # the job's row says failed; the log says why
            log.exception("extranet job for %s failed", target)
        finally:
            started.set()

    threading.Thread(target=work, name=f"extranet-{target}", daemon=True).start()
    audit("extranet onboard", target, f"engine={engine}" + (" dry-run" if dry_run else ""))
    started.wait(30)
    if "job" not in box:
        flash(_("The job did not start; see the panel's log"), "error")
        return redirect(url_for(".index"))
    return redirect(url_for(".job", job_id=box["job"]))
