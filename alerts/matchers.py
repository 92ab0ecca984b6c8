"""Label matchers for silences, in Alertmanager's syntax: `label=value`, `!=`, `=~regex`, `!~regex`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MATCHER_RE = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(.*?))\s*$')
SYNTAX = "label=value, label!=value, label=~regex or label!~regex"


class MatcherError(ValueError):
    pass


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        got = labels.get(self.label, "")
        if self.op == "=":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        hit = re.fullmatch(self.value, got) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f"{self.label}{self.op}{self.value}"


def parse_matcher(text: str) -> Matcher:
    m = MATCHER_RE.match(text)
    if m is None:
        raise MatcherError(f"bad matcher {text!r}: expected {SYNTAX}")
    label, op = m.group(1), m.group(2)
    value = m.group(3) if m.group(3) is not None else m.group(4)
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise MatcherError(f"bad matcher {text!r}: {value!r} is not a regular expression ({exc})") from None
    return Matcher(label, op, value)


def parse_matchers(texts: Sequence[str]) -> tuple[Matcher, ...]:
    if not texts:
        raise MatcherError("a silence needs at least one matcher (" + SYNTAX + ")")
    matchers = tuple(parse_matcher(t) for t in texts)
    if all(m.op in ("!=", "!~") or (m.op == "=~" and re.fullmatch(m.value, "")) for m in matchers):
        raise MatcherError("these matchers would silence every alert: give at least one that must match")
    return matchers


def match_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
