"""Any service apprise knows (its URL is a secret), for sites that reach one.

apprise does the job where its plugin's endpoint is reachable and a yes/no
result is enough: its DingTalk and WeCom plugins post to the vendors' public
hosts only (no relay on a government intranet), so those two have notifiers
of their own. apprise reports failures to its log, which we capture for the
reason.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from dcops.secrets import Secret

from .base import SECRET, TYPES, Message, NotifierType, NotifyError


class AppriseNotifier:
    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.url: Secret = options["url"]

    def send(self, message: Message, recipients: Sequence[str]) -> None:
        import apprise

        client = apprise.Apprise()
        if not client.add(self.url.reveal()):
            raise NotifyError(f"{self.name}: apprise does not understand the configured URL")
        with apprise.LogCapture(level=logging.WARNING) as captured:
            ok = client.notify(title=message.title, body=message.text)
            logs = captured.getvalue()
        if not ok:
            reason = logs.strip().splitlines()[-1] if logs.strip() else "no reason given"
            reason = reason.replace(self.url.reveal(), "<secret>")
            raise NotifyError(f"{self.name}: apprise could not deliver: {reason}")


TYPES.register("apprise", NotifierType(AppriseNotifier, {"url": SECRET}, required=("url",)))
