"""Traps and informs: net-snmp's tools and the virtual room send, the receiver turns them into events.

The receiver runs for real on a free UDP port of 127.0.0.1; notifications come
from `snmptrap`/`snmpinform` (v1, v2c, v3) and from the lab when a fault is set.
Events are stored, exposed on /metrics and trigger a confirming poll; senders
the receiver does not know, wrong credentials and garbage are counted and
logged, and the receiver keeps receiving.
"""

from __future__ import annotations

import logging
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from collectors.background import PollerThread
from collectors.poller import Poller, PollerSettings
from collectors.trap_rules import TRAPS_DIR, classify, load_rules
from collectors.traps import TrapReceiver, TrapReceiverError, TrapReceiverThread
from conftest import copy_reference, free_port, require_command
from dcops.cli import main
from dcops.types import PollReport, Sample, TrapEvent
from inventory import InventoryError, load_inventory
from inventory.model import Inventory
from lab import LabRunner
from lab.traps import FaultNotifier, Notification, send
from outputs.prometheus import render_metrics
from outputs.store import Store

UPS_ON_BATTERY = "1.3.6.1.2.1.33.2.1"
ALARM_ADDED, ALARM_REMOVED = "1.3.6.1.2.1.33.2.3", "1.3.6.1.2.1.33.2.4"
ALARM_DESCR = "1.3.6.1.2.1.33.1.6.2.1.2.1"
INPUT_BAD, ON_BATTERY_ALARM = "1.3.6.1.2.1.33.1.6.3.6", "1.3.6.1.2.1.33.1.6.3.2"
SWITCH_STATUS = "1.3.6.1.4.1.3854.1.2.2.1.18.1.3.0"
LINK_DOWN, LINK_UP = "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.6.3.1.1.5.4"
V3_USER, V3_AUTH, V3_PRIV = "dcops-trap", "trap-auth-key-1", "trap-priv-key-1"
DOOR_ENGINE_ID = "80001f8880aabbccdd01"


