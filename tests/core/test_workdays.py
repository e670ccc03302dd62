"""Working-day deadlines on the State Council calendar: 调休 where a schedule is published (the library, or
the operator's override file), the statutory holidays beyond, and a warning for such a year."""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path

import pytest

from gateway.adapters.model import CHINA_TZ
from gateway.config import Settings
from gateway.core.deadlines import calendar_for
from gateway.core.schedule_overrides import ScheduleFileError, ScheduleOverrides
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


def test_beyond_the_published_data_the_statutory_holidays_apply_and_it_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calendar = WorkingCalendar()
    with caplog.at_level(logging.WARNING, logger="gateway.workdays"):
        assert not calendar.is_working_day(date(2027, 1, 1))  # 元旦, a Friday
        assert not calendar.is_working_day(date(2027, 2, 5))  # 除夕, a Friday
        assert not calendar.is_working_day(date(2027, 2, 8))  # 初三, a Monday
        assert calendar.is_working_day(date(2027, 1, 4))  # Monday
        assert calendar.is_working_day(date(2027, 2, 9))  # Tuesday after the Spring Festival
        assert not calendar.is_working_day(date(2027, 2, 6))  # a Saturday, 初一, and no make-up day is known
        assert calendar.deadline(at("2026-12-31 10:00"), 2) == at("2027-01-05 17:30")
        assert calendar.deadline(at("2026-12-30 10:00"), 2) == at("2027-01-04 17:30")
    warnings = [r for r in caplog.records if "2027" in r.getMessage()]
    assert len(warnings) == 1, "said once per year, never a crash"
    assert warnings[0].levelno == logging.WARNING
    said = warnings[0].getMessage()
    assert said.startswith("2027: no published State Council schedule; statutory holidays computed, make-up")
    assert "GATEWAY_CALENDAR_OVERRIDE_FILE" in said, "tells the operator what to do"
    assert calendar.unpublished_years() == (2027,)
    assert not calendar.has_published_schedule(2027) and calendar.has_published_schedule(2026)


def test_years_with_a_published_schedule_are_not_reported() -> None:
    calendar = WorkingCalendar()
    calendar.deadline(at("2025-09-30 16:00"), 30)
    assert calendar.unpublished_years() == ()
    calendar.working_seconds_between(at("2026-12-01 09:00"), at("2028-01-10 09:00"))
    assert calendar.unpublished_years() == (2027, 2028)


#: the 2027 schedule as the State Council might publish it: Spring Festival Feb 5–12 with two bridge
#: days paid back on Sat Feb 20 and Sun Jan 31; and a one-off holiday in 2026 (as 2015-09-03 was)
OVERRIDE_FILE = """
# 国务院办公厅关于2027年部分节假日安排的通知
[2027]
holidays = [2027-01-01, 2027-02-05, 2027-02-06, 2027-02-07, 2027-02-08, 2027-02-09, 2027-02-10,
            2027-02-11, 2027-02-12]
workdays = [2027-01-31, 2027-02-20]

[2026]
holidays = [2026-11-20]
"""


def overrides(tmp_path: Path, text: str = OVERRIDE_FILE) -> ScheduleOverrides:
    path = tmp_path / "holidays.toml"
    path.write_text(text, encoding="utf-8")
    return ScheduleOverrides.load(path)


