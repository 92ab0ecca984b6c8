"""SMS through an HTTP gateway: `{"to": [numbers], "text": "..."}`, optionally with a bearer token.

Operators' gateways differ; the site's gateway (or a small adapter in front
of it) takes this JSON. Any 2xx is accepted; a JSON answer with a non-zero
`code` or `errcode` is a refusal. The text is the message's one-line form,
cut to `max_chars` (default 300: a few concatenated SMS segments).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import FLOAT, INT, SECRET, STRS, TYPES, Message, NotifierType, NotifyError, post_json


class SmsNotifier:
    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.url = options["url"]
        self.token = options.get("token")
        self.to: list[str] = list(options.get("to", []))
        self.max_chars: int = options.get("max_chars", 300)
        self.timeout: float = options.get("timeout", 5.0)

    def payload(self, message: Message, recipients: Sequence[str]) -> dict[str, Any]:
        text = message.short if len(message.short) <= self.max_chars else message.short[: self.max_chars - 1] + "…"
        return {"to": list(dict.fromkeys([*self.to, *recipients])), "text": text}

    def send(self, message: Message, recipients: Sequence[str]) -> None:
        payload = self.payload(message, recipients)
        if not payload["to"]:
            raise NotifyError(f"{self.name}: no phone number (set `to` or give a person a phone)")
        headers = {"Authorization": f"Bearer {self.token.reveal()}"} if self.token is not None else {}
        answer = post_json(self.name, self.url, payload, timeout=self.timeout, headers=headers)
        if isinstance(answer, dict):
            code = answer.get("code", answer.get("errcode", 0))
            if code not in (0, "0", "OK", "ok", None):
                raise NotifyError(f"{self.name}: gateway refused the message (code {code}: "
                                  f"{answer.get('message', answer.get('errmsg', ''))})")


TYPES.register("sms", NotifierType(
    SmsNotifier, {"url": SECRET, "token": SECRET, "to": STRS, "max_chars": INT, "timeout": FLOAT},
    required=("url",), takes_recipients=True))
