"""The staff work queue (myWorkQueue): types and the root field."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.resolvers import work_queue as resolvers
from gateway.schema.common import PageInfo, check_first, china_time, global_id, mirror_enum
from gateway.work_queue import service

WorkKind = mirror_enum(
    service.WorkKind,
    "WorkKind",
    "TICKET (a 12368 ticket to answer), BINDING (a case binding to review), ARCHIVE_APPLICATION (an archive "
    "reading application to decide), FILING (materials filed into your panel's case, not yet handled).",
)


@strawberry.type(description="Something waiting on you, with its deadline in working time.")
class WorkItem:
    kind: WorkKind = strawberry.field(description="Which workflow it belongs to.")  # type: ignore[valid-type]
    subject_id: strawberry.ID = strawberry.field(
        description="The global ID of the ticket, binding application, archive application or filing."
    )
    court_code: str = strawberry.field(description="Your court.")
    case_number: str | None = strawberry.field(description="The case it concerns, when one is.")
    title: str = strawberry.field(description="What it is, in a line.")
    received_at: datetime = strawberry.field(description="When it reached the court.")
    due_at: datetime | None = strawberry.field(description="When it falls due; null when no deadline applies.")
    working_hours_left: float | None = strawberry.field(
        description="Office hours left until `dueAt` on the court calendar (working days, 调休 included); "
        "negative once overdue; null without a deadline."
    )
    overdue: bool = strawberry.field(description="Past its deadline.")

    @classmethod
    def from_queued(cls, queued: service.QueuedItem) -> WorkItem:
        item, left = queued.item, queued.working_seconds_left
        return cls(
            kind=WorkKind(item.kind.value),
            subject_id=global_id(item.subject_type, item.subject_key),
            court_code=item.court_code,
            case_number=item.case_number,
            title=item.title,
            received_at=china_time(item.received_at),
            due_at=china_time(item.due_at),
            working_hours_left=None if left is None else round(left / 3600, 2),
            overdue=left is not None and left < 0,
        )


@strawberry.type(description="A work item in your queue.")
class WorkItemEdge:
    node: WorkItem = strawberry.field(description="The item.")
    cursor: str = strawberry.field(description="Opaque position after this item.")


@strawberry.type(description="Your work queue, soonest deadline first (Relay connection).")
class WorkItemConnection:
    edges: list[WorkItemEdge] = strawberry.field(description="This page.")
    page_info: PageInfo = strawberry.field(description="Paging state.")
    total_count: int = strawberry.field(description="How many items wait on you in all.")


@strawberry.type
class WorkQueueQuery:
    @strawberry.field(
        description="Staff: what waits on you at your court: 12368 tickets to answer, case bindings to review, "
        "archive applications to decide and filings received, soonest deadline first (then the rest, oldest "
        "first), each with its working time left."
    )
    async def my_work_queue(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> WorkItemConnection:
        page, cursors, has_next, total = await resolvers.my_work_queue(info, check_first(first), after)
        return WorkItemConnection(
            edges=[WorkItemEdge(node=WorkItem.from_queued(q), cursor=c) for q, c in zip(page, cursors, strict=True)],
            page_info=PageInfo.forward(cursors, has_next),
            total_count=total,
        )