def test_the_override_file_wins_over_the_computed_holidays_and_the_library(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calendar = WorkingCalendar(overrides=overrides(tmp_path))
    plain = WorkingCalendar()
    with caplog.at_level(logging.WARNING, logger="gateway.workdays"):
        # make-up days: a Saturday and a Sunday become working days
        assert calendar.is_working_day(date(2027, 2, 20)) and not plain.is_working_day(date(2027, 2, 20))
        assert calendar.is_working_day(date(2027, 1, 31)) and not plain.is_working_day(date(2027, 1, 31))
        # bridge days become holidays
        assert not calendar.is_working_day(date(2027, 2, 10)) and plain.is_working_day(date(2027, 2, 10))
        # over the library: a published Friday becomes a holiday
        assert not calendar.is_working_day(date(2026, 11, 20)) and plain.is_working_day(date(2026, 11, 20))
        # unlisted days of a covered year: the statutory holidays and the weekend, as before
        assert not calendar.is_working_day(date(2027, 10, 1))
        assert calendar.is_working_day(date(2027, 2, 19)) and not calendar.is_working_day(date(2027, 2, 21))
        # Thu Feb 4 → Feb 13–14 weekend → Mon 15, Tue 16; the calendar without the schedule: Feb 9, 10
        assert calendar.deadline(at("2027-02-04 10:00"), 2) == at("2027-02-16 17:30")
        assert calendar.deadline(at("2027-02-19 10:00"), 1) == at("2027-02-20 17:30")
    assert calendar.unpublished_years() == () and calendar.has_published_schedule(2027)
    warned = [r for r in caplog.records if r.getMessage().startswith("2027: no published")]
    assert len(warned) == 1, "only the calendar without the schedule warns"
    with caplog.at_level(logging.WARNING, logger="gateway.workdays"):
        assert not calendar.is_working_day(date(2028, 1, 1))
    [beyond] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("2028:")]
    assert beyond.endswith(f"add them to {tmp_path / 'holidays.toml'}"), "names the file to edit"
    assert calendar.unpublished_years() == (2028,)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[2027]\nholidays = [2027-01-01]\nworkdays = [2027-01-01]\n", "2027-01-01 is listed both"),
        ("[2027]\nholidays = ['2027-01-01']\n", "is not a date"),
        ("[2027]\nholidays = [2027-01-01T00:00:00]\n", "is not a date"),
        ("[2027]\nholidays = [2072-01-01]\n", "2072-01-01 lies neither in 2027 nor in 2026"),
        ("[2027]\nholiday = [2027-01-01]\n", "only holidays and workdays"),
        ("[twenty-seven]\nholidays = []\n", "is not a year"),
        ("[2027]\nholidays = 2027-01-01\n", "must be a list"),
        ("2027 = [2027-01-01]\n", "must be a table"),
        ("[2027\nholidays = [", "not TOML"),
    ],
)
def test_a_malformed_override_file_is_refused_naming_the_file(tmp_path: Path, text: str, said: str) -> None:
    with pytest.raises(ScheduleFileError) as raised:
        overrides(tmp_path, text)
    assert said in str(raised.value) and "holidays.toml" in str(raised.value)


def test_a_missing_override_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScheduleFileError, match="cannot read"):
        ScheduleOverrides.load(tmp_path / "absent.toml")


def test_calendar_for_reads_the_configured_override_file(tmp_path: Path) -> None:
    path = tmp_path / "holidays.toml"
    path.write_text(OVERRIDE_FILE, encoding="utf-8")
    calendar = calendar_for(Settings(calendar_override_file=path))
    assert calendar.is_working_day(date(2027, 2, 20))
    assert calendar_for(Settings(calendar_override_file=path)) is calendar, "one per file: warnings said once"
    assert not calendar_for(Settings()).is_working_day(date(2027, 1, 1)), "the default computes the holidays"


def test_working_time_left_counts_office_hours_only() -> None:
    calendar = WorkingCalendar()
    # Friday 16:30 → Monday 09:30: 1 h on Friday, 1 h on Monday
    assert calendar.working_seconds_between(at("2026-11-20 16:30"), at("2026-11-23 09:30")) == 2 * 3600
    # lunch does not count; overdue is negative
    assert calendar.working_seconds_between(at("2026-11-23 11:30"), at("2026-11-23 14:30")) == 3600
    assert calendar.working_seconds_between(at("2026-11-23 15:00"), at("2026-11-23 14:00")) == -3600
