"""Notifications: types and root fields (Query, Mutation, Subscription) contributed to the schema."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.errors import NotFound
from gateway.notifications import service
from gateway.resolvers import notifications as resolvers
from gateway.schema.common import (
    MAX_NUMBER,
    Node,
    PageInfo,
    check_first,
    china_time,
    global_id,
    global_number,
    mirror_enum,
    refetchable,
)

NotificationKind = mirror_enum(
    service.NotificationKind, "NotificationKind", "What a notification is about (the SMS template it shares)."
)


@strawberry.type(
    description="A notice in your notification list; the same text went out by SMS when we had your phone."
)
class Notification(Node):
    id: strawberry.ID = strawberry.field(
        description="Global ID; pass it to `markNotificationsRead`, or to `node(id:)` to refetch the notice."
    )
    kind: NotificationKind = strawberry.field(description="What happened.")  # type: ignore[valid-type]
    title: str = strawberry.field(description="Short heading, e.g. 材料已处理.")
    body: str = strawberry.field(description="The full text, in the court's wording, with the 【court】 prefix.")
    court_code: str | None = strawberry.field(description="The court it is about (案号代字), when one is.")
    case_number: str | None = strawberry.field(description="The case it is about, when one is.")
    created_at: datetime = strawberry.field(description="When the gateway recorded it.")
    read_at: datetime | None = strawberry.field(description="When you marked it read; null while unread.")

    @classmethod
    def from_notice(cls, notice: service.Notice) -> Notification:
        return cls(
            id=global_id("Notification", str(notice.id)),
            kind=NotificationKind(notice.kind),
            title=notice.title,
            body=notice.body,
            court_code=notice.court_code,
            case_number=notice.case_number,
            created_at=china_time(notice.created_at),
            read_at=china_time(notice.read_at),
        )


@strawberry.type(description="A notification in a list.")
class NotificationEdge:
    node: Notification = strawberry.field(description="The notification.")
    cursor: str = strawberry.field(description="Opaque position after this notification.")


@strawberry.type(description="A page of your notifications, newest first (Relay connection).")
class NotificationConnection:
    edges: list[NotificationEdge] = strawberry.field(description="This page.")
    page_info: PageInfo = strawberry.field(description="Paging state.")
    total_count: int = strawberry.field(description="How many the list holds (all, or unread only when asked).")
    unread_count: int = strawberry.field(description="How many of all your notifications are unread.")


def _notification_number(id: strawberry.ID) -> int:
    return global_number(id, "Notification")


@refetchable("Notification")
async def notification_node(info: Info[Context, None], key: str) -> Notification:
    """One of the viewer's notices by the key of its global ID; NOT_FOUND for anything else."""
    if not (key.isascii() and key.isdigit()) or int(key[:20]) > MAX_NUMBER:
        raise NotFound("no such notification of yours")
    return Notification.from_notice(await resolvers.notification(info, int(key)))


@strawberry.type
class NotificationsQuery:
    @strawberry.field(
        description="Your notifications (filings handled, documents served, hearings …), newest first. "
        "Staff see those addressed to their seat at their court."
    )
    async def notifications(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        unread_only: bool = False,
    ) -> NotificationConnection:
        page = await resolvers.notifications(info, check_first(first), after, unread_only)
        cursors = [resolvers.cursor_of(n) for n in page.notices]
        return NotificationConnection(
            edges=[
                NotificationEdge(node=Notification.from_notice(n), cursor=c)
                for n, c in zip(page.notices, cursors, strict=True)
            ],
            page_info=PageInfo.forward(cursors, page.has_next_page),
            total_count=page.total,
            unread_count=page.unread,
        )


@strawberry.type
class NotificationsMutation:
    @strawberry.mutation(
        description="Mark your notifications read: those in `ids`, or all of them with `all: true`. Returns "
        "how many were unread until now. NOT_FOUND, and nothing marked, when an ID is not one of yours."
    )
    async def mark_notifications_read(
        self, info: Info[Context, None], ids: list[strawberry.ID] | None = None, all: bool = False
    ) -> int:
        numbers = None if ids is None else [_notification_number(i) for i in ids]
        return await resolvers.mark_read(info, numbers, all)


@strawberry.type
class NotificationsSubscription:
    @strawberry.subscription(
        description="Each new notification for you, as it is recorded (graphql-transport-ws; authenticate in "
        'the connection_init payload: {"Authorization": "Bearer …"}). With `after`, the ones you missed '
        "since that notification come first, so a reconnecting client loses none."
    )
    async def notification_added(
        self, info: Info[Context, None], after: strawberry.ID | None = None
    ) -> AsyncGenerator[Notification, None]:
        after_id = None if after is None else _notification_number(after)
        async for notice in resolvers.notification_added(info, after_id):
            yield Notification.from_notice(notice)
