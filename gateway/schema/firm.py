"""Firm software's sync: ``changes``, webhook endpoints with their delivery log, and calendar feeds."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.notifications import changes as sync
from gateway.resolvers import firm as resolvers
from gateway.schema.common import PageInfo, check_first, china_time
from gateway.webhooks import service

EVENT_TYPES_TEXT = (
    "document.served, hearing.scheduled, filing.delivered, filing.handled, ticket.answered, binding.decided"
)


@strawberry.type(description="Something that happened for you: the same event a webhook delivers.")
class Change:
    type: str = strawberry.field(description=f"What happened: one of {EVENT_TYPES_TEXT}.")
    court_code: str | None = strawberry.field(description="The court it is about.")
    case_number: str | None = strawberry.field(description="The case it is about, when one is.")
    title: str = strawberry.field(description="Short heading, e.g. 新送达文书.")
    text: str = strawberry.field(description="The full text, in the court's wording.")
    occurred_at: datetime = strawberry.field(description="When the gateway recorded it.")

    @classmethod
    def of(cls, change: sync.Change) -> Change:
        return cls(
            type=change.event_type,
            court_code=change.court_code,
            case_number=change.case_number,
            title=change.title,
            text=change.text,
            occurred_at=china_time(change.occurred_at),
        )


@strawberry.type(description="A change in a page of `changes`.")
class ChangeEdge:
    node: Change = strawberry.field(description="The change.")


@strawberry.type(
    description="A page of what changed for you since a point, oldest first. Keep `point` and pass it as "
    "`since` next time: it resumes exactly after this page, survives restarts and is valid for the number of "
    "days the gateway documents (30 by default); an expired one is refused with CHANGES_POINT_EXPIRED."
)
class ChangeConnection:
    edges: list[ChangeEdge] = strawberry.field(description="This page.")
    point: str = strawberry.field(description="Opaque point after this page: the next call's `since`.")
    has_more: bool = strawberry.field(description="More changes wait after this page: call again now.")


@strawberry.type(description="One attempt history of one event sent to one of your webhook endpoints.")
class WebhookDelivery:
    message_id: str = strawberry.field(description="The `webhook-id` header: the same on every attempt and replay.")
    event_type: str = strawberry.field(description=f"One of {EVENT_TYPES_TEXT}.")
    status: str = strawberry.field(description="PENDING (being tried), DELIVERED or FAILED (for good).")
    attempts: int = strawberry.field(description="Attempts made so far.")
    created_at: datetime = strawberry.field(description="When the event was queued.")
    delivered_at: datetime | None = strawberry.field(description="When your receiver answered 2xx.")
    last_attempt_at: datetime | None = strawberry.field(description="When it was last tried.")
    last_status: int | None = strawberry.field(description="Your receiver's HTTP status at the last attempt.")
    last_error: str | None = strawberry.field(description="Why the last attempt failed, when it did.")
    next_attempt_at: datetime | None = strawberry.field(description="When it is tried next, while PENDING.")

    @classmethod
    def of(cls, d: service.Delivery) -> WebhookDelivery:
        return cls(
            message_id=d.message_id,
            event_type=d.event_type,
            status=d.status,
            attempts=d.attempts,
            created_at=china_time(d.created_at),
            delivered_at=china_time(d.delivered_at),
            last_attempt_at=china_time(d.last_attempt_at),
            last_status=d.last_status,
            last_error=d.last_error,
            next_attempt_at=china_time(d.next_attempt_at),
        )


@strawberry.type(description="A delivery in the log.")
class WebhookDeliveryEdge:
    node: WebhookDelivery = strawberry.field(description="The delivery.")
    cursor: str = strawberry.field(description="Opaque position after this delivery.")


@strawberry.type(description="A page of an endpoint's delivery log, newest first (Relay connection).")
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge] = strawberry.field(description="This page.")
    page_info: PageInfo = strawberry.field(description="Paging state.")


@strawberry.type(description="A receiver your software registered for the events of the person who authorised it.")
class WebhookEndpoint:
    id: strawberry.ID = strawberry.field(description="The endpoint's id (ep_…).")
    url: str = strawberry.field(description="Where deliveries are POSTed.")
    event_types: list[str] = strawberry.field(description=f"The events it receives: of {EVENT_TYPES_TEXT}.")
    enabled: bool = strawberry.field(description="False once disabled (by you, or after a day of failures).")
    disabled_reason: str | None = strawberry.field(description="Why it is disabled.")
    created_at: datetime = strawberry.field(description="When it was registered.")

    @strawberry.field(description="Its delivery log, newest first.")
    async def deliveries(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> WebhookDeliveryConnection:
        found, more = await resolvers.webhook_deliveries(info, str(self.id), check_first(first), after)
        cursors = [resolvers.log_cursor(d) for d in found]
        return WebhookDeliveryConnection(
            edges=[
                WebhookDeliveryEdge(node=WebhookDelivery.of(d), cursor=c) for d, c in zip(found, cursors, strict=True)
            ],
            page_info=PageInfo.forward(cursors, more),
        )

    @classmethod
    def of(cls, e: service.Endpoint) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(e.id),
            url=e.url,
            event_types=list(e.event_types),
            enabled=e.enabled,
            disabled_reason=e.disabled_reason,
            created_at=china_time(e.created_at),
        )


@strawberry.type(description="A newly registered endpoint and its signing secret.")
class RegisteredWebhookEndpoint:
    endpoint: WebhookEndpoint = strawberry.field(description="The endpoint.")
    secret: str = strawberry.field(
        description="The signing secret (whsec_…), shown this once: verify each delivery's `webhook-signature` "
        "with it (Standard Webhooks)."
    )


@strawberry.type(description="Your calendar feed's secret address.")
class CalendarFeed:
    url: str = strawberry.field(
        description="An iCalendar (RFC 5545) feed of your hearings at every court and the deadlines the gateway "
        "knows (appeal periods of served judgments and rulings, the courts' answer deadlines of your 12368 "
        "requests and case bindings), in Asia/Shanghai time. Anyone with the URL can read it: keep it secret."
    )


@strawberry.type
class FirmQuery:
    @strawberry.field(
        description="What changed for you since `since` (a `point` from an earlier page; omit it to start from "
        "everything of the last 30 days): documents served, hearings scheduled, filings delivered and handled, "
        "12368 requests answered, case bindings decided, oldest first. A client's token needs cases:read or "
        "documents:read, and sees only the kinds its scopes cover (document.served: documents:read; the "
        "others: cases:read)."
    )
    async def changes(self, info: Info[Context, None], since: str | None = None, first: int = 50) -> ChangeConnection:
        page = await resolvers.changes(info, since, check_first(first, maximum=500))
        return ChangeConnection(
            edges=[ChangeEdge(node=Change.of(c)) for c in page.changes], point=page.point, has_more=page.has_more
        )

    @strawberry.field(
        description="The webhook endpoints your software registered for you (a client's token with webhooks:manage)."
    )
    async def webhook_endpoints(self, info: Info[Context, None]) -> list[WebhookEndpoint]:
        return [WebhookEndpoint.of(e) for e in await resolvers.webhook_endpoints(info)]


@strawberry.type
class FirmMutation:
    @strawberry.mutation(
        description="Register a webhook endpoint for your events (a client's token with webhooks:manage and the "
        f"scopes of the event types: document.served needs documents:read, the others cases:read). Types: "
        f"{EVENT_TYPES_TEXT}. The URL must be https (in the demo, http to loopback is allowed); private and "
        "link-local addresses are refused. Deliveries are signed per Standard Webhooks."
    )
    async def register_webhook_endpoint(
        self, info: Info[Context, None], url: str, event_types: list[str]
    ) -> RegisteredWebhookEndpoint:
        endpoint, secret = await resolvers.register_webhook(info, url, event_types)
        return RegisteredWebhookEndpoint(endpoint=WebhookEndpoint.of(endpoint), secret=secret)

    @strawberry.mutation(
        description="Change one of your endpoints; `enabled: true` re-enables one disabled after persistent "
        "failure (replay what it missed with `replayWebhookDelivery`)."
    )
    async def update_webhook_endpoint(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        url: str | None = None,
        event_types: list[str] | None = None,
        enabled: bool | None = None,
    ) -> WebhookEndpoint:
        return WebhookEndpoint.of(await resolvers.update_webhook(info, str(id), url, event_types, enabled))

    @strawberry.mutation(description="Delete one of your endpoints and its delivery log.")
    async def delete_webhook_endpoint(self, info: Info[Context, None], id: strawberry.ID) -> bool:
        return await resolvers.delete_webhook(info, str(id))

    @strawberry.mutation(
        description="Send a logged delivery again, with the same webhook-id (a receiver that has it drops it)."
    )
    async def replay_webhook_delivery(self, info: Info[Context, None], message_id: str) -> WebhookDelivery:
        return WebhookDelivery.of(await resolvers.replay_webhook(info, message_id))

    @strawberry.mutation(
        description="Create your calendar feed's secret URL, or replace it: the previous URL stops working. A "
        "client's token needs calendar:read."
    )
    async def rotate_calendar_feed(self, info: Info[Context, None]) -> CalendarFeed:
        return CalendarFeed(url=await resolvers.rotate_calendar(info))
