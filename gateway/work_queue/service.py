"""A staff member's work queue: everything waiting on them, across the workflows the gateway owns.

Each workflow (12368 tickets, case bindings, archive applications, filings received) contributes the
items that wait on one staff member through a :class:`WorkSource`; the queue merges them, soonest
deadline first (items without a deadline after them, oldest first), and says how much working time is
left on each, on the court calendar's office hours. Scope is each source's own rule, so the queue
never shows what its source would not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select

from gateway.core.workdays import WorkingCalendar
from gateway.filings.service import FilingStatus
from gateway.identity import Viewer
from gateway.notifications.service import NotificationKind, staff_key
from gateway.store import Store
from gateway.store.filings import FilingRecord
from gateway.store.notifications import InAppNotification


class WorkKind(StrEnum):
    TICKET = "TICKET"  # a 12368 ticket to answer
    BINDING = "BINDING"  # a case binding to review
    ARCHIVE_APPLICATION = "ARCHIVE_APPLICATION"  # an archive reading application to decide
    FILING = "FILING"  # materials filed into a panel's case, not yet marked handled at the court


@dataclass(frozen=True)
class WorkItem:
    kind: WorkKind
    #: what the item is about, as the API names it (Ticket, CaseBindingApplication, ArchiveApplication,
    #: Filing), and its key there: the schema turns the pair into a global ID
    subject_type: str
    subject_key: str
    court_code: str
    case_number: str | None
    title: str
    received_at: datetime
    due_at: datetime | None


#: one workflow's items waiting on a staff member
WorkSource = Callable[[Viewer], Awaitable[Sequence[WorkItem]]]


@dataclass(frozen=True)
class QueuedItem:
    item: WorkItem
    #: office time until the deadline (negative once overdue); None without a deadline
    working_seconds_left: float | None


def order(items: Sequence[WorkItem]) -> list[WorkItem]:
    """Soonest deadline first; then the items without one, oldest first."""
    with_due = sorted((i for i in items if i.due_at), key=lambda i: (i.due_at, i.received_at))
    without = sorted((i for i in items if not i.due_at), key=lambda i: i.received_at)
    return [*with_due, *without]


async def work_queue(
    viewer: Viewer, sources: Sequence[WorkSource], calendar: WorkingCalendar, *, now: datetime
) -> list[QueuedItem]:
    found = await asyncio.gather(*(source(viewer) for source in sources))
    items = order([item for batch in found for item in batch])
    return [
        QueuedItem(item, None if item.due_at is None else calendar.working_seconds_between(now, item.due_at))
        for item in items
    ]


def filings_received(store: Store) -> WorkSource:
    """Filings delivered into cases where the viewer was told of them (the clerk and the presiding judge
    get the FILING_RECEIVED notice), until the court marks them handled."""

    async def source(viewer: Viewer) -> list[WorkItem]:
        if not (viewer.court_code and viewer.staff_id):
            return []
        key = staff_key(viewer.court_code, viewer.staff_id)
        told = select(InAppNotification.dedupe_key).where(
            InAppNotification.recipient_key == key,
            InAppNotification.kind == NotificationKind.FILING_RECEIVED.value,
        )
        async with store.session(read_only=True) as session:
            keys = list((await session.scalars(told)).all())
            ids = [k.split(":")[1] for k in keys if k.startswith("filing:") and k.endswith(":received")]
            rows = (
                await session.scalars(
                    select(FilingRecord).where(
                        FilingRecord.id.in_(ids),
                        FilingRecord.status == FilingStatus.DELIVERED.value,
                        FilingRecord.court_code == viewer.court_code,
                    )
                )
            ).all()
        return [
            WorkItem(
                kind=WorkKind.FILING,
                subject_type="Filing",
                subject_key=row.id,
                court_code=row.court_code,
                case_number=row.case_number,
                title=f"《{row.title}》（{row.filer_name}，回执号 {row.receipt_number}）",
                received_at=row.delivered_at or row.submitted_at,
                due_at=None,
            )
            for row in rows
        ]

    return source
