"""What every notifier shares: the message, the protocol, the type registry and an HTTP helper.

A notifier type is registered by name (`email`, `webhook`, `wecom`,
`dingtalk`, `sms`, `apprise`, `log`) with the options it accepts, so the
notify config is read strictly; a channel is one configured instance. A
notifier's `send()` raises `NotifyError` with a reason that never contains
a secret (webhook URLs carry tokens: errors name the channel instead).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from dcops.registry import Registry
from dcops.secrets import Secret


class NotifyError(Exception):
    pass


@dataclass(frozen=True)
class Message:
    """One notification about one incident, rendered once and sent to every channel."""

    kind: str  # firing, update, escalation, ack, resolved
    incident: int
    status: str  # firing or resolved
    severity: str
    title: str
    text: str  # plain text (mail, logs)
    short: str  # one line (SMS)
    markdown: str  # WeCom and DingTalk
    ts: float
    level: int = 0
    group: Mapping[str, str] = field(default_factory=dict)
    alerts: Sequence[Mapping[str, Any]] = ()
    acked_by: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Message:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


class Notifier(Protocol):
    name: str

    def send(self, message: Message, recipients: Sequence[str]) -> None: ...


# Option kinds a notifier type declares: how the notify config reads each key.
STR, SECRET, INT, BOOL, STRS, FLOAT = "str", "secret", "int", "bool", "strs", "float"


@dataclass(frozen=True)
class NotifierType:
    build: Callable[[str, Mapping[str, Any]], Notifier]
    options: Mapping[str, str]
    required: tuple[str, ...] = ()
    takes_recipients: bool = False  # persons' contacts (addresses, phone numbers) go to this type


TYPES: Registry[NotifierType] = Registry("notifier type")


def post_json(channel: str, url: Secret | str, payload: Mapping[str, Any], *, timeout: float = 5.0,
              headers: Mapping[str, str] | None = None) -> Any:
    """POST `payload` as JSON; return the decoded JSON answer (or None). Errors name `channel`, not the URL."""
    target = url.reveal() if isinstance(url, Secret) else url
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(target, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (configured by the site)
            raw = response.read()
    except urllib.error.HTTPError as exc:
        snippet = exc.read()[:200].decode("utf-8", "replace")
        raise NotifyError(f"{channel}: HTTP {exc.code} {exc.reason}: {snippet}".rstrip(": ")) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NotifyError(f"{channel}: cannot reach the server: {reason}") from None
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None
