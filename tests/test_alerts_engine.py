"""The engine's promises, on an injected clock: `for`, hysteresis, latching, inhibition, grouping,
silences, acknowledgements, escalation, the rota's working hours and a restart that re-notifies nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerts.config import Policy, load_policy
from alerts.engine import Engine
from alerts.oncall import Calendar, Rota, Rotation
from alerts.rules import RULES_DIR, load_rules
from alerts.state import AlertStore, OutboxRow
from dcops.secrets import SecretStore
from dcops.types import PollReport, Sample, TrapEvent
from inventory import REFERENCE_DIR, load_inventory

CST = ZoneInfo("Asia/Shanghai")
NIGHT = dt.datetime(2026, 11, 25, 2, 0, tzinfo=CST).timestamp()  # a Wednesday, 02:00
NOTIFY = """\
group_wait: 500ms
channels:
  ops: {type: log}
  noc: {type: log}
people:
  wang: {label: 王伟, contacts: {ops: wang}}
  li: {label: 李娜, contacts: {ops: li}}
  chen: {label: 陈敏, contacts: {ops: chen}}
oncall:
  working_hours: "08:30-17:30"
  day: [wang]
  rotation: {start: 2026-01-05, days: 7, people: [li]}
escalation:
- {after: 0s, notify: [noc, oncall]}
- {after: 15m, notify: [chen]}
inhibit:
- {source: device-down, equal: [device]}
- {source: utility-outage, targets: [ups-on-battery], equal: [room]}
"""
INVENTORY = load_inventory(REFERENCE_DIR)
RULES = load_rules(RULES_DIR)
PROBE = (("sensor_index", "0"), ("sensor", "inlet"))


class Room:
    """An engine on a fake clock; `sent` holds every delivery it handed to the dispatcher."""

    def __init__(self, tmp_path: Path, rules: Sequence[str] | None = None, now: float = NIGHT,
                 policy: Policy | None = None) -> None:
        self.now = now
        (tmp_path / "notify.yml").write_text(NOTIFY, encoding="utf-8")
        self.policy = policy or load_policy(tmp_path / "notify.yml", SecretStore({}))
        self.rules = [r for r in RULES.rules if rules is None or r.name in rules]
        self.sent: list[OutboxRow] = []
        self.path = tmp_path / "dcops.db"
        self.engine = self.start()

    def start(self) -> Engine:
        return Engine(self.rules, INVENTORY, AlertStore(self.path, clock=self.clock), policy=self.policy,
                      clock=self.clock, submit=self.sent.append)

    def clock(self) -> float:
        return self.now

    def feed(self, *samples: tuple[str, str, float] | tuple[str, str, float, tuple[tuple[str, str], ...]]) -> None:
        self.engine.evaluate([Sample(s[0], s[1], s[2], self.now, labels=s[3] if len(s) > 3 else ())  # type: ignore[misc]
                              for s in samples])

    def at(self, seconds: float) -> None:
        """Move the clock `seconds` on and tick."""
        self.now += seconds
        self.engine.tick()

    def log(self) -> list[tuple[str, str, tuple[str, ...], str]]:
        """(kind, channel, recipients, title) of every delivery, in order; then forget them."""
        out = [(r.kind, r.channel, tuple(r.recipients), r.message["title"]) for r in self.sent]
        self.sent.clear()
        return out

    def titles(self) -> list[tuple[str, str]]:
        return list(dict.fromkeys((kind, title) for kind, _, _, title in self.log()))


def temp(rack: str, value: float) -> tuple[str, str, float, tuple[tuple[str, str], ...]]:
    return (f"probe-{rack}", "env_temperature_celsius", value, PROBE)


def test_for_and_hysteresis(tmp_path: Path) -> None:
    room = Room(tmp_path, ["inlet-temperature-high"])
    room.feed(temp("A01", 27.4))
    room.at(60)
    room.feed(temp("A01", 26.9))  # back under 27 before `for` ran out: pending ends, nobody hears
    room.at(90)
    assert room.log() == [] and room.engine.snapshot() == []
    room.feed(temp("A01", 28.0))
    room.at(119)
    assert [a.state for a in room.engine.snapshot()] == ["pending"]
    room.at(1)  # 120 s: firing, notified after the group wait
    room.at(0.4)
    assert room.log() == []
    room.at(0.1)
    title = "【告警】警告 一号机房 · 制冷：A01 机柜进风温度 28.0 °C，高于 27 °C"
    assert room.log() == [("firing", "noc", (), title), ("firing", "ops", ("li",), title)]
    room.feed(temp("A01", 26.8))  # below 27 but above the clear threshold 26.5: still firing
    room.at(10)
    assert room.log() == [] and [a.state for a in room.engine.snapshot()] == ["firing"]
    room.feed(temp("A01", 26.4))
    room.at(1)
    assert room.titles() == [("resolved", "【已恢复】一号机房 · 制冷：A01 机柜进风温度 28.0 °C，高于 27 °C")]


def test_one_notification_per_incident_and_an_update_when_it_worsens(tmp_path: Path) -> None:
    room = Room(tmp_path, ["inlet-temperature-high", "inlet-temperature-critical"])
    room.feed(temp("A01", 28.0), temp("A02", 28.5), temp("A03", 29.0))
    room.at(120)
    room.at(0.5)
    sent = room.sent[:]
    assert room.titles() == [("firing", "【告警】警告 一号机房 · 制冷：A01 机柜进风温度 28.0 °C，高于 27 °C"
                                         "（共 3 条）")]
    assert sent[0].message["text"].splitlines()[3:6] == [
        "- [警告] A01 机柜进风温度 28.0 °C，高于 27 °C",
        "- [警告] A02 机柜进风温度 28.5 °C，高于 27 °C",
        "- [警告] A03 机柜进风温度 29.0 °C，高于 27 °C"]
    room.feed(temp("A04", 28.0))  # joins the open incident quietly
    room.at(120)
    assert room.log() == []
    room.feed(temp("A02", 33.0))  # critical: the incident is worse than what was said
    room.at(60)
    room.at(0.5)
    assert room.titles() == [("update", "【告警升级】严重 一号机房 · 制冷：A02 机柜进风温度 33.0 °C，超过允许上限 32 °C"
                                         "（共 5 条）")]
    room.feed(*(temp(r, 24.0) for r in ("A01", "A02", "A03", "A04")))
    room.at(1)
    assert [k for k, _ in room.titles()] == ["resolved"]
    assert room.engine.store.incidents()[0].state == "resolved"


def test_leak_latches_until_acknowledged(tmp_path: Path) -> None:
    room = Room(tmp_path, ["water-leak"])
    leak = ("leak-1", "env_contact_state", 4.0, PROBE)
    dry = ("leak-1", "env_contact_state", 2.0, PROBE)
    room.feed(leak)
    room.at(0.5)
    assert room.titles() == [("firing", "【告警】严重 一号机房 · 消防与漏水：leak-1 检测到漏水")]
    room.feed(dry)
    room.at(3600)  # dry for an hour: still firing, latched; nobody acknowledged, so it escalated
    assert room.titles() == [("escalation", "【未确认升级·第2级】严重 一号机房 · 消防与漏水：leak-1 检测到漏水")]
    (alert,) = room.engine.snapshot()
    assert (alert.state, alert.latched) == ("firing", True)
    incident = alert.incident
    assert room.engine.ack(incident, "王伟", "已到现场，地板下有积水") == f"incident {incident} acknowledged by 王伟"
    assert room.titles() == [("ack", "【已确认】一号机房 · 消防与漏水：leak-1 检测到漏水（王伟）"),
                             ("resolved", "【已恢复】一号机房 · 消防与漏水：leak-1 检测到漏水")]
    events = [e for _, _, _, e, _ in room.engine.store.timeline(alert=alert.key)]
    assert events == ["pending", "firing", "latched", "acked", "resolved"]
    assert room.engine.ack(incident, "李娜", "") == f"incident {incident} is already resolved"
    assert room.engine.ack(999, "李娜", "") == "no incident 999"


def test_acknowledged_while_wet_resolves_once_dry(tmp_path: Path) -> None:
    room = Room(tmp_path, ["water-leak"])
    room.feed(("leak-1", "env_contact_state", 4.0, PROBE))
    room.at(0.5)
    room.engine.ack(room.engine.snapshot()[0].incident, "王伟")
    room.at(60)
    assert [k for k, _ in room.titles()] == ["firing", "ack"]
    room.feed(("leak-1", "env_contact_state", 2.0, PROBE))
    room.at(1)
    assert [k for k, _ in room.titles()] == ["resolved"]


def test_a_device_that_is_down_silences_its_own_readings(tmp_path: Path) -> None:
    room = Room(tmp_path, ["device-down", "stale-reading", "inlet-temperature-high"])
    for _ in range(3):
        room.engine.publish(PollReport("probe-A01", room.now, True, 0.1, 2), [Sample(
            "probe-A01", "env_temperature_celsius", 24.0, room.now, labels=PROBE)])
        room.at(30)
    for _ in range(6):  # three minutes of failed polls: down after 1 min, its reading stale after 90 s
        room.engine.publish(PollReport("probe-A01", room.now, False, 2.0, 0, error="timeout"), [])
        room.at(30)
    states = {a.rule.name: a.state for a in room.engine.snapshot()}
    assert states == {"device-down": "firing", "stale-reading": "firing"}
    (sent, *_) = room.sent
    assert room.titles() == [("firing", "【告警】严重 一号机房 · 监控：probe-A01 无法采集（设备或网络故障）"
                                         "（共 2 条）")]
    assert sent.message["text"].splitlines()[3:5] == [  # the stale reading is listed under its cause
        "- [严重] probe-A01 无法采集（设备或网络故障）",
        "  - [警告] probe-A01 的 env_temperature_celsius 已超过 3 个采集周期没有新数据"]
    room.engine.publish(PollReport("probe-A01", room.now, True, 0.1, 1), [Sample(
        "probe-A01", "env_temperature_celsius", 24.0, room.now, labels=PROBE)])
    room.at(1)
    assert room.titles() == [("resolved", "【已恢复】一号机房 · 监控：probe-A01 无法采集（设备或网络故障）")]
    assert room.engine.snapshot() == []


def test_stale_readings_are_an_alert_never_a_silent_ok(tmp_path: Path) -> None:
    room = Room(tmp_path, ["stale-reading"])
    room.feed(temp("A01", 24.0))
    room.at(90)  # exactly 3 intervals of 30 s: not yet
    assert room.engine.snapshot() == []
    room.at(1)
    room.at(0.5)
    assert room.titles() == [("firing", "【告警】警告 一号机房 · 监控：probe-A01 的 env_temperature_celsius 已超过 3 个"
                                         "采集周期没有新数据")]
    room.feed(temp("A01", 24.0))
    room.at(1)
    assert [k for k, _ in room.titles()] == ["resolved"]


def test_a_utility_outage_lists_the_ups_on_battery_alerts_under_it(tmp_path: Path) -> None:
    room = Room(tmp_path, ["utility-outage", "ups-on-battery"])
    room.feed(("ups-a", "ups_output_source", 5.0))
    room.feed(("ups-b", "ups_output_source", 5.0))
    room.at(0.5)
    (sent, *_) = room.sent
    assert room.titles() == [("firing", "【告警】严重 一号机房 · 供电：市电中断：全部 UPS 转为电池供电"
                                         "（共 3 条）")]
    assert sent.message["text"].splitlines()[3:6] == ["- [严重] 市电中断：全部 UPS 转为电池供电",
                                                      "  - [严重] ups-a 转为电池供电",
                                                      "  - [严重] ups-b 转为电池供电"]
    room.feed(("ups-a", "ups_output_source", 3.0), ("ups-b", "ups_output_source", 3.0))
    room.at(1)
    assert [k for k, _ in room.titles()] == ["resolved"]


def test_one_ups_on_battery_alone_is_its_own_alert(tmp_path: Path) -> None:
    room = Room(tmp_path, ["utility-outage", "ups-on-battery"])
    room.feed(("ups-a", "ups_output_source", 5.0), ("ups-b", "ups_output_source", 3.0))
    room.at(0.5)
    assert room.titles() == [("firing", "【告警】严重 一号机房 · 供电：ups-a 转为电池供电")]


def test_silence_by_label_with_author_and_reason(tmp_path: Path) -> None:
    room = Room(tmp_path, ["inlet-temperature-high"])
    store = room.engine.store
    sid = store.add_silence(["rack=A01"], room.now, room.now + 3600, "王伟", "A01 空调维保")
    room.at(1)
    room.feed(temp("A01", 28.0), temp("A02", 24.0))
    room.at(120)
    room.at(600)
    assert room.log() == [] and [a.state for a in room.engine.snapshot()] == ["firing"]
    (silence,) = store.silences(active_at=room.now)
    assert (silence.id, silence.author, silence.reason, silence.matchers) == (sid, "王伟", "A01 空调维保", ["rack=A01"])
    room.at(3000)  # the silence ended while the alert still fires: now it is heard
    room.at(1)
    assert [k for k, _ in room.titles()] == ["firing"]


def test_escalation_when_nobody_acknowledges(tmp_path: Path) -> None:
    room = Room(tmp_path, ["inlet-temperature-high"])
    room.feed(temp("A01", 28.0))
    room.at(120)
    room.at(0.5)
    assert [(k, c, r) for k, c, r, _ in room.log()] == [("firing", "noc", ()), ("firing", "ops", ("li",))]
    room.at(15 * 60 - 1)
    assert room.log() == []
    room.at(1)
    escalated = [(k, c, r, t[:11]) for k, c, r, t in room.log()]
    assert escalated == [("escalation", "ops", ("chen",), "【未确认升级·第2级】")]
    room.engine.ack(room.engine.snapshot()[0].incident, "陈敏", "已安排处理")
    assert [(k, c, r) for k, c, r, _ in room.log()] == [("ack", "noc", ()), ("ack", "ops", ("li", "chen"))]


def test_no_escalation_once_acknowledged(tmp_path: Path) -> None:
    room = Room(tmp_path, ["inlet-temperature-high"])
    room.feed(temp("A01", 28.0))
    room.at(120)
    room.at(0.5)
    room.engine.ack(room.engine.snapshot()[0].incident, "李娜")
    room.at(3600)
    assert [k for k, _, _, _ in room.log()] == ["firing", "firing", "ack", "ack"]


@pytest.mark.parametrize(("when", "working", "on_call"), [
    ((2026, 11, 25, 10, 0), True, ("wang",)),    # a Wednesday morning
    ((2026, 11, 25, 22, 0), False, ("li",)),     # the same evening
    ((2026, 11, 28, 10, 0), False, ("li",)),     # a Saturday
    ((2026, 10, 1, 10, 0), False, ("li",)),      # National Day, a Thursday: a holiday
    ((2026, 2, 14, 10, 0), True, ("wang",)),     # a Saturday made a working day (Spring Festival 调休)
    ((2026, 11, 25, 8, 29), False, ("li",)),
    ((2026, 11, 25, 17, 30), False, ("li",)),
])
def test_the_rota_knows_working_hours_holidays_and_make_up_days(
        when: tuple[int, ...], working: bool, on_call: tuple[str, ...]) -> None:
    rota = Rota(day=("wang",), rotation=Rotation(dt.date(2026, 1, 5), ("li",)))
    now = dt.datetime(*when, tzinfo=CST).timestamp()  # type: ignore[arg-type,misc]
    assert (rota.working(now), rota.on_call(now)) == (working, on_call)


def test_the_rotation_hands_over_weekly_at_the_start_of_working_hours() -> None:
    rota = Rota(rotation=Rotation(dt.date(2026, 1, 5), ("li", "zhang", "zhao"), days=7, handover=dt.time(8, 30)))
    at = [dt.datetime(2026, 1, d, h, m, tzinfo=CST).timestamp() for d, h, m in
          [(5, 8, 30), (12, 8, 29), (12, 8, 30), (19, 9, 0), (26, 9, 0)]]
    assert [rota.on_call(t) for t in at] == [("li",), ("li",), ("zhang",), ("zhao",), ("li",)]


def test_a_year_chinese_calendar_does_not_know_falls_back_to_weekdays() -> None:
    def unknown(day: dt.date) -> bool:
        raise NotImplementedError("no available data for year 2031")

    calendar = Calendar(unknown)
    assert [calendar.is_workday(dt.date(2031, 1, d)) for d in (6, 10, 11)] == [True, True, False]
    assert calendar.fallback_years == {2031}


def test_the_door_alarms_only_outside_working_hours(tmp_path: Path) -> None:
    day = dt.datetime(2026, 11, 25, 10, 0, tzinfo=CST).timestamp()
    room = Room(tmp_path, ["door-open-after-hours"], now=day)
    room.feed(("door-1", "env_contact_state", 4.0, PROBE))
    room.at(1)
    assert room.log() == []
    room.feed(("door-1", "env_contact_state", 2.0, PROBE))
    room.now = dt.datetime(2026, 10, 1, 10, 0, tzinfo=CST).timestamp()  # a holiday morning
    room.feed(("door-1", "env_contact_state", 4.0, PROBE))
    room.at(0.5)
    assert room.titles() == [("firing", "【告警】严重 一号机房 · 门禁安防：door-1 非工作时间机房门被打开")]


def test_trap_events_fire_at_once_and_a_cleared_trap_ends_them(tmp_path: Path) -> None:
    room = Room(tmp_path, ["ups-on-battery-trap"])
    room.engine.event(TrapEvent("ups-a", room.now, "on_battery", "critical", "test", ""))
    room.engine.event(TrapEvent("ups-a", room.now, "link_down", "warning", "test", ""))  # no rule for it: ignored
    room.at(0.5)
    assert room.titles() == [("firing", "【告警】严重 一号机房 · 供电：ups-a 发出电池供电通知（SNMP trap）")]
    room.engine.event(TrapEvent("ups-a", room.now, "on_battery", "cleared", "test", ""))
    room.at(0.1)
    assert [k for k, _ in room.titles()] == ["resolved"]
    room.engine.event(TrapEvent("ups-b", room.now, "on_battery", "critical", "test", ""))
    room.at(1)
    room.at(600)  # the clearing trap was lost: it ends by itself after resolve_after
    assert [k for k, _ in room.titles()] == ["firing", "resolved"]


def test_a_restart_renotifies_nothing_and_forgets_nothing(tmp_path: Path) -> None:
    room = Room(tmp_path, ["inlet-temperature-high", "water-leak"])
    room.feed(temp("A01", 28.0), ("leak-1", "env_contact_state", 4.0, PROBE))
    room.at(120)
    room.at(0.5)
    assert sorted(k for k, _ in room.titles()) == ["firing", "firing"]
    room.feed(("leak-1", "env_contact_state", 2.0, PROBE))  # latched
    room.engine.store.add_silence(["rack=A02"], room.now, room.now + 7200, "王伟", "维保")
    room.at(1)
    leak_incident = next(a.incident for a in room.engine.snapshot() if a.rule.name == "water-leak")
    room.engine.store.close()

    room.engine = room.start()  # "restart": the same store, a new engine
    room.feed(temp("A01", 28.1))
    room.at(1)
    room.at(60)
    assert room.log() == []
    states = sorted((a.rule.name, a.state, a.latched) for a in room.engine.snapshot())
    assert states == [("inlet-temperature-high", "firing", False), ("water-leak", "firing", True)]
    assert len(room.engine.store.silences(active_at=room.now)) == 1
    room.engine.ack(leak_incident, "王伟")  # the latched leak still waits for its acknowledgement
    assert [k for k, _ in room.titles()] == ["ack", "resolved"]


def test_an_acknowledgement_left_by_the_cli_or_panel_is_applied_on_the_next_tick(tmp_path: Path) -> None:
    room = Room(tmp_path, ["inlet-temperature-high"])
    room.feed(temp("A01", 28.0))
    room.at(120)
    room.at(0.5)
    incident = room.engine.snapshot()[0].incident
    cid = room.engine.store.add_command("ack", {"incident": incident, "by": "王伟", "note": "知道了"})
    room.at(1)
    assert room.engine.store.command_result(cid) == f"incident {incident} acknowledged by 王伟"
    row = room.engine.store.incident(incident)
    assert row is not None and (row.acked_by, row.ack_note) == ("王伟", "知道了")


def test_a_device_the_inventory_does_not_know_is_evaluated_without_a_crash(tmp_path: Path) -> None:
    room = Room(tmp_path, ["inlet-temperature-high", "device-down"])
    room.engine.publish(PollReport("ghost", room.now, False, 1.0, 0, error="timeout"), [])
    room.feed(("ghost", "env_temperature_celsius", 40.0, PROBE))
    room.at(60)
    assert [a.rule.name for a in room.engine.snapshot()] == ["device-down"]


def test_phase_imbalance_compares_a_devices_lines(tmp_path: Path) -> None:
    room = Room(tmp_path, ["ups-phase-imbalance"])

    def lines(*amps: float) -> None:
        room.feed(*(("ups-a", "ups_output_current_amperes", a, (("line", str(i + 1)),)) for i, a in enumerate(amps)))

    lines(100.0, 100.0, 60.0)  # (max - min) / max = 40 %
    room.at(600)
    lines(100.0, 100.0, 60.0)
    room.at(0.5)
    assert room.titles() == [("firing", "【告警】警告 一号机房 · 供电：ups-a 三相输出电流不平衡 40%")]
    lines(100.0, 100.0, 73.0)  # 27 %: under 30 % but over the clear threshold 25 %
    room.at(1)
    assert room.log() == []
    lines(100.0, 100.0, 80.0)
    room.at(1)
    assert [k for k, _ in room.titles()] == ["resolved"]


def test_pdu_current_against_its_rating(tmp_path: Path) -> None:
    room = Room(tmp_path, ["pdu-current-high"])
    room.feed(("pdu-A01-a", "pdu_phase_current_amperes", 25.0, (("phase", "1"),)))  # 78 % of 32 A
    room.at(300)
    assert room.engine.snapshot() == []
    room.feed(("pdu-A01-a", "pdu_phase_current_amperes", 26.0, (("phase", "1"),)))
    room.at(300)
    room.at(0.5)
    assert room.titles() == [("firing", "【告警】警告 一号机房 · 供电：A01 机柜 pdu-A01-a 电流 26.0 A，超过额定的 80%"
                                         "（25.6 A）")]


def test_a_pending_alert_does_not_fire_on_old_facts_after_a_restart(tmp_path: Path) -> None:
    room = Room(tmp_path, ["inlet-temperature-high"])
    room.feed(temp("A01", 28.0))
    room.at(60)  # pending, halfway through its 2 minutes
    room.engine.store.close()
    room.engine = room.start()
    room.at(3600)  # an hour later, no sample since: nothing fires
    assert room.engine.snapshot() == [] and room.log() == []