def wait_for(what: str, condition: Callable[[], Any], seconds: float = 30.0) -> Any:
    """Poll `condition` until it is truthy; fail naming `what` (not a timing assertion: a deadline)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    pytest.fail(f"gave up waiting for {what}")


# ---------------------------------------------------------------- the rules (data)

RULES = load_rules()


@pytest.mark.parametrize(("trap_oid", "varbinds", "device_class", "expected"), [
    (UPS_ON_BATTERY, [], "ups", ("upsTrapOnBattery", "on_battery", "critical")),
    ("1.3.6.1.2.1.33.2.0.1", [], "ups", ("upsTrapOnBattery", "on_battery", "critical")),
    (ALARM_ADDED, [(ALARM_DESCR, INPUT_BAD)], "ups",
     ("upsTrapAlarmEntryAdded upsAlarmInputBad", "input_failure", "critical")),
    (ALARM_REMOVED, [(ALARM_DESCR, INPUT_BAD)], "ups",
     ("upsTrapAlarmEntryRemoved upsAlarmInputBad", "input_failure", "cleared")),
    (ALARM_REMOVED, [(ALARM_DESCR, ON_BATTERY_ALARM)], "ups",
     ("upsTrapAlarmEntryRemoved upsAlarmOnBattery", "on_battery", "cleared")),
    (ALARM_ADDED, [(ALARM_DESCR, "1.3.6.1.2.1.33.1.6.3.5")], "ups", ("upsTrapAlarmEntryAdded", "ups_alarm", "warning")),
    ("1.3.6.1.4.1.318.0.5", [], "ups", ("upsOnBattery", "on_battery", "critical")),
    ("1.3.6.1.4.1.318.0.9", [], "ups", ("powerRestored", "on_battery", "cleared")),
    ("1.3.6.1.4.1.3854.1.0.7", [(SWITCH_STATUS, "4")], "leak", ("sensorProbe switch status alarm", "leak", "critical")),
    ("1.3.6.1.4.1.3854.1.0.7", [(SWITCH_STATUS, "2")], "leak", ("sensorProbe switch status normal", "leak", "cleared")),
    ("1.3.6.1.4.1.3854.1.0.7", [(SWITCH_STATUS, "6")], "door",
     ("sensorProbe switch status alarm", "door_open", "critical")),
    ("1.3.6.1.4.1.3854.1.0.7", [(SWITCH_STATUS, "4")], "smoke",
     ("sensorProbe switch status alarm", "smoke", "critical")),
    ("1.3.6.1.4.1.3854.1.0.7", [], "env", ("sensorProbe sensor status", "sensor_status", "warning")),
    (LINK_DOWN, [("1.3.6.1.2.1.2.2.1.1.3", "3")], "switch", ("linkDown", "link_down", "warning")),
    (LINK_UP, [], "switch", ("linkUp", "link_down", "cleared")),
])
def test_the_rules_say_what_a_notification_means(trap_oid: str, varbinds: list[tuple[str, str]],
                                                 device_class: str, expected: tuple[str, str, str]) -> None:
    rule = classify(RULES, trap_oid, varbinds)
    assert rule is not None
    assert (rule.name, rule.kind_for(device_class), rule.severity) == expected


def test_a_notification_no_rule_knows_has_no_rule() -> None:
    assert classify(RULES, "1.3.6.1.4.1.99999.0.1", []) is None
    assert classify(RULES, "1.3.6.1.2.1.33.2.10", []) is None  # not under an exact rule's OID


GOOD_RULE = ("rules:\n  - name: upsTrapOnBattery\n    oid: 1.3.6.1.2.1.33.2.1\n    kind: on_battery\n"
             "    severity: critical\n")


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("    kind: on_battery\n", "    kind: on_battery\n    colour: red\n",
     "x.yml:5: rules[0].colour: unknown key (allowed: kind, kind_by_class, match, name, oid, "
     "oid_prefix, poll, severity)"),
    ("    oid: 1.3.6.1.2.1.33.2.1\n", "    oid: 1.3.6.1.2.1.33.2.1\n    oid_prefix: 1.3.6.1.2.1.33\n",
     "x.yml:2: rules[0] (upsTrapOnBattery).oid: give exactly one of oid (a notification) or oid_prefix (a subtree)"),
    ("    oid: 1.3.6.1.2.1.33.2.1\n", "",
     "x.yml:2: rules[0] (upsTrapOnBattery).oid: give exactly one of oid (a notification) or oid_prefix (a subtree)"),
    ("oid: 1.3.6.1.2.1.33.2.1", "oid: upsTrapOnBattery",
     "x.yml:3: rules[0] (upsTrapOnBattery).oid: 'upsTrapOnBattery' is not a numeric OID"),
    ("severity: critical", "severity: major",
     "x.yml:5: rules[0] (upsTrapOnBattery).severity: 'major' is not one of: critical, warning, info, cleared"),
    ("    kind: on_battery\n", "    kind: on_battery\n    kind_by_class: {toaster: burnt}\n",
     "x.yml:5: rules[0] (upsTrapOnBattery).kind_by_class.toaster: unknown device class (allowed: cooling, door, "
     "env, leak, meter, pdu, smoke, switch, ups)"),
    ("    kind: on_battery\n", "    kind: on_battery\n    match: [1.3.6.1.2.1.33.1.6.2.1.2]\n",
     "x.yml:5: rules[0] (upsTrapOnBattery).match: expected a mapping of var-bind OID: [values]"),
    ("    kind: on_battery\n", "    kind: on_battery\n    match: {1.3.6.1.2.1.33.1.6.2.1.2: [[1]]}\n",
     "x.yml:5: rules[0] (upsTrapOnBattery).match.1.3.6.1.2.1.33.1.6.2.1.2[0]: expected an integer or an OID"),
    ("    kind: on_battery\n", "    kind: on_battery\n    poll: sometimes\n",
     "x.yml:5: rules[0] (upsTrapOnBattery).poll: expected true or false"),
    ("    kind: on_battery\n", "",
     "x.yml:2: rules[0].kind: missing required key"),
], ids=["unknown key", "oid and oid_prefix", "neither oid nor prefix", "a name, not an OID", "unknown severity",
        "unknown device class", "match not a mapping", "match value a list", "poll not a boolean", "no kind"])
def test_bad_rules_name_file_line_and_key(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD_RULE
    (tmp_path / "x.yml").write_text(GOOD_RULE.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InventoryError) as caught:
        load_rules(tmp_path)
    assert [f"{Path(e.file).name}:{e.line}: {e.key}: {e.message}" for e in caught.value.errors] == [expected]


def test_the_shipped_rules_load_from_their_own_folder() -> None:
    assert TRAPS_DIR.name == "traps" and len(RULES) >= 20
    assert {r.kind for r in RULES} >= {"on_battery", "input_failure", "link_down", "contact_alarm"}


# ---------------------------------------------------------------- the receiver, for real


V3_DOOR = ("  snmp:\n    version: 3\n    user: dcops-trap\n    auth_protocol: SHA256\n"
           "    auth_key:\n      secret: trap-auth\n    priv_key:\n      secret: trap-priv\n"
           f"    engine_id: '0x{DOOR_ENGINE_ID}'\n")


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    """The reference room (every device on 127.0.0.1), door-1 speaking SNMPv3."""
    site = copy_reference(tmp_path_factory.mktemp("traps"))
    devices = site / "devices.yml"
    text = devices.read_text(encoding="utf-8")
    door = "    community:\n      secret: community-door-1\n"
    assert door in text
    devices.write_text(text.replace("  snmp:\n    version: 2c\n" + door, V3_DOOR), encoding="utf-8")
    with open(site / "secrets.yml", "a", encoding="utf-8") as f:
        f.write(f"trap-auth: {V3_AUTH}\ntrap-priv: {V3_PRIV}\n")
    return load_inventory(site)


class Receiving:
    """A receiver serving on a free port; what it produced."""

    def __init__(self, inventory: Inventory, **kwargs: Any) -> None:
        self.events: list[TrapEvent] = []
        self.polls: list[str] = []
        self.port = free_port(socket.SOCK_DGRAM)
        self.receiver = TrapReceiver(inventory, port=self.port, on_event=[self.events.append],
                                     request_poll=self.polls.append, **kwargs)
        self.thread = TrapReceiverThread(self.receiver)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def next_event(self, before: int) -> TrapEvent:
        return wait_for("an event", lambda: self.events[before] if len(self.events) > before else None)  # type: ignore[no-any-return]

    def result(self, name: str, count: int = 1) -> None:
        wait_for(f"{count} x {name}", lambda: self.receiver.results[name] >= count)


@pytest.fixture
def rx(inventory: Inventory) -> Iterator[Receiving]:
    receiving = Receiving(inventory)
    receiving.thread.start()
    try:
        yield receiving
    finally:
        receiving.thread.stop()


def net_snmp(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_command(tool), *args], capture_output=True, text=True, timeout=30)


def test_a_v2c_trap_from_snmptrap_is_an_event_of_the_device_its_community_names(rx: Receiving) -> None:
    done = net_snmp("snmptrap", "-v2c", "-c", "lab-ups-b", rx.target, "", UPS_ON_BATTERY,
                    "1.3.6.1.2.1.33.1.2.3.0", "i", "25")
    assert done.returncode == 0, done.stderr
    event = rx.next_event(0)
    assert (event.device, event.kind, event.severity, event.notification) == (
        "ups-b", "on_battery", "critical", "upsTrapOnBattery")
    assert event.oid == UPS_ON_BATTERY and event.source.startswith("127.0.0.1:")
    assert ("1.3.6.1.2.1.33.1.2.3.0", "25") in event.varbinds
    rx.result("event")  # counted after the poll request
    assert rx.polls == ["ups-b"]


def test_a_v2c_inform_from_snmpinform_is_acknowledged_and_an_event(rx: Receiving) -> None:
    done = net_snmp("snmpinform", "-v2c", "-c", "lab-leak-1", "-r", "0", "-t", "5", rx.target, "",
                    "1.3.6.1.4.1.3854.1.0.7", SWITCH_STATUS, "i", "4")
    assert done.returncode == 0, done.stderr  # snmpinform waits for our acknowledgement
    event = rx.next_event(0)
    assert (event.device, event.kind, event.severity) == ("leak-1", "leak", "critical")


def test_a_v1_trap_arrives_in_its_v2_form(rx: Receiving) -> None:
    """APC PowerNet upsOnBattery is enterprise apc, specific 5: snmpTrapOID 1.3.6.1.4.1.318.0.5 (RFC 3584)."""
    done = net_snmp("snmptrap", "-v1", "-c", "lab-ups-a", rx.target, "1.3.6.1.4.1.318", "127.0.0.1", "6", "5", "",
                    "1.3.6.1.4.1.318.1.1.1.2.2.3.0", "t", "180000")
    assert done.returncode == 0, done.stderr
    event = rx.next_event(0)
    assert (event.device, event.kind, event.notification, event.oid) == (
        "ups-a", "on_battery", "upsOnBattery", "1.3.6.1.4.1.318.0.5")


def test_a_link_down_trap_is_an_event(rx: Receiving) -> None:
    net_snmp("snmptrap", "-v2c", "-c", "lab-pdu-A01-a", rx.target, "", LINK_DOWN,
             "1.3.6.1.2.1.2.2.1.1.3", "i", "3", "1.3.6.1.2.1.2.2.1.8.3", "i", "2")
    event = rx.next_event(0)
    assert (event.device, event.kind, event.severity) == ("pdu-A01-a", "link_down", "warning")


def test_a_v3_authpriv_inform_is_an_event(rx: Receiving) -> None:
    done = net_snmp("snmpinform", "-v3", "-u", V3_USER, "-l", "authPriv", "-a", "SHA-256", "-A", V3_AUTH,
                    "-x", "AES", "-X", V3_PRIV, "-r", "0", "-t", "5", rx.target, "",
                    "1.3.6.1.4.1.3854.1.0.7", SWITCH_STATUS, "i", "4")
    assert done.returncode == 0, done.stderr
    event = rx.next_event(0)
    assert (event.device, event.kind, event.severity) == ("door-1", "door_open", "critical")
    assert rx.receiver.results["bad_community"] == 0  # the engine discovery step is not a refusal


def test_a_v3_authpriv_trap_from_the_engine_id_the_inventory_gives_is_an_event(rx: Receiving) -> None:
    done = net_snmp("snmptrap", "-v3", "-e", f"0x{DOOR_ENGINE_ID}", "-u", V3_USER, "-l", "authPriv",
                    "-a", "SHA-256", "-A", V3_AUTH, "-x", "AES", "-X", V3_PRIV, rx.target, "",
                    "1.3.6.1.4.1.3854.1.0.7", SWITCH_STATUS, "i", "2")
    assert done.returncode == 0, done.stderr
    event = rx.next_event(0)
    assert (event.device, event.kind, event.severity) == ("door-1", "door_open", "cleared")


def _dropped(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", r.getMessage()) for r in caplog.records
            if r.name == "collectors.traps" and r.levelno == logging.WARNING]


@pytest.mark.parametrize(("args", "result", "message"), [
    (["-v2c", "-c", "not-a-community"], "bad_community",
     "dropped a datagram from 127.0.0.1:PORT: unknown community"),
    (["-v3", "-e", "0x80001f8880ffffffff", "-u", V3_USER, "-l", "authPriv", "-a", "SHA-256", "-A", V3_AUTH,
      "-x", "AES", "-X", V3_PRIV], "unknown_user",
     "dropped a datagram from 127.0.0.1:PORT: unknown SNMPv3 user (or, for a v3 trap, an engine ID the inventory "
     "does not give)"),
    (["-v3", "-e", f"0x{DOOR_ENGINE_ID}", "-u", V3_USER, "-l", "authPriv", "-a", "SHA-256", "-A", "wrong-auth-key",
      "-x", "AES", "-X", V3_PRIV], "wrong_digest",
     "dropped a datagram from 127.0.0.1:PORT: wrong SNMPv3 authentication key"),
], ids=["unknown community", "v3 trap from an unknown engine", "v3 wrong auth key"])
def test_refused_notifications_are_counted_and_logged(rx: Receiving, caplog: pytest.LogCaptureFixture,
                                                      args: list[str], result: str, message: str) -> None:
    caplog.set_level(logging.WARNING, logger="collectors.traps")
    net_snmp("snmptrap", *args, rx.target, "", UPS_ON_BATTERY)
    rx.result(result)
    assert rx.events == [] and rx.polls == []
    assert message in _dropped(caplog)


@pytest.fixture
def rx_public(inventory: Inventory) -> Iterator[Receiving]:
    receiving = Receiving(inventory, communities=["public-trap"])
    receiving.thread.start()
    try:
        yield receiving
    finally:
        receiving.thread.stop()


def test_garbage_and_unknown_senders_never_stop_the_receiver(rx_public: Receiving,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    rx = rx_public
    caplog.set_level(logging.WARNING, logger="collectors.traps")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for junk in (b"garbage", b"\x30\x03\x02\x01", b"", bytes(range(256)) * 4):
            s.sendto(junk, ("127.0.0.1", rx.port))
    rx.result("malformed", 3)
    # a community the receiver accepts, but no device at 127.0.0.1 has it as its own: an unknown source
    send([Notification("?", "public-trap", UPS_ON_BATTERY)], ("127.0.0.1", rx.port))
    rx.result("unknown_source")
    assert "dropped a datagram from 127.0.0.1:PORT: not a valid SNMP message" in _dropped(caplog)
    assert (f"notification {UPS_ON_BATTERY} from 127.0.0.1:PORT matches no device in the inventory "
            "(community not shown)") in _dropped(caplog)
    net_snmp("snmptrap", "-v2c", "-c", "lab-smoke-1", rx.target, "", "1.3.6.1.4.1.3854.1.0.7", SWITCH_STATUS, "i", "4")
    assert rx.next_event(0).device == "smoke-1"  # still receiving


def test_a_site_trap_community_identifies_a_device_by_address_alone(inventory: Inventory) -> None:
    """Devices usually send traps with a trap community, not their read community: one device per address."""
    import dataclasses

    ups = dataclasses.replace(inventory.devices["ups-a"], host="127.0.0.1")
    alone = dataclasses.replace(inventory, devices={"ups-a": ups})
    receiving = Receiving(alone, communities=["public-trap"])
    receiving.thread.start()
    try:
        send([Notification("ups-a", "public-trap", UPS_ON_BATTERY)], ("127.0.0.1", receiving.port))
        assert receiving.next_event(0).device == "ups-a"
    finally:
        receiving.thread.stop()


def test_a_notification_without_snmp_trap_oid_and_an_unknown_one(rx: Receiving,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="collectors.traps")
    assert rx.receiver.receive(("127.0.0.1", 5), [("1.3.6.1.2.1.1.3.0", "7")], community="lab-ups-a") is None
    assert rx.receiver.results["no_trap_oid"] == 1
    assert "a notification from 127.0.0.1:PORT has no snmpTrapOID.0: ignored" in _dropped(caplog)
    other = rx.receiver.receive(("127.0.0.1", 5), [("1.3.6.1.6.3.1.1.4.1.0", "1.3.6.1.4.1.99999.0.1")],
                                community="lab-ups-a")
    assert other is not None and (other.kind, other.severity, other.notification) == (
        "other", "info", "1.3.6.1.4.1.99999.0.1")
    assert rx.polls == []  # nothing known changed: no confirming poll


def test_a_busy_port_is_a_clear_error(inventory: Inventory) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        thread = TrapReceiverThread(TrapReceiver(inventory, port=port))
        with pytest.raises(TrapReceiverError) as caught:
            thread.start()
    assert str(caught.value) == f"cannot receive traps on 127.0.0.1:{port}: Address already in use"


def test_different_keys_for_one_v3_user_are_a_warning(inventory: Inventory, caplog: pytest.LogCaptureFixture) -> None:
    import dataclasses

    door = inventory.devices["door-1"]
    other = dataclasses.replace(door, name="door-2", snmp=dataclasses.replace(door.snmp, engine_id="",
                                                                              priv_key=door.snmp.auth_key))
    twice = dataclasses.replace(inventory, devices={"door-1": door, "door-2": other})
    caplog.set_level(logging.WARNING, logger="collectors.traps")
    receiving = Receiving(twice)
    receiving.thread.start()
    receiving.thread.stop()
    assert ("devices use SNMPv3 user 'dcops-trap' with different keys: informs are accepted with the keys of the "
            "first only (door-2 is not); give each its own user") in _dropped(caplog)


def test_run_refuses_a_bad_traps_address() -> None:
    result = CliRunner().invoke(main, ["run", "--traps", "nonsense"])
    assert result.exit_code == 2
    assert "Error: Invalid value for --traps: 'nonsense' is not HOST:PORT" in result.output


# ---------------------------------------------------------------- stored, exposed


def event(device: str = "ups-a", kind: str = "on_battery", severity: str = "critical", ts: float = 1000.0) -> TrapEvent:
    return TrapEvent(device=device, ts=ts, kind=kind, severity=severity, notification="upsTrapOnBattery",
                     oid=UPS_ON_BATTERY, source="127.0.0.1:40000", varbinds=(("1.3.6.1.2.1.33.1.2.3.0", "25"),))


def test_the_store_keeps_events_and_counts_that_outlive_retention(tmp_path: Path, inventory: Inventory) -> None:
    now = [1000.0]
    store = Store(tmp_path / "s.db", retention=3600, clock=lambda: now[0])
    store.write_event(event(ts=1000.0))
    store.write_event(event(ts=1010.0, severity="cleared"))
    store.write_event(event(device="leak-1", kind="leak", ts=1020.0))
    assert [(e.device, e.kind, e.severity) for e in store.events()] == [
        ("leak-1", "leak", "critical"), ("ups-a", "on_battery", "cleared"), ("ups-a", "on_battery", "critical")]
    assert store.events(device="ups-a", limit=1)[0].varbinds == (("1.3.6.1.2.1.33.1.2.3.0", "25"),)
    now[0] = 1000.0 + 7200  # past retention: the next write prunes old events, never the counts
    store.write_event(event(ts=now[0]))
    assert [e.ts for e in store.events()] == [now[0]]
    assert store.event_counts() == [("leak-1", "leak", "critical", 1, 1020.0),
                                    ("ups-a", "on_battery", "cleared", 1, 1010.0),
                                    ("ups-a", "on_battery", "critical", 2, now[0])]
    body = render_metrics(store, inventory)[0].decode()
    assert ('dcops_trap_events_total{class="ups",device="ups-a",kind="on_battery",location="room-1",rack="",'
            'severity="critical"} 2.0') in body
    assert ('dcops_trap_last_event_timestamp_seconds{class="leak",device="leak-1",kind="leak",location="room-1",'
            'rack=""} 1020.0') in body


def test_the_receiver_counts_datagrams_by_result_for_metrics(inventory: Inventory) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    receiver = TrapReceiver(inventory)
    receiver._by_address = receiver._index()
    receiver.receive(("127.0.0.1", 5), [("1.3.6.1.6.3.1.1.4.1.0", UPS_ON_BATTERY)], community="lab-ups-a")
    receiver.receive(("10.9.9.9", 5), [("1.3.6.1.6.3.1.1.4.1.0", UPS_ON_BATTERY)], community="lab-ups-a")
    registry = CollectorRegistry()
    registry.register(receiver.collector())
    body = generate_latest(registry).decode()
    assert 'dcops_trap_datagrams_total{result="event"} 1.0' in body
    assert 'dcops_trap_datagrams_total{result="unknown_source"} 1.0' in body


def test_promtool_accepts_the_event_metrics(tmp_path: Path, inventory: Inventory) -> None:
    promtool = require_command("promtool")
    store = Store(tmp_path / "s.db")
    store.write_event(event())
    body = render_metrics(store, inventory)[0]
    done = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
    problems = [line for line in done.stdout.decode().splitlines() + done.stderr.decode().splitlines()
                if "trap" in line]
    assert problems == []


# ---------------------------------------------------------------- the whole loop, with the virtual room


class Recorder:
    def __init__(self) -> None:
        self.polls: list[tuple[PollReport, list[Sample]]] = []
        self.lock = threading.Lock()

    def __call__(self, report: PollReport, samples: Any) -> None:
        with self.lock:
            self.polls.append((report, list(samples)))

    def of(self, device: str) -> list[tuple[PollReport, list[Sample]]]:
        with self.lock:
            return [p for p in self.polls if p[0].device == device]


def test_a_fault_in_the_room_becomes_events_and_a_confirming_poll(running_room: LabRunner, tmp_path: Path) -> None:
    """Utility lost: the lab's UPSs trap, the events are stored, and the poller re-reads them at once."""
    inventory = running_room.room.inventory
    ups = [d for d in inventory.devices.values() if d.device_class == "ups"]
    store = Store(tmp_path / "dcops.db")
    recorder = Recorder()
    poller = Poller(inventory, devices=ups, outputs=[store.publish, recorder],
                    settings=PollerSettings(interval=3600, timeout=2.0))  # no second poll but a confirming one
    port = free_port(socket.SOCK_DGRAM)
    receiver = TrapReceiver(inventory, port=port, on_event=[store.write_event], request_poll=poller.request_poll)
    polling, receiving = PollerThread(poller), TrapReceiverThread(receiver)
    receiving.start()
    polling.start()
    try:
        wait_for("the first poll of each UPS", lambda: all(recorder.of(d.name) for d in ups))
        for d in ups:
            first = recorder.of(d.name)[0]
            assert first[0].up, first[0].error
            assert _source(first[1]) == "normal"
        running_room.faults.utility_lost = True
        running_room.room.render()
        sent = FaultNotifier(inventory, running_room.faults, ("127.0.0.1", port))
        sent._seen.utility_lost = False
        notifications = sent.check()
        assert {(n.device, n.trap_oid) for n in notifications} == {
            (d.name, t) for d in ups for t in (UPS_ON_BATTERY, ALARM_ADDED)}
        for d in ups:
            confirming = wait_for(f"a confirming poll of {d.name}", lambda d=d: recorder.of(d.name)[1:])[0]
            assert confirming[0].up, confirming[0].error
            assert _source(confirming[1]) == "battery"
        stored = {(e.device, e.kind, e.severity) for e in store.events()}
        assert stored == {(d.name, k, "critical") for d in ups for k in ("on_battery", "input_failure")}
    finally:
        polling.stop()
        receiving.stop()
        running_room.faults.clear()
        running_room.room.render()


