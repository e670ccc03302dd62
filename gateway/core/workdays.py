"""Working days and office hours on the State Council holiday calendar, for deadlines in working days.

In China a weekday can be a holiday and a Saturday a working day (调休); ``chinese-calendar`` carries
the published schedule. The State Council publishes each year's schedule late in the year before, so a
date beyond the library's data falls back to weekdays minus a configured holiday list (plus configured
make-up days), and says so in the log once per year instead of failing.

A deadline of N working days runs from the first working day after the moment it starts, and ends when
office hours end on the Nth such day.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

import chinese_calendar

from gateway.adapters.model import CHINA_TZ

log = logging.getLogger("gateway.workdays")

#: Guangzhou courts' office hours: morning and afternoon sessions
OFFICE_HOURS = ((time(8, 30), time(12, 0)), (time(14, 0), time(17, 30)))


class WorkingCalendar:
    def __init__(
        self,
        *,
        fallback_holidays: Iterable[date] = (),
        fallback_workdays: Iterable[date] = (),
        office_hours: tuple[tuple[time, time], ...] = OFFICE_HOURS,
    ) -> None:
        self.fallback_holidays = frozenset(fallback_holidays)
        self.fallback_workdays = frozenset(fallback_workdays)
        self.office_hours = office_hours
        self._warned: set[int] = set()

    def is_working_day(self, day: date) -> bool:
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in self._warned:
                self._warned.add(day.year)
                log.warning(
                    "no State Council holiday data for %s: using weekdays and the configured holidays", day.year
                )
            if day in self.fallback_workdays:
                return True
            return day.weekday() < 5 and day not in self.fallback_holidays

    def next_working_day(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def deadline(self, start: datetime, working_days: int) -> datetime:
        """When a task started at ``start`` and due within ``working_days`` working days falls due."""
        day = start.astimezone(CHINA_TZ).date()
        for _ in range(working_days):
            day = self.next_working_day(day)
        return datetime.combine(day, self.office_hours[-1][1], CHINA_TZ)

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Office time between two moments (negative when ``end`` is before ``start``): time left on a task."""
        if end < start:
            return -self.working_seconds_between(end, start)
        total = 0.0
        day = start.astimezone(CHINA_TZ).date()
        last = end.astimezone(CHINA_TZ).date()
        while day <= last:
            if self.is_working_day(day):
                for opens, closes in self.office_hours:
                    lo = max(start, datetime.combine(day, opens, CHINA_TZ))
                    hi = min(end, datetime.combine(day, closes, CHINA_TZ))
                    total += max(0.0, (hi - lo).total_seconds())
            day += timedelta(days=1)
        return total
