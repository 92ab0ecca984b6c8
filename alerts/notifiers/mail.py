"""Email over SMTP (smtplib): plain text, UTF-8, optional STARTTLS or SMTPS and login."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from dcops.secrets import Secret

from .base import BOOL, FLOAT, INT, SECRET, STR, STRS, TYPES, Message, NotifierType, NotifyError


class EmailNotifier:
    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.host: str = options["host"]
        self.port: int = options.get("port", 25)
        self.sender: str = options["from"]
        self.to: list[str] = list(options.get("to", []))
        self.username: str = options.get("username", "")
        self.password: Secret | None = options.get("password")
        self.starttls: bool = options.get("starttls", False)
        self.tls: bool = options.get("tls", False)
        self.timeout: float = options.get("timeout", 10.0)

    def build(self, message: Message, recipients: Sequence[str]) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = message.title
        mail["From"] = self.sender
        mail["To"] = ", ".join(dict.fromkeys([*self.to, *recipients]))
        mail["Date"] = formatdate(message.ts, localtime=True)
        mail["Message-ID"] = make_msgid(f"dcops.incident{message.incident}")
        mail["X-Dcops-Incident"] = str(message.incident)
        mail["X-Dcops-Kind"] = message.kind
        mail.set_content(message.text)
        return mail

    def send(self, message: Message, recipients: Sequence[str]) -> None:
        to = list(dict.fromkeys([*self.to, *recipients]))
        if not to:
            raise NotifyError(f"{self.name}: no recipient (set `to` or give a person an address)")
        mail = self.build(message, recipients)
        try:
            smtp: smtplib.SMTP
            if self.tls:
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username and self.password is not None:
                    smtp.login(self.username, self.password.reveal())
                refused = smtp.send_message(mail, self.sender, to)
        except smtplib.SMTPException as exc:
            raise NotifyError(f"{self.name}: SMTP {self.host}:{self.port}: {exc}") from None
        except OSError as exc:
            raise NotifyError(f"{self.name}: cannot reach SMTP {self.host}:{self.port}: {exc}") from None
        if refused:
            raise NotifyError(f"{self.name}: refused recipients: {', '.join(sorted(refused))}")


TYPES.register("email", NotifierType(
    EmailNotifier,
    {"host": STR, "port": INT, "from": STR, "to": STRS, "username": STR, "password": SECRET,
     "starttls": BOOL, "tls": BOOL, "timeout": FLOAT},
    required=("host", "from"), takes_recipients=True))
