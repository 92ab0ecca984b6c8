"""DingTalk (钉钉) custom robot: markdown messages, @mentions by mobile, signed URLs.

With a signing secret (加签), every request carries `timestamp` (ms) and
`sign` = urlencode(base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}"))),
as DingTalk's robot documentation specifies; the robot refuses a request
whose timestamp is more than an hour off. Success is `errcode` 0.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dcops.secrets import Secret

from .base import FLOAT, SECRET, TYPES, Message, NotifierType, post_json
from .wecom import check_answer, clip

MAX_BYTES = 20000


def sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode("ascii"))


def signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={sign(secret, timestamp_ms)}"


class DingtalkNotifier:
    def __init__(self, name: str, options: Mapping[str, Any], clock: Callable[[], float] = time.time) -> None:
        self.name = name
        self.url: Secret = options["url"]
        self.secret: Secret | None = options.get("secret")
        self.timeout: float = options.get("timeout", 5.0)
        self.clock = clock

    def payload(self, message: Message, recipients: Sequence[str]) -> dict[str, Any]:
        text = message.markdown
        if recipients:
            text += "\n\n" + " ".join(f"@{r}" for r in recipients)
        return {"msgtype": "markdown", "markdown": {"title": message.title, "text": clip(text, MAX_BYTES)},
                "at": {"atMobiles": list(recipients), "isAtAll": False}}

    def target(self) -> str:
        url = self.url.reveal()
        if self.secret is None:
            return url
        return signed_url(url, self.secret.reveal(), int(self.clock() * 1000))

    def send(self, message: Message, recipients: Sequence[str]) -> None:
        answer = post_json(self.name, self.target(), self.payload(message, recipients), timeout=self.timeout)
        check_answer(self.name, answer)


TYPES.register("dingtalk", NotifierType(DingtalkNotifier, {"url": SECRET, "secret": SECRET, "timeout": FLOAT},
                                        required=("url",), takes_recipients=True))
