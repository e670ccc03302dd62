"""Working-day deadlines on the State Council calendar, with 调休 and a fallback beyond its data."""

from __future__ import annotations

import logging
from datetime import date, datetime

import pytest

from gateway.adapters.model import CHINA_TZ
from gateway.core.workdays import WorkingCalendar


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CHINA_TZ)


@pytest.mark.parametrize(
    ("created", "due"),
    [
        # the last working day before National Day 2025 (Oct 1–8 off): Oct 9 and 10 are the two working days
        ("2025-09-30 16:00", "2025-10-10 17:30"),
        # created during the holiday
        ("2025-10-03 10:00", "2025-10-10 17:30"),
        # created on the make-up Saturday Oct 11 2025: Monday and Tuesday follow
        ("2025-10-11 09:00", "2025-10-14 17:30"),
        # a make-up Sunday (Sep 28 2025) counts as a working day for what follows it: Sep 29, Sep 30
        ("2025-09-28 11:00", "2025-09-30 17:30"),
        # the last working day before National Day 2026 (Oct 1–7 off)
        ("2026-09-30 17:00", "2026-10-09 17:30"),
        # a plain week: Thursday → Monday
        ("2026-11-19 10:00", "2026-11-23 17:30"),
        # Spring Festival 2026: Feb 14 (Sat) is a make-up working day
        ("2026-02-13 10:00", "2026-02-24 17:30"),
    ],
)
def test_two_working_day_deadlines(created: str, due: str) -> None:
    assert WorkingCalendar().deadline(at(created), 2) == at(due)


def test_make_up_saturdays_are_working_days_and_holiday_weekdays_are_not() -> None:
    calendar = WorkingCalendar()
    assert calendar.is_working_day(date(2025, 10, 11))  # Saturday, 调休
    assert not calendar.is_working_day(date(2025, 10, 8))  # Wednesday, National Day


def test_beyond_the_published_data_the_configured_fallback_applies_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calendar = WorkingCalendar(fallback_holidays=[date(2027, 1, 1)], fallback_workdays=[date(2027, 2, 6)])
    with caplog.at_level(logging.WARNING, logger="gateway.workdays"):
        assert not calendar.is_working_day(date(2027, 1, 1))  # configured holiday (a Friday)
        assert calendar.is_working_day(date(2027, 1, 4))  # Monday
        assert calendar.is_working_day(date(2027, 2, 6))  # configured make-up Saturday
        assert calendar.deadline(at("2026-12-31 10:00"), 2) == at("2027-01-05 17:30")
    warnings = [r for r in caplog.records if "2027" in r.getMessage()]
    assert len(warnings) == 1, "said once per year, never a crash"


def test_working_time_left_counts_office_hours_only() -> None:
    calendar = WorkingCalendar()
    # Friday 16:30 → Monday 09:30: 1 h on Friday, 1 h on Monday
    assert calendar.working_seconds_between(at("2026-11-20 16:30"), at("2026-11-23 09:30")) == 2 * 3600
    # lunch does not count; overdue is negative
    assert calendar.working_seconds_between(at("2026-11-23 11:30"), at("2026-11-23 14:30")) == 3600
    assert calendar.working_seconds_between(at("2026-11-23 15:00"), at("2026-11-23 14:00")) == -3600
