"""A generic JSON webhook: the whole message (incident, status, alerts with labels) as one POST."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import FLOAT, SECRET, TYPES, Message, NotifierType, post_json

VERSION = "1"


class WebhookNotifier:
    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.url = options["url"]
        self.timeout: float = options.get("timeout", 5.0)

    def payload(self, message: Message, recipients: Sequence[str]) -> dict[str, Any]:
        return {"version": VERSION, "receiver": self.name, "recipients": list(recipients), **message.to_dict()}

    def send(self, message: Message, recipients: Sequence[str]) -> None:
        post_json(self.name, self.url, self.payload(message, recipients), timeout=self.timeout)


TYPES.register("webhook", NotifierType(WebhookNotifier, {"url": SECRET, "timeout": FLOAT}, required=("url",)))
