"""Working days and office hours on the State Council holiday calendar, for deadlines in working days.

In China a weekday can be a holiday and a Saturday a working day (调休). Whether a day is worked is
decided, first match wins, by:

1. the operator's override file (``ScheduleOverrides``: a newly published schedule, or a correction);
2. the published schedule in ``chinese-calendar``, for the years it carries (2004–2026 in 1.11.0);
3. for any other year, the statutory holidays computed from the law (``statutory_holidays``) and the
   weekend: right on the festivals themselves, but blind to that year's bridge days and make-up
   working days until the operator adds them.

Case 3 is never silent: the first use of such a year logs a warning naming the override file, and
``unpublished_years`` lists those years for an operations page or a metric.

A deadline of N working days runs from the first working day after the moment it starts, and ends when
office hours end on the Nth such day.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

import chinese_calendar

from gateway.adapters.model import CHINA_TZ
from gateway.core.schedule_overrides import ScheduleOverrides
from gateway.core.statutory_holidays import statutory_holidays

log = logging.getLogger("gateway.workdays")

#: Guangzhou courts' office hours: morning and afternoon sessions
OFFICE_HOURS = ((time(8, 30), time(12, 0)), (time(14, 0), time(17, 30)))

#: the years whose published schedule ``chinese-calendar`` carries
LIBRARY_YEARS = range(min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year + 1)

#: where the warning sends an operator when no override file is configured
DEFAULT_OVERRIDE_HINT = "a schedule file named by the calendar_override_file setting (GATEWAY_CALENDAR_OVERRIDE_FILE)"


class WorkingCalendar:
    """Working days (the three sources above) and the office hours deadlines end with."""

    def __init__(
        self,
        *,
        overrides: ScheduleOverrides | None = None,
        office_hours: tuple[tuple[time, time], ...] = OFFICE_HOURS,
    ) -> None:
        self.overrides = overrides or ScheduleOverrides()
        self.office_hours = office_hours
        self._unpublished: set[int] = set()

    def is_working_day(self, day: date) -> bool:
        worked = self.overrides.days.get(day)
        if worked is not None:
            return worked
        if day.year in LIBRARY_YEARS:
            return bool(chinese_calendar.is_workday(day))
        if day.year not in self.overrides.years:
            self._note_unpublished(day.year)
        return day.weekday() < 5 and day not in statutory_holidays(day.year)

    def has_published_schedule(self, year: int) -> bool:
        """Whether ``year``'s 调休 is known (holiday library or override file), e.g. next year's, ahead."""
        return year in LIBRARY_YEARS or year in self.overrides.years

    def unpublished_years(self) -> tuple[int, ...]:
        """The years this calendar has answered for on statutory holidays alone (no published schedule)."""
        return tuple(sorted(self._unpublished))

    def _note_unpublished(self, year: int) -> None:
        if year in self._unpublished:
            return
        self._unpublished.add(year)
        log.warning(
            "%s: no published State Council schedule; statutory holidays computed, make-up working days unknown"
            " — add them to %s",
            year,
            self.overrides.source or DEFAULT_OVERRIDE_HINT,
        )

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
