"""Notifiers against real servers on loopback: SMTP (aiosmtpd), a webhook receiver standing in for the
WeCom and DingTalk robots, an SMS gateway and apprise; retries, backoff, isolation, restarts, secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from alerts_receivers import Mailbox, Receiver, Request, servers

from alerts.config import ConfigError, Policy, load_policy
from alerts.notifiers import Message, NotifyError
from alerts.notifiers.dingtalk import sign
from alerts.notifiers.dispatch import Dispatcher, RetryPolicy
from alerts.state import FAILED, SENT, AlertStore
from conftest import free_port
from dcops.secrets import SecretStore

MESSAGE = Message(kind="firing", incident=7, status="firing", severity="critical",
                  title="【告警】严重 一号机房 · 消防与漏水：leak-1 检测到漏水",
                  text="事件 #7\n- [严重] leak-1 检测到漏水\n",
                  short="【dcops】#7 告警 严重 一号机房 · 消防与漏水：leak-1 检测到漏水",
                  markdown="### 漏水\n- leak-1 检测到漏水", ts=1795543200.0, group={"room": "room-1"},
                  alerts=[{"rule": "water-leak", "labels": {"device": "leak-1"}}])
DING_SECRET = "SEC0123456789abcdef"


@pytest.fixture
def net() -> Iterator[tuple[Receiver, Mailbox]]:
    yield from servers()


def policy(tmp_path: Path, receiver: Receiver, box: Mailbox, extra: str = "") -> Policy:
    secrets = SecretStore({
        "hook": receiver.url("/hook"), "wecom": receiver.url("/cgi-bin/webhook/send?key=KEY-1"),
        "ding": receiver.url("/robot/send?access_token=TOKEN-1"), "ding-sign": DING_SECRET,
        "sms": receiver.url("/sms"), "sms-token": "TOKEN-SMS", "apprise": f"json://127.0.0.1:{receiver.port}/apprise",
        "dead": f"http://127.0.0.1:{free_port()}/nobody", "slow": receiver.url("/slow")})
    path = tmp_path / "notify.yml"
    path.write_text(f"""\
