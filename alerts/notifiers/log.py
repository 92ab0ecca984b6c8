"""The log channel: writes each notification to the log (the panel shows the outbox too)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from .base import TYPES, Message, NotifierType

log = logging.getLogger("dcops.alerts.notify")


class LogNotifier:
    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.sent: list[tuple[Message, tuple[str, ...]]] = []

    def send(self, message: Message, recipients: Sequence[str]) -> None:
        self.sent.append((message, tuple(recipients)))
        log.warning("%s: %s", self.name, message.short)


TYPES.register("log", NotifierType(LogNotifier, {}, takes_recipients=True))
