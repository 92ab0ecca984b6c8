"""Notifiers: one module per channel type, each registering itself in `TYPES`."""

from . import apprise_, dingtalk, log, mail, sms, webhook, wecom  # noqa: F401  (they register themselves)
from .base import TYPES, Message, Notifier, NotifierType, NotifyError, post_json

__all__ = ["TYPES", "Message", "Notifier", "NotifierType", "NotifyError", "post_json"]
