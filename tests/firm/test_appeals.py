"""Appeal periods (民事诉讼法 arts. 85, 171): counted from the day after effective service, a last day on
a weekend or holiday moved to the next working day on the State Council calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime

from gateway.adapters.model import CHINA_TZ
from gateway.calendar.appeals import appeal_period
from gateway.config import Settings
from gateway.core.deadlines import calendar_for

FIRST_INSTANCE = "（2026）粤0104民初88号"
WORKING = calendar_for(Settings())


def served(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=CHINA_TZ)


def test_a_judgment_gives_fifteen_days_from_the_day_after_service() -> None:
    period = appeal_period("判决书", FIRST_INSTANCE, served(date(2026, 11, 2)), WORKING)
    assert period is not None
    assert (period.days, period.served_on, period.last_day) == (15, date(2026, 11, 2), date(2026, 11, 17))


def test_a_last_day_in_the_national_day_holiday_moves_to_the_first_working_day_after_it() -> None:
    # 15 days after 19 September is 4 October, inside the holiday (1–7 October 2026): it ends on the 8th
    period = appeal_period("判决书", FIRST_INSTANCE, served(date(2026, 9, 19)), WORKING)
    assert period is not None and period.last_day == date(2026, 10, 8)


def test_a_last_day_on_a_sunday_moves_to_monday_and_a_ruling_gives_ten_days() -> None:
    period = appeal_period("裁定书", FIRST_INSTANCE, served(date(2026, 11, 5)), WORKING)
    assert period is not None and (period.days, period.last_day) == (10, date(2026, 11, 16))  # the 15th is a Sunday


def test_the_service_day_is_the_china_date_not_the_utc_one() -> None:
    at = datetime(2026, 11, 2, 16, 30, tzinfo=UTC)  # 00:30 on 3 November in Guangzhou
    period = appeal_period("判决书", FIRST_INSTANCE, at, WORKING)
    assert period is not None and (period.served_on, period.last_day) == (date(2026, 11, 3), date(2026, 11, 18))


def test_second_instance_judgments_and_other_documents_open_no_period() -> None:
    at = served(date(2026, 11, 2))
    assert appeal_period("判决书", "（2026）粤01民终12号", at, WORKING) is None  # final
    assert appeal_period("传票", FIRST_INSTANCE, at, WORKING) is None
    assert appeal_period("判决书", "（2026）粤0104刑初5号", at, WORKING) is None  # civil cases only