def _source(samples: list[Sample]) -> str:
    return next(s.text for s in samples if s.metric == "ups_output_source")


def test_the_lab_sends_contact_notifications_as_faults_change(running_room: LabRunner) -> None:
    inventory = running_room.room.inventory
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        notifier = FaultNotifier(inventory, running_room.faults, s.getsockname())
        try:
            running_room.faults.leak = True
            sent = notifier.check()
            assert [(n.device, n.varbinds) for n in sent] == [("leak-1", ((SWITCH_STATUS, 4),))]
            assert _community_and_varbinds(s.recv(65535)) == ("lab-leak-1", [
                ("1.3.6.1.2.1.1.3.0", "0"), ("1.3.6.1.6.3.1.1.4.1.0", "1.3.6.1.4.1.3854.1.0.1"), (SWITCH_STATUS, "4")])
            assert notifier.check() == []  # nothing changed since
            running_room.faults.leak = False
            assert [n.varbinds for n in notifier.check()] == [((SWITCH_STATUS, 2),)]
        finally:
            running_room.faults.clear()


def _community_and_varbinds(data: bytes) -> tuple[str, list[tuple[str, str]]]:
    from pyasn1.codec.ber import decoder
    from pysnmp.proto import api

    proto = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    msg, _ = decoder.decode(data, asn1Spec=proto.Message())
    pdu = proto.apiMessage.get_pdu(msg)
    return (str(proto.apiMessage.get_community(msg)),
            [(str(o), v.prettyPrint()) for o, v in proto.apiPDU.get_varbinds(pdu)])
