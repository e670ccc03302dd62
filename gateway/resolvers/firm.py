"""Resolvers for firm software's sync: ``changes``, webhook endpoints and their log, calendar feeds.

Authorisation: everything is the caller's own (their recipient keys and subject come from the verified
token, never from arguments); a client's token also needs the scope of what it reads (``changes``:
cases:read or documents:read, each kind filtered by its scope; webhooks: webhooks:manage, checked in
``gateway.webhooks.service``; calendar feeds: calendar:read).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info

from gateway.calendar.service import CalendarService
from gateway.context import Context
from gateway.core.cursors import decode_cursor, encode_cursor
from gateway.core.errors import NotFoundError
from gateway.demand.ratelimit import RateLimiter, rate_limited
from gateway.errors import BadUserInput, refusal_response
from gateway.identity import Scope
from gateway.notifications import changes as sync
from gateway.notifications.events import visible_kinds
from gateway.notifications.service import viewer_keys
from gateway.webhooks.service import Delivery, Endpoint

CALENDAR_PATH = "/calendar/"
LOG_CURSOR = "webhookDeliveries"


async def changes(info: Info[Context, None], since: str | None, first: int) -> sync.ChangePage:
    context = info.context
    viewer = context.require_viewer(scope=(Scope.CASES_READ, Scope.DOCUMENTS_READ))
    services = context.services
    valid = timedelta(days=services.settings.changes_point_valid_days)
    async with services.store.session(read_only=True) as session:
        return await sync.changes_since(
            session,
            viewer_keys(viewer),
            visible_kinds(viewer.scopes),
            since=since,
            first=first,
            now=services.now(),
            valid=valid,
        )


async def register_webhook(info: Info[Context, None], url: str, event_types: list[str]) -> tuple[Endpoint, str]:
    context = info.context
    return await context.services.webhooks.register(
        context.require_viewer(scope=Scope.WEBHOOKS_MANAGE), url, event_types
    )


async def webhook_endpoints(info: Info[Context, None]) -> list[Endpoint]:
    context = info.context
    return await context.services.webhooks.endpoints(context.require_viewer(scope=Scope.WEBHOOKS_MANAGE))


async def update_webhook(
    info: Info[Context, None], id: str, url: str | None, event_types: list[str] | None, enabled: bool | None
) -> Endpoint:
    context = info.context
    viewer = context.require_viewer(scope=Scope.WEBHOOKS_MANAGE)
    return await context.services.webhooks.update(viewer, id, url=url, event_types=event_types, enabled=enabled)


async def delete_webhook(info: Info[Context, None], id: str) -> bool:
    context = info.context
    await context.services.webhooks.delete(context.require_viewer(scope=Scope.WEBHOOKS_MANAGE), id)
    return True


async def webhook_deliveries(
    info: Info[Context, None], endpoint_id: str, first: int, after: str | None
) -> tuple[list[Delivery], bool]:
    context = info.context
    before = None if after is None else _log_cursor(after)
    rows = await context.services.webhooks.deliveries(
        context.require_viewer(scope=Scope.WEBHOOKS_MANAGE), endpoint_id, first=first, before_id=before
    )
    return rows[:first], len(rows) > first


def log_cursor(delivery: Delivery) -> str:
    return encode_cursor(LOG_CURSOR, {"id": delivery.id})


def _log_cursor(cursor: str) -> int:
    value = decode_cursor(LOG_CURSOR, cursor).get("id")
    if type(value) is not int or not 0 < value < 2**63:
        raise BadUserInput("cursor is not one this gateway issued", reason="CURSOR")
    return value


async def replay_webhook(info: Info[Context, None], message_id: str) -> Delivery:
    context = info.context
    return await context.services.webhooks.replay(context.require_viewer(scope=Scope.WEBHOOKS_MANAGE), message_id)


async def rotate_calendar(info: Info[Context, None]) -> str:
    """A new secret calendar URL for the caller; the previous one stops working."""
    context = info.context
    viewer = context.require_viewer(scope=Scope.CALENDAR_READ)
    token = await context.services.calendar.rotate(viewer)
    return f"{context.services.settings.public_url.rstrip('/')}{CALENDAR_PATH}{token}.ics"


#: a calendar application polls a feed every 15 minutes or so; each fetch reads every court (through the
#: cache): a feed URL, leaked or not, gets a burst of 10 fetches, then one every 30 s
CALENDAR_BURST, CALENDAR_RATE = 10, 1 / 30


def calendar_download(
    calendar: CalendarService, limiter: RateLimiter | None
) -> Callable[[Request], Awaitable[Response]]:
    """``GET /calendar/{token}.ics``: the feed; an unknown, rotated or malformed token is one and the same
    404, so the answer never tells whether a feed ever existed. Each URL has its own bucket (shared across
    replicas with Redis), counted before any work, for a known token and an unknown one alike."""

    async def download(request: Request) -> Response:
        name = request.path_params["file"]
        if limiter is not None:
            key = "calendar:" + hashlib.sha256(name.encode()).hexdigest()[:32]
            decision = await limiter.buckets.take(key, CALENDAR_RATE, CALENDAR_BURST)
            if not decision.allowed:
                return rate_limited(decision)
        found = await calendar.feed(name.removesuffix(".ics")) if name.endswith(".ics") else None
        if found is None:
            return refusal_response(NotFoundError("no such calendar"))
        headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
        return Response(found, media_type="text/calendar; charset=utf-8", headers=headers)

    return download
