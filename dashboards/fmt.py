"""Formatting numbers, units and times for people (the same rules panel.js follows)."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dcops.types import Sample

from .i18n import ZH, gettext, state_text

NO_VALUE = "—"

# Unit symbols; `ratio` is shown as a percentage, `state` and `count` bare.
SYMBOLS: dict[str, str] = {
    "celsius": "°C", "percent": "%", "volts": "V", "amperes": "A", "watts": "W",
    "voltamperes": "VA", "hertz": "Hz", "seconds": "s", "rpm": "rpm",
    "kilowatthours": "kWh", "cfm": "CFM", "pascals": "Pa", "ratio": "%",
}
DIGITS: dict[str, int] = {"celsius": 1, "ratio": 1, "kilowatthours": 1, "hertz": 1, "amperes": 1}


def num(value: float | None, digits: int = 1) -> str:
    """A number with fixed decimals, or an em dash when there is none (like panel.js)."""
    if value is None:
        return NO_VALUE
    return f"{value:.{digits}f}"


def reading(sample: Sample, lang: str) -> str:
    """A reading's value with its unit: `23.4 °C`, `45.0 %`, `1250 W`; a state's number bare."""
    if sample.unit == "ratio":
        return f"{sample.value * 100:.1f} %"
    if sample.unit == "seconds":
        text = f"{sample.value:.0f} {'秒' if lang == ZH else 's'}"
        if sample.value >= 120:
            text += f" ({sample.value / 60:.0f} {gettext('min', lang)})"
        return text
    digits = DIGITS.get(sample.unit, 0 if float(sample.value).is_integer() else 2)
    symbol = SYMBOLS.get(sample.unit, "")
    text = f"{sample.value:.{digits}f}"
    return f"{text} {symbol}" if symbol else text


def state(sample: Sample, lang: str) -> str:
    """The enumeration's name in words, or nothing for a plain measurement."""
    if not sample.text:
        return ""
    words = state_text(sample.text, lang)
    return words if words == sample.text else f"{words} ({sample.text})"


@lru_cache(maxsize=8)
def zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def when(ts: float | None, tz: str) -> str:
    """A timestamp in the site's time zone, to the second."""
    if ts is None:
        return NO_VALUE
    return datetime.fromtimestamp(ts, zone(tz)).strftime("%Y-%m-%d %H:%M:%S")


def seconds(value: float, lang: str) -> str:
    unit = gettext("seconds", lang) if lang == ZH else "s"
    return f"{value:.2f} {unit}" if value < 10 else f"{value:.0f} {unit}"
