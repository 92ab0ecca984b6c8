"""Notification text, zh-CN: one title, a plain body (mail), one line (SMS) and markdown (WeCom, DingTalk)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from .model import Alert
from .notifiers.base import Message
from .state import IncidentRow

SEVERITY = {"critical": "严重", "warning": "警告", "info": "提示"}
CATEGORY = {"power": "供电", "cooling": "制冷", "environment": "环境", "safety": "消防与漏水",
            "security": "门禁安防", "monitoring": "监控"}
KIND = {"firing": "告警", "update": "告警升级", "escalation": "未确认升级", "ack": "已确认", "resolved": "已恢复"}
COLOR = {"critical": "warning", "warning": "comment", "info": "info"}


def when(ts: float, tz: str) -> str:
    return dt.datetime.fromtimestamp(ts, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def alert_line(a: Mapping[str, Any]) -> str:
    state = "（已锁存，待确认）" if a.get("latched") else "（已恢复）" if a.get("state") == "resolved" else ""
    return f"[{SEVERITY.get(a['severity'], a['severity'])}] {a['summary']}{state}"


def alert_dict(a: Alert, summary: str, under: str = "") -> dict[str, Any]:
    return {"rule": a.rule.name, "severity": a.rule.severity, "category": a.rule.category, "state": a.state,
            "labels": dict(a.labels), "value": a.value, "summary": summary, "latched": a.latched,
            "fired_at": a.fired_at, "under": under}


def group_text(group: Mapping[str, str], rooms: Mapping[str, str]) -> str:
    parts = []
    for k, v in group.items():
        if k == "room":
            parts.append(rooms.get(v, v))
        elif k == "category":
            parts.append(CATEGORY.get(v, v))
        elif v:
            parts.append(v)
    return " · ".join(parts) or "全部"


def build(kind: str, inc: IncidentRow, alerts: Sequence[dict[str, Any]], *, severity: str, level: int, now: float,
          tz: str, rooms: Mapping[str, str]) -> Message:
    """The message for one notification of an incident. `alerts` are lead alerts first."""
    where = group_text(inc.labels, rooms)
    sev = SEVERITY.get(severity, severity)
    lead = alerts[0]["summary"] if alerts else inc.title
    more = f"（共 {len(alerts)} 条）" if len(alerts) > 1 else ""
    status = "resolved" if kind == "resolved" else "firing"
    prefix = f"【{KIND[kind]}{f'·第{level + 1}级' if kind == 'escalation' else ''}】"
    if kind == "resolved":
        title = f"{prefix}{where}：{inc.title or lead}"
    elif kind == "ack":
        title = f"{prefix}{where}：{inc.title or lead}（{inc.acked_by}）"
    else:
        title = f"{prefix}{sev} {where}：{lead}{more}"
    lines = [f"事件 #{inc.id} · {sev} · {where}", f"开始：{when(inc.opened_at, tz)}"]
    if kind == "resolved":
        lines.append(f"恢复：{when(now, tz)}")
    if kind == "ack":
        lines.append(f"确认：{inc.acked_by} {when(inc.acked_at, tz)}" + (f"：{inc.ack_note}" if inc.ack_note else ""))
    body = [("  - " if a.get("under") else "- ") + alert_line(a) for a in alerts]
    footer = [] if kind in ("resolved", "ack") else [f"确认：dcops alerts ack {inc.id} --by 姓名"]
    text = "\n".join([*lines, "", *body, "", *footer]).rstrip() + "\n"
    short = f"【dcops】#{inc.id} {KIND[kind]} {sev} {where}：{inc.title or lead}{more}"
    md_lines = [f"### {title}", *(f"> {line}" for line in lines), ""]
    md_lines += [("    - " if a.get("under") else "- ")
                 + f"<font color=\"{COLOR.get(a['severity'], 'info')}\">{SEVERITY.get(a['severity'], '')}</font> "
                 + a["summary"] + ("（已锁存，待确认）" if a.get("latched") else "") for a in alerts]
    if footer:
        md_lines += ["", footer[0]]
    return Message(kind=kind, incident=inc.id, status=status, severity=severity, title=title, text=text,
                   short=short, markdown="\n".join(md_lines), ts=now, level=level, group=dict(inc.labels),
                   alerts=list(alerts), acked_by=inc.acked_by)
