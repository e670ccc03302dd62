"""The statutory holidays of 全国年节及纪念日放假办法 (as amended in 2024, in force from 2025), for any year.

Article 2 gives everyone 13 days: 元旦 (Jan 1), 春节 (除夕 to 初三: the eve and the first three days of
the lunar year), 清明 (the day of the 清明 solar term), 劳动节 (May 1–2), 端午 (the 5th of the 5th lunar
month), 中秋 (the 15th of the 8th lunar month) and 国庆 (Oct 1–3). Lunar dates and the solar term come
from ``tyme4py``, which computes them (new moons and solar longitudes, the 寿星 algorithm; 农历 as
GB/T 33661-2017 defines it) rather than reading a table, so every year has an answer.

These are the days the law fixes, nothing more: each year the State Council rearranges the weekends
around them (bridge days off, make-up working days: 调休) and publishes that schedule late in the year
before. Where a published schedule exists it wins (``gateway.core.workdays``).

Invariants: 除夕 is the day before 正月初一, i.e. the last day of the 12th lunar month (its 29th or
30th); dates are calendar days in China Standard Time; two festivals on one day (中秋 on Oct 1) give
one day off.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from tyme4py.lunar import LunarDay
from tyme4py.solar import SolarTerm


class Festival(StrEnum):
    NEW_YEARS_DAY = "元旦"
    SPRING_FESTIVAL = "春节"
    TOMB_SWEEPING_DAY = "清明"
    LABOUR_DAY = "劳动节"
    DRAGON_BOAT_FESTIVAL = "端午"
    MID_AUTUMN_FESTIVAL = "中秋"
    NATIONAL_DAY = "国庆"


@functools.lru_cache(maxsize=64)
def statutory_holidays(year: int) -> Mapping[date, Festival]:
    """The statutory days off of ``year`` (Gregorian), each with its festival, in date order."""
    new_year = _solar(LunarDay.from_ymd(year, 1, 1))
    days = [
        (date(year, 1, 1), Festival.NEW_YEARS_DAY),
        *((new_year + timedelta(days=n), Festival.SPRING_FESTIVAL) for n in range(-1, 3)),
        (_solar(SolarTerm.from_name(year, "清明")), Festival.TOMB_SWEEPING_DAY),
        (date(year, 5, 1), Festival.LABOUR_DAY),
        (date(year, 5, 2), Festival.LABOUR_DAY),
        (_solar(LunarDay.from_ymd(year, 5, 5)), Festival.DRAGON_BOAT_FESTIVAL),
        (_solar(LunarDay.from_ymd(year, 8, 15)), Festival.MID_AUTUMN_FESTIVAL),
        *((date(year, 10, d), Festival.NATIONAL_DAY) for d in (1, 2, 3)),
    ]
    by_day: dict[date, Festival] = {}
    for day, festival in sorted(days, key=lambda d: d[0]):
        by_day.setdefault(day, festival)
    return MappingProxyType(by_day)


def _solar(lunar_or_term: Any) -> date:
    """The Gregorian day of a tyme4py lunar day or solar term."""
    day = lunar_or_term.get_solar_day()
    return date(day.get_year(), day.get_month(), day.get_day())