channels:
  mail: {{type: email, host: 127.0.0.1, port: {box.port}, from: dcops@dc.example.gov.cn, to: [noc@dc.example.gov.cn]}}
  hook: {{type: webhook, url: {{secret: hook}}}}
  wecom: {{type: wecom, url: {{secret: wecom}}}}
  ding: {{type: dingtalk, url: {{secret: ding}}, secret: {{secret: ding-sign}}}}
  sms: {{type: sms, url: {{secret: sms}}, token: {{secret: sms-token}}}}
  apprise: {{type: apprise, url: {{secret: apprise}}}}
  dead: {{type: webhook, url: {{secret: dead}}, timeout: 2}}
  slow: {{type: webhook, url: {{secret: slow}}, timeout: 30}}
{extra}escalation:
- {{after: 0s, notify: [hook]}}
""", encoding="utf-8")
    return load_policy(path, secrets)


def test_email_reaches_a_real_smtp_server(tmp_path: Path, net: tuple[Receiver, Mailbox]) -> None:
    receiver, box = net
    policy(tmp_path, receiver, box).channels["mail"].send(MESSAGE, ["wang@dc.example.gov.cn"])
    ((sender, rcpts, mail),) = box.wait(1)
    assert sender == "dcops@dc.example.gov.cn"
    assert rcpts == ["noc@dc.example.gov.cn", "wang@dc.example.gov.cn"]
    assert mail["Subject"] == MESSAGE.title
    assert (mail["X-Dcops-Incident"], mail["X-Dcops-Kind"]) == ("7", "firing")
    assert mail.get_content().replace("\r\n", "\n") == MESSAGE.text  # SMTP lines end in CRLF


def test_an_smtp_refusal_is_a_clear_error(tmp_path: Path, net: tuple[Receiver, Mailbox]) -> None:
    receiver, box = net
    box.refuse = "554 5.7.1 Message rejected"
    with pytest.raises(NotifyError) as exc:
        policy(tmp_path, receiver, box).channels["mail"].send(MESSAGE, [])
    assert str(exc.value) == (f"mail: SMTP 127.0.0.1:{box.port}: (554, b'5.7.1 Message rejected')")


def test_the_generic_webhook_gets_the_whole_message(tmp_path: Path, net: tuple[Receiver, Mailbox]) -> None:
    receiver, box = net
    policy(tmp_path, receiver, box).channels["hook"].send(MESSAGE, ["wang"])
    (req,) = receiver.on("/hook")
    assert req.headers["Content-Type"] == "application/json; charset=utf-8"
    assert {k: req.body[k] for k in ("version", "receiver", "recipients", "kind", "incident", "status", "title")} == {
        "version": "1", "receiver": "hook", "recipients": ["wang"], "kind": "firing", "incident": 7,
        "status": "firing", "title": MESSAGE.title}
    assert req.body["alerts"] == [{"rule": "water-leak", "labels": {"device": "leak-1"}}]


def test_wecom_group_robot_format_and_its_refusal(tmp_path: Path, net: tuple[Receiver, Mailbox]) -> None:
    receiver, box = net
    wecom = policy(tmp_path, receiver, box).channels["wecom"]
    wecom.send(MESSAGE, [])
    (req,) = receiver.on("/cgi-bin/webhook/send")
    assert req.query == {"key": "KEY-1"}
    assert req.body == {"msgtype": "markdown", "markdown": {"content": MESSAGE.markdown}}
    receiver.answers["/cgi-bin/webhook/send"] = lambda r: (200, {"errcode": 93000, "errmsg": "invalid webhook url"})
    with pytest.raises(NotifyError) as exc:
        wecom.send(MESSAGE, [])
    assert str(exc.value) == "wecom: robot refused the message (errcode 93000: invalid webhook url)"


def test_dingtalk_robot_signs_its_url(tmp_path: Path, net: tuple[Receiver, Mailbox]) -> None:
    receiver, box = net
    policy(tmp_path, receiver, box).channels["ding"].send(MESSAGE, ["13800000001"])
    (req,) = receiver.on("/robot/send")
    ts = req.query["timestamp"]
    expected = base64.b64encode(hmac.new(DING_SECRET.encode(), f"{ts}\n{DING_SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert req.query["access_token"] == "TOKEN-1"
    assert req.query["sign"] == expected  # parse_qsl has undone the URL encoding
    assert req.body == {"msgtype": "markdown",
                        "markdown": {"title": MESSAGE.title, "text": MESSAGE.markdown + "\n\n@13800000001"},
                        "at": {"atMobiles": ["13800000001"], "isAtAll": False}}


def test_dingtalk_sign_is_url_encoded_base64_hmac_sha256() -> None:
    raw = hmac.new(b"SECabc", b"1700000000000\nSECabc", hashlib.sha256).digest()
    assert sign("SECabc", 1700000000000) == urllib.parse.quote_plus(base64.b64encode(raw).decode())


def test_sms_gateway(tmp_path: Path, net: tuple[Receiver, Mailbox]) -> None:
    receiver, box = net
    sms = policy(tmp_path, receiver, box).channels["sms"]
    sms.send(MESSAGE, ["13800000001", "13800000002"])
    (req,) = receiver.on("/sms")
    assert req.headers["Authorization"] == "Bearer TOKEN-SMS"
    assert req.body == {"to": ["13800000001", "13800000002"], "text": MESSAGE.short}
    receiver.answers["/sms"] = lambda r: (200, {"code": 40001, "message": "余额不足"})
    with pytest.raises(NotifyError) as exc:
        sms.send(MESSAGE, ["13800000001"])
    assert str(exc.value) == "sms: gateway refused the message (code 40001: 余额不足)"


def test_apprise_where_it_does_the_job(tmp_path: Path, net: tuple[Receiver, Mailbox]) -> None:
    receiver, box = net
    policy(tmp_path, receiver, box).channels["apprise"].send(MESSAGE, [])
    (req,) = receiver.on("/apprise")
    assert (req.body["title"], req.body["message"]) == (MESSAGE.title, MESSAGE.text.strip())
    receiver.answers["/apprise"] = lambda r: (500, {})
    with pytest.raises(NotifyError) as exc:
        policy(tmp_path, receiver, box).channels["apprise"].send(MESSAGE, [])
    assert str(exc.value).startswith("apprise: apprise could not deliver: ")


def test_errors_never_show_the_secret_url(tmp_path: Path, net: tuple[Receiver, Mailbox]) -> None:
    receiver, box = net
    pol = policy(tmp_path, receiver, box)
    with pytest.raises(NotifyError) as exc:
        pol.channels["dead"].send(MESSAGE, [])
    assert str(exc.value) == "dead: cannot reach the server: [Errno 111] Connection refused"
    dump = repr(pol.channel_options) + repr(vars(pol.channels["ding"])) + repr(vars(pol.channels["sms"]))
    for secret in ("KEY-1", "TOKEN-1", DING_SECRET, "TOKEN-SMS", str(receiver.port)):
        assert secret not in dump
    assert "<secret>" in dump


def test_retries_with_backoff_then_success(tmp_path: Path, net: tuple[Receiver, Mailbox]) -> None:
    receiver, box = net
    failures = iter([(500, {"error": "busy"}), (502, {"error": "bad gateway"})])
    receiver.answers["/hook"] = lambda r: next(failures, (200, {}))
    store = AlertStore(tmp_path / "db")
    waits: list[float] = []
    retry = RetryPolicy(attempts=5, backoff=0.01, max_backoff=0.02)
    dispatcher = Dispatcher(store, policy(tmp_path, receiver, box).channels, retry)

    def wait(seconds: float | None = None) -> bool:  # record the backoff instead of sleeping it
        waits.append(seconds or 0.0)
        return False

    dispatcher.stopping.wait = wait  # type: ignore[method-assign,assignment]
    dispatcher.start()
    (oid,) = store._write([store.outbox_insert(7, "firing", "hook", [], MESSAGE.to_dict(), 0.0)])
    dispatcher.submit(store.outbox(status="pending")[0])
    assert dispatcher.drain()
    dispatcher.stop()
    (row,) = store.outbox()
    assert (row.id, row.status, row.attempts, row.last_error) == (oid, SENT, 3, "")
    assert waits == [0.01, 0.02]
    assert len(receiver.on("/hook")) == 3


def test_a_failing_channel_blocks_no_other_and_its_failure_is_visible(
        tmp_path: Path, net: tuple[Receiver, Mailbox]) -> None:
    receiver, box = net
    release = threading.Event()

    def hang(r: Request) -> tuple[int, object]:
        release.wait(20)
        return 200, {}

    receiver.answers["/slow"] = hang
    store = AlertStore(tmp_path / "db")
    dispatcher = Dispatcher(store, policy(tmp_path, receiver, box).channels,
                            RetryPolicy(attempts=2, backoff=0.01, max_backoff=0.01))
    dispatcher.start()
    rows = [store.outbox_insert(7, "firing", ch, [], MESSAGE.to_dict(), 0.0) for ch in ("slow", "dead", "hook")]
    store._write(rows)
    for row in store.outbox():
        dispatcher.submit(row)
    receiver.wait(1, "/hook")  # delivered while the slow channel still hangs
    assert not release.is_set() and len(receiver.on("/hook")) == 1
    release.set()
    assert dispatcher.drain()
    dispatcher.stop()
    status = {r.channel: (r.status, r.attempts, r.last_error) for r in store.outbox()}
    assert status == {"slow": (SENT, 1, ""), "hook": (SENT, 1, ""),
                      "dead": (FAILED, 2, "dead: cannot reach the server: [Errno 111] Connection refused")}


def test_a_restart_sends_what_was_left_pending_and_nothing_twice(
        tmp_path: Path, net: tuple[Receiver, Mailbox]) -> None:
    receiver, box = net
    store = AlertStore(tmp_path / "db")
    store._write([store.outbox_insert(7, "firing", "hook", [], MESSAGE.to_dict(), 0.0),
                  store.outbox_insert(8, "firing", "hook", [], {**MESSAGE.to_dict(), "incident": 8}, 0.0)])
    store.outbox_result(1, SENT, 1, "", 1.0)  # delivered before the "crash"
    dispatcher = Dispatcher(store, policy(tmp_path, receiver, box).channels)
    dispatcher.start()
    assert dispatcher.drain()
    dispatcher.stop()
    assert [r.body["incident"] for r in receiver.requests] == [8]


CONFIG_ERRORS = [
    ("channels:\n  x: {type: pager}\nescalation: []\n",
     "notify.yml:2: channels.x.type: 'pager' is not one of: apprise, dingtalk, email, log, sms, webhook, wecom"),
    ("channels:\n  x: {type: wecom, url: {secret: hook}, host: a}\nescalation: []\n",
     "notify.yml:2: channels.x.host: unknown option of wecom (allowed: timeout, type, url)"),
    ("channels:\n  x: {type: webhook, url: http://example/hook}\nescalation: []\n",
     "notify.yml:2: channels.x.url: a secret: write {secret: NAME} and set the value in the secrets file or "
     "DCOPS_SECRET_NAME"),
    ("channels:\n  x: {type: webhook, url: {secret: nope}}\nescalation: []\n",
     "notify.yml:2: channels.x.url.secret: secret 'nope' is not set (secrets file or DCOPS_SECRET_NOPE)"),
    ("channels:\n  w: {type: wecom, url: {secret: hook}}\npeople:\n  wang: {contacts: {w: '138'}}\nescalation: []\n",
     "notify.yml:4: people.wang.contacts.w: a wecom channel posts to a group; it takes no personal address"),
    ("channels:\n  h: {type: webhook, url: {secret: hook}}\nescalation:\n- {after: 0s, notify: [boss]}\n",
     "notify.yml:4: escalation[0].notify: 'boss' is neither a channel, a person nor oncall"),
    ("channels: {}\noncall: {working_hours: '18:00-09:00'}\nescalation: []\n",
     "notify.yml:2: oncall.working_hours: '18:00-09:00' is not HH:MM-HH:MM (start before end)"),
    ("channels: {}\nescalation: []\ninhibit:\n- {source: no-such-rule, equal: [device]}\n",
     "notify.yml:4: inhibit[0].source: no rule named 'no-such-rule'"),
    ("channels: {}\nescalation:\n- {after: 10m, notify: []}\n- {after: 5m, notify: []}\n",
     "notify.yml:4: escalation[1].after: each level must come after the one before"),
]


@pytest.mark.parametrize(("text", "error"), CONFIG_ERRORS)
def test_a_bad_notify_config_names_file_line_and_key(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "notify.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_policy(path, SecretStore({"hook": "http://127.0.0.1:9/x"}), rule_names=["device-down"])
    assert [str(e).replace(str(tmp_path) + "/", "") for e in exc.value.errors] == [error]


def test_the_reference_notify_config_loads() -> None:
    from alerts.config import NOTIFY_FILE
    from alerts.rules import load_rules

    pol = load_policy(NOTIFY_FILE, SecretStore({}), [r.name for r in load_rules().rules])
    assert list(pol.channels) == ["panel"] and [lvl.after for lvl in pol.escalation] == [0, 900]
