"""Real servers on 127.0.0.1 for the alert tests: an SMTP server (aiosmtpd) and an HTTP receiver.

The HTTP receiver stands in for a generic webhook, the WeCom and DingTalk
robots and an SMS gateway: it records every request (path, query, headers,
JSON body) and answers what the test tells it to, per path.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from conftest import free_port, missing


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


Answer = Callable[[Request], tuple[int, Any]]


@dataclass
class Receiver:
    """An HTTP server recording JSON POSTs; `answers[path]` decides the reply (default 200 {"errcode": 0})."""

    requests: list[Request] = field(default_factory=list)
    answers: dict[str, Answer] = field(default_factory=dict)
    port: int = 0
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def wait(self, count: int, path: str | None = None, timeout: float = 20.0) -> list[Request]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.requests if path is None else self.on(path)) >= count, timeout)
        return self.requests if path is None else self.on(path)


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            split = urllib.parse.urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
            request = Request(split.path, dict(urllib.parse.parse_qsl(split.query)), dict(self.headers), body)
            with receiver.arrived:  # recorded before the answer: a sender that got its answer finds it here
                receiver.requests.append(request)
                receiver.arrived.notify_all()
            answer = receiver.answers.get(split.path, lambda r: (200, {"errcode": 0, "errmsg": "ok"}))
            status, reply = answer(request)
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server


@dataclass
class Mailbox:
    port: int = 0
    mails: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    refuse: str = ""  # an SMTP reply to give instead of accepting
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait(self, count: int, timeout: float = 20.0) -> list[tuple[str, list[str], EmailMessage]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.mails) >= count, timeout)
        return self.mails


def start_smtp() -> tuple[Mailbox, Any]:
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        missing("aiosmtpd (pip install .[alerts])")
    box = Mailbox()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
            if box.refuse:
                return box.refuse
            mail = message_from_bytes(envelope.content, policy=policy.default)
            with box.arrived:
                box.mails.append((envelope.mail_from, list(envelope.rcpt_tos), mail))  # type: ignore[arg-type]
                box.arrived.notify_all()
            return "250 Message accepted for delivery"

    controller = Controller(Handler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    return box, controller


def servers() -> Iterator[tuple[Receiver, Mailbox]]:
    """Both servers for a test; stopped afterwards (use with `yield from` in a fixture)."""
    receiver, http = start_receiver()
    box, smtp = start_smtp()
    try:
        yield receiver, box
    finally:
        http.shutdown()
        http.server_close()
        smtp.stop()
