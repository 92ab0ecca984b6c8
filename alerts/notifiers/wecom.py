"""WeCom (企业微信) group robot: `{"msgtype": "markdown", "markdown": {"content": ...}}`.

The robot's URL carries its key (…/cgi-bin/webhook/send?key=KEY) and is a
secret. WeCom answers HTTP 200 with `errcode` 0 on success and a non-zero
`errcode` (with `errmsg`) on failure; markdown content is capped at 4096
bytes, so a long incident is cut with a note rather than refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import FLOAT, SECRET, TYPES, Message, NotifierType, NotifyError, post_json

MAX_BYTES = 4096
CUT = "\n…(已截断)"


def clip(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - len(CUT.encode("utf-8"))].decode("utf-8", "ignore") + CUT


def check_answer(channel: str, answer: Any) -> None:
    if not isinstance(answer, dict) or answer.get("errcode") != 0:
        detail = answer.get("errmsg", "") if isinstance(answer, dict) else "no JSON answer"
        code = answer.get("errcode") if isinstance(answer, dict) else None
        raise NotifyError(f"{channel}: robot refused the message (errcode {code}: {detail})")


class WecomNotifier:
    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.url = options["url"]
        self.timeout: float = options.get("timeout", 5.0)

    def payload(self, message: Message, recipients: Sequence[str]) -> dict[str, Any]:
        return {"msgtype": "markdown", "markdown": {"content": clip(message.markdown, MAX_BYTES)}}

    def send(self, message: Message, recipients: Sequence[str]) -> None:
        check_answer(self.name, post_json(self.name, self.url, self.payload(message, recipients),
                                          timeout=self.timeout))


TYPES.register("wecom", NotifierType(WecomNotifier, {"url": SECRET, "timeout": FLOAT}, required=("url",)))
