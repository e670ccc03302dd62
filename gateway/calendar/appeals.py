"""Appeal periods of served civil judgments and rulings (民事诉讼法 arts. 85, 171).

A party may appeal a first-instance civil judgment within 15 days, and an appealable ruling within 10
days, of its service. The period is counted in calendar days from the day after service took effect
(art. 85 ¶2: the starting day is not counted); when its last day is a statutory rest day (a weekend or a
holiday on the State Council calendar, 调休 included), the period ends on the first working day after it
(art. 85 ¶3). Service takes effect as ``gateway.documents.service_time`` says (a confirmed address, the
person's signature, or their first act in the case), so an unsigned document on an unconfirmed address
has no period yet.

Only documents of first-instance civil cases (民初) count: a second-instance judgment is final. Whether a
particular ruling is appealable (不予受理, 驳回起诉, 管辖权异议) is the ruling's own say; a calendar entry
for a ruling says "if appealable".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from gateway.adapters.model import CHINA_TZ
from gateway.core.workdays import WorkingCalendar

#: document type → (days, what the period is called)
PERIODS = {"判决书": (15, "上诉期（判决）"), "裁定书": (10, "上诉期（裁定，如依法可上诉）")}
FIRST_INSTANCE_CIVIL = "民初"


@dataclass(frozen=True)
class AppealPeriod:
    days: int
    label: str
    served_on: date
    last_day: date


def opens_period(doc_type: str, case_number: str) -> bool:
    return doc_type in PERIODS and FIRST_INSTANCE_CIVIL in case_number


def appeal_period(
    doc_type: str, case_number: str, effective_at: datetime, calendar: WorkingCalendar
) -> AppealPeriod | None:
    """The period for appealing this document, or None when it opens none."""
    if not opens_period(doc_type, case_number):
        return None
    days, label = PERIODS[doc_type]
    served_on = effective_at.astimezone(CHINA_TZ).date()
    last = served_on + timedelta(days=days)
    while not calendar.is_working_day(last):
        last += timedelta(days=1)
    return AppealPeriod(days, label, served_on, last)
