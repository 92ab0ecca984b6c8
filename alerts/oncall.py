"""The on-call rota: working hours that know China's statutory holidays and make-up working days.

A day is a working day when chinese-calendar says so: national holidays are
not (even on a weekday) and the make-up Saturdays and Sundays (调休) are.
Within working hours the day staff (`day`) are on call; outside them, the
person whose turn it is in the rotation. chinese-calendar only knows the
years the State Council has announced; for a later year we fall back to
Monday–Friday and say so once in the log (`Calendar.fallback_years`), since
a rota that raises is worse than one that misses a holiday.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger(__name__)


class Calendar:
    def __init__(self, is_workday: Callable[[dt.date], bool] = chinese_calendar.is_workday) -> None:
        self._is_workday = is_workday
        self.fallback_years: set[int] = set()

    def is_workday(self, day: dt.date) -> bool:
        try:
            return bool(self._is_workday(day))
        except NotImplementedError:
            if day.year not in self.fallback_years:
                self.fallback_years.add(day.year)
                log.warning("chinese-calendar has no data for %d: working days are Monday to Friday "
                            "(upgrade chinese-calendar once the State Council publishes the holidays)", day.year)
            return day.weekday() < 5


@dataclass(frozen=True)
class Rotation:
    """Outside working hours: `people` take turns of `days` days, handing over at `handover` local time."""

    start: dt.date
    people: tuple[str, ...]
    days: int = 7
    handover: dt.time = dt.time(8, 30)

    def on_duty(self, local: dt.datetime) -> str:
        first = dt.datetime.combine(self.start, self.handover, tzinfo=local.tzinfo)
        turns = int((local - first).total_seconds() // (self.days * 86400))
        return self.people[turns % len(self.people)]


@dataclass
class Rota:
    timezone: str = "Asia/Shanghai"
    start: dt.time = dt.time(8, 30)
    end: dt.time = dt.time(17, 30)
    day: tuple[str, ...] = ()
    rotation: Rotation | None = None
    calendar: Calendar = field(default_factory=Calendar)

    def __post_init__(self) -> None:
        self.tz = ZoneInfo(self.timezone)

    def local(self, now: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(now, self.tz)

    def working(self, now: float) -> bool:
        """Is `now` within working hours on a working day?"""
        t = self.local(now)
        return self.calendar.is_workday(t.date()) and self.start <= t.time() < self.end

    def on_call(self, now: float) -> tuple[str, ...]:
        if self.working(now) and self.day:
            return self.day
        if self.rotation is not None:
            return (self.rotation.on_duty(self.local(now)),)
        return self.day
