"""The statutory holidays computed from the law agree with the published schedules where both exist,
and keep their shape (除夕 to 初三, the lunar and solar-term festivals) in years no table covers."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest
from tyme4py.solar import SolarDay

from gateway.core.statutory_holidays import Festival, statutory_holidays

#: the library's names for the festivals
LIBRARY_NAME = {
    Festival.NEW_YEARS_DAY: chinese_calendar.Holiday.new_years_day.value,
    Festival.SPRING_FESTIVAL: chinese_calendar.Holiday.spring_festival.value,
    Festival.TOMB_SWEEPING_DAY: chinese_calendar.Holiday.tomb_sweeping_day.value,
    Festival.LABOUR_DAY: chinese_calendar.Holiday.labour_day.value,
    Festival.DRAGON_BOAT_FESTIVAL: chinese_calendar.Holiday.dragon_boat_festival.value,
    Festival.MID_AUTUMN_FESTIVAL: chinese_calendar.Holiday.mid_autumn_festival.value,
    Festival.NATIONAL_DAY: chinese_calendar.Holiday.national_day.value,
}


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_computed_holidays_are_the_published_ones_under_the_2024_rules(year: int) -> None:
    """2025 and 2026 were published under the amended 放假办法: each computed day is a day off there, for
    the same festival (the published runs are longer: bridge days and weekends around them)."""
    computed = statutory_holidays(year)
    assert len(computed) == 13
    for day, festival in computed.items():
        assert chinese_calendar.get_holiday_detail(day) == (True, LIBRARY_NAME[festival]), (day, festival)


@pytest.mark.parametrize("year", range(2008, 2027))
def test_lunar_and_solar_term_festivals_fall_on_published_days_off(year: int) -> None:
    """Since 2008 (when 清明, 端午 and 中秋 became holidays) every published year has had 初一, 清明, 端午
    and 中秋 off: the lunar dates and the solar term are right for two decades of real schedules."""
    computed = statutory_holidays(year)
    new_year = next(d for d, f in computed.items() if f == Festival.SPRING_FESTIVAL) + timedelta(days=1)
    moving = (Festival.TOMB_SWEEPING_DAY, Festival.DRAGON_BOAT_FESTIVAL, Festival.MID_AUTUMN_FESTIVAL)
    days = [(d, f) for d, f in computed.items() if f in moving]
    assert [f for _, f in days] == list(moving)
    for day, festival in days:
        assert not chinese_calendar.is_workday(day), (year, festival, day)
    assert not chinese_calendar.is_workday(new_year)
    assert chinese_calendar.get_holiday_detail(new_year) == (True, LIBRARY_NAME[Festival.SPRING_FESTIVAL])


@pytest.mark.parametrize("year", range(1990, 2101))
def test_spring_festival_runs_from_the_last_day_of_the_twelfth_lunar_month_to_the_third_day(year: int) -> None:
    days = [d for d, f in statutory_holidays(year).items() if f == Festival.SPRING_FESTIVAL]
    assert len(days) == 4 and days == [days[0] + timedelta(days=n) for n in range(4)]
    eve = SolarDay.from_ymd(days[0].year, days[0].month, days[0].day).get_lunar_day()
    month = eve.get_lunar_month()
    assert month.get_month() == 12 and eve.get_day() == month.get_day_count() in (29, 30), (year, str(eve))
    first = SolarDay.from_ymd(days[1].year, days[1].month, days[1].day).get_lunar_day()
    assert (first.get_month(), first.get_day(), first.get_lunar_month().is_leap()) == (1, 1, False)


def test_the_eve_is_the_29th_or_the_30th_as_the_month_has_it() -> None:
    assert date(2025, 1, 28) in statutory_holidays(2025)  # 腊月廿九: the 12th month of 甲辰 had 29 days
    assert date(2024, 2, 9) in statutory_holidays(2024)  # 腊月三十
    assert date(2024, 2, 8) not in statutory_holidays(2024)


def test_two_festivals_on_one_day_give_one_day_off() -> None:
    computed = statutory_holidays(2020)  # 中秋 fell on Oct 1
    assert len(computed) == 12 and computed[date(2020, 10, 1)] == Festival.MID_AUTUMN_FESTIVAL
    assert [d for d, f in computed.items() if f == Festival.NATIONAL_DAY] == [date(2020, 10, 2), date(2020, 10, 3)]


def test_2027_as_the_almanacs_give_it() -> None:
    assert dict(statutory_holidays(2027)) == {
        date(2027, 1, 1): Festival.NEW_YEARS_DAY,
        date(2027, 2, 5): Festival.SPRING_FESTIVAL,  # 除夕
        date(2027, 2, 6): Festival.SPRING_FESTIVAL,  # 正月初一
        date(2027, 2, 7): Festival.SPRING_FESTIVAL,
        date(2027, 2, 8): Festival.SPRING_FESTIVAL,
        date(2027, 4, 5): Festival.TOMB_SWEEPING_DAY,
        date(2027, 5, 1): Festival.LABOUR_DAY,
        date(2027, 5, 2): Festival.LABOUR_DAY,
        date(2027, 6, 9): Festival.DRAGON_BOAT_FESTIVAL,
        date(2027, 9, 15): Festival.MID_AUTUMN_FESTIVAL,
        date(2027, 10, 1): Festival.NATIONAL_DAY,
        date(2027, 10, 2): Festival.NATIONAL_DAY,
        date(2027, 10, 3): Festival.NATIONAL_DAY,
    }
