"""Notification resolvers: the viewer's own notices only, listed, marked read, and pushed live.

Authorisation is the recipient-key filter in every service call: a viewer's keys are derived from
their verified token (person refs, staff seat), never from arguments.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from strawberry.types import Info

from gateway.context import Context
from gateway.core.cursors import decode_cursor, encode_cursor
from gateway.errors import BadUserInput, GatewayError, NotFound, Unauthenticated
from gateway.identity import Scope, Viewer
from gateway.notifications import service
from gateway.notifications.live import FeedOverflow, feed_for, live_notices

CURSOR_KIND = "notifications"
MAX_ID = 2**63 - 1  # the store's ids are 64-bit


class SubscriptionOverflow(GatewayError):
    """The client read the subscription too slowly; resubscribing with ``after`` loses nothing."""

    code = "SUBSCRIPTION_OVERFLOW"


def cursor_of(notice: service.Notice) -> str:
    return encode_cursor(CURSOR_KIND, {"id": notice.id})


async def notifications(
    info: Info[Context, None], first: int, after: str | None, unread_only: bool
) -> service.NoticePage:
    context = info.context
    keys = service.viewer_keys(context.require_viewer(scope=Scope.NOTIFICATIONS_READ))
    before_id = _cursor_id(after) if after else None
    async with context.services.store.session(read_only=True) as session:
        return await service.list_notices(session, keys, first=first, before_id=before_id, unread_only=unread_only)


async def notification(info: Info[Context, None], id: int) -> service.Notice:
    """One of the viewer's notices (``node(id:)``); NOT_FOUND for one that is not theirs or does not exist."""
    context = info.context
    keys = service.viewer_keys(context.require_viewer(scope=Scope.NOTIFICATIONS_READ))
    async with context.services.store.session(read_only=True) as session:
        found = await service.notice_of(session, keys, id)
    if found is None:
        raise NotFound("no such notification of yours")
    return found


async def mark_read(info: Info[Context, None], ids: list[int] | None, all: bool) -> int:
    """Mark some (``ids``) or all of the viewer's notices read; NOT_FOUND, and nothing marked, when any
    id is not the viewer's."""
    if all == (ids is not None):
        raise BadUserInput("give either `ids` or `all: true`", reason="IDS_OR_ALL")
    context = info.context
    keys = service.viewer_keys(context.require_viewer(scope=Scope.NOTIFICATIONS_READ))
    async with context.services.store.session() as session:
        return await service.mark_read(session, keys, ids, now=context.services.clock())


async def notification_added(info: Info[Context, None], after_id: int | None) -> AsyncIterator[service.Notice]:
    """The viewer's new notices as they are stored; ends with UNAUTHENTICATED when the token expires."""
    context = info.context
    viewer = context.require_viewer(scope=Scope.NOTIFICATIONS_READ)
    feed = feed_for(context.services.store, interval_s=context.services.settings.notification_poll_s)
    stream = live_notices(feed, service.viewer_keys(viewer), after_id=after_id)
    try:
        while True:
            try:
                notice = await asyncio.wait_for(anext(stream), _seconds_left(viewer))
            except TimeoutError:
                raise Unauthenticated("your token expired: reconnect with a new one") from None
            except FeedOverflow as e:
                raise SubscriptionOverflow(str(e)) from None
            yield notice
    finally:
        await stream.aclose()


def _seconds_left(viewer: Viewer) -> float | None:
    expires = viewer.claims.get("exp")
    return None if expires is None else max(0.0, float(expires) - time.time())


def _cursor_id(cursor: str) -> int:
    value = decode_cursor(CURSOR_KIND, cursor).get("id")
    if type(value) is not int or not 0 < value <= MAX_ID:
        raise BadUserInput("cursor is not one this gateway issued", reason="CURSOR")
    return value
