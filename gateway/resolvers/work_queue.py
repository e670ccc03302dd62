"""The staff work queue: every workflow's items waiting on the viewer, soonest deadline first."""

from __future__ import annotations

from strawberry.types import Info

from gateway.archive.service import archive_applications_waiting
from gateway.bindings.service import bindings_waiting
from gateway.context import Context
from gateway.core.cursors import InvalidCursor, decode_cursor, encode_cursor
from gateway.core.deadlines import calendar_for
from gateway.errors import BadUserInput
from gateway.identity import STAFF_ROLES
from gateway.tickets.service import tickets_waiting
from gateway.work_queue import service

CURSOR_KIND = "myWorkQueue"


def sources(info: Info[Context, None]) -> list[service.WorkSource]:
    """One source per workflow the gateway owns."""
    services = info.context.services
    return [
        tickets_waiting(services.store),
        bindings_waiting(services.store),
        archive_applications_waiting(services.store),
        service.filings_received(services.store),
    ]


async def my_work_queue(
    info: Info[Context, None], first: int, after: str | None
) -> tuple[list[service.QueuedItem], list[str], bool, int]:
    """This page of the queue, its cursors, whether more follow, and the queue's length."""
    viewer = info.context.require_viewer(roles=set(STAFF_ROLES))
    try:
        start = int(decode_cursor(CURSOR_KIND, after)["i"]) if after else 0
    except (InvalidCursor, KeyError, TypeError, ValueError):
        raise BadUserInput("after: not a cursor of this list", reason="CURSOR") from None
    if start < 0:
        raise BadUserInput("after: not a cursor of this list", reason="CURSOR")
    queue = await service.work_queue(
        viewer, sources(info), calendar_for(info.context.services.settings), now=info.context.services.clock()
    )
    page = queue[start : start + first]
    cursors = [encode_cursor(CURSOR_KIND, {"i": start + n + 1}) for n in range(len(page))]
    return page, cursors, start + first < len(queue), len(queue)
