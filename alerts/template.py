"""Summary templates: `{field}` and `{field:spec}` in Python's format syntax, checked at load.

A template may name the alert's labels (device, rack, room, class, metric and
the readings' index labels), `value`, `threshold`, `clear`, `rule` and
`severity`. Numbers take a format spec (`{value:.1f}`, `{value:.0%}`); labels
take none. `check()` returns the reason a template would not render, so a bad
template fails at load, never at 3 a.m.; `to_go()` writes the same text as a
Prometheus annotation.
"""

from __future__ import annotations

import re
import string
from collections.abc import Collection, Mapping

NUMBERS = ("value", "threshold", "clear")
FIXED = ("rule", "severity")
_FORMATTER = string.Formatter()
SPEC_RE = re.compile(r"^(\.\d+)?([fge%])?$")


def fields(template: str) -> list[tuple[str, str]]:
    """(field, spec) for every replacement field; raises ValueError on a malformed template."""
    out = []
    for _literal, name, spec, conversion in _FORMATTER.parse(template):
        if name is None:
            continue
        if conversion:
            raise ValueError(f"{{{name}!{conversion}}}: conversions are not supported")
        if not name:
            raise ValueError("an empty {} names no field")
        out.append((name, spec or ""))
    return out


def check(template: str, labels: Collection[str]) -> str | None:
    """Why `template` would not render with these label names, or None."""
    try:
        found = fields(template)
    except ValueError as exc:
        return f"does not render: {exc}"
    allowed = sorted({*labels, *NUMBERS, *FIXED})
    for name, spec in found:
        if name not in allowed:
            return f"does not render: unknown field {{{name}}} (allowed: {', '.join(allowed)})"
        if spec and name not in NUMBERS:
            return f"does not render: {{{name}:{spec}}}: only value, threshold and clear take a format spec"
        if spec and not SPEC_RE.match(spec):
            return f"does not render: {{{name}:{spec}}}: use a spec like .1f, .0%, g or e"
    return None


def render(template: str, labels: Mapping[str, str], numbers: Mapping[str, float]) -> str:
    """Render a checked template; labels the alert does not carry render empty."""
    context: dict[str, object] = {name: labels.get(name, "") for name, _ in fields(template)}
    context.update({k: v for k, v in numbers.items() if k in context})
    for name in NUMBERS:
        if name in context and context[name] == "":
            context[name] = float("nan")
    return template.format(**context)


def to_go(template: str, constants: Mapping[str, object], label_names: Mapping[str, str]) -> str:
    """The template as a Prometheus annotation (Go text/template).

    `constants` are fields known at export (threshold, clear, rule, severity),
    `label_names` maps a field to its Prometheus label (room → location).
    """
    out: list[str] = []
    for literal, name, raw_spec, _conv in _FORMATTER.parse(template):
        spec = raw_spec or ""
        out.append(literal.replace("{{", '{{ "{{" }}'))
        if name is None:
            continue
        if name in constants:
            out.append(format(constants[name], spec))
        elif name == "value":
            if spec.endswith("%"):
                out.append("{{ $value | humanizePercentage }}")
            elif spec:
                out.append(f'{{{{ printf "%{spec}" $value }}}}')
            else:
                out.append("{{ $value }}")
        else:
            out.append(f"{{{{ $labels.{label_names.get(name, name)} }}}}")
    return "".join(out)
