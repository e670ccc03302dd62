"""12368 ticket resolvers: who may ask, answer, close, rate and report, and the errors they get.

Requesters are parties and lawyers (any identity level); staff act within their court (another
court's ticket is NOT_FOUND, as if it did not exist) and their scope (FORBIDDEN). The 通报 report is
for division heads and court leaders of the court it is about.
"""

from __future__ import annotations

from datetime import date, datetime

from strawberry.types import Info

from gateway.context import Context
from gateway.core import deadlines
from gateway.errors import BadUserInput, Forbidden, NotFound
from gateway.identity import STAFF_ROLES, Role, Scope
from gateway.schema.common import PERSON_ROLES
from gateway.services import Services
from gateway.tickets.service import (
    TicketCategory,
    TicketPage,
    TicketReport,
    TicketStatus,
    TicketView,
)

REPORT_ROLES = {Role.DIVISION_HEAD, Role.COURT_LEADER}
#: the years a 通报 may cover: the 12368 service began after the first; none is recorded after the last
REPORT_YEARS = (2000, 2100)


async def create_ticket(
    info: Info[Context, None], court: str, category: TicketCategory, content: str, case_number: str | None
) -> TicketView:
    viewer = info.context.require_viewer(roles=PERSON_ROLES, scope=Scope.TICKETS_WRITE)
    return await info.context.services.tickets.create(
        viewer, court_code=court, category=category, content=content, case_number=case_number
    )


async def answer_ticket(info: Info[Context, None], ticket_id: str, answer: str) -> TicketView:
    viewer = info.context.require_viewer(roles=set(STAFF_ROLES))
    return await info.context.services.tickets.answer(viewer, ticket_id, answer)


async def close_ticket(info: Info[Context, None], ticket_id: str) -> TicketView:
    viewer = info.context.require_viewer(roles=set(STAFF_ROLES))
    return await info.context.services.tickets.close(viewer, ticket_id)


async def rate_ticket(info: Info[Context, None], ticket_id: str, rating: int, comment: str | None) -> TicketView:
    viewer = info.context.require_viewer(roles=PERSON_ROLES, scope=Scope.TICKETS_WRITE)
    return await info.context.services.tickets.rate(viewer, ticket_id, rating, comment)


async def my_tickets(info: Info[Context, None], first: int, after: str | None) -> TicketPage:
    viewer = info.context.require_viewer(roles=PERSON_ROLES, scope=Scope.TICKETS_WRITE)
    return await info.context.services.tickets.mine(viewer, first=first, after=after)


async def court_tickets(
    info: Info[Context, None], first: int, after: str | None, status: TicketStatus | None, overdue_only: bool
) -> TicketPage:
    viewer = info.context.require_viewer(roles=set(STAFF_ROLES))
    if not viewer.court_code or viewer.court_code not in info.context.services.registry:
        raise Forbidden("your account names no court this gateway serves")
    return await info.context.services.tickets.court_tickets(
        viewer,
        first=first,
        after=after,
        status=status,
        overdue_at=info.context.services.clock() if overdue_only else None,
    )


async def ticket(info: Info[Context, None], ticket_id: str) -> TicketView:
    viewer = info.context.require_viewer(scope=Scope.TICKETS_WRITE)
    found = await info.context.services.tickets.get(viewer, ticket_id)
    if found is None:
        raise NotFound("no such ticket of yours")
    return found


async def ticket_report(info: Info[Context, None], court: str, start: date, end: date) -> TicketReport:
    context = info.context
    viewer = context.require_viewer(roles=REPORT_ROLES)
    if not any(c.code == court and c.is_court for c in context.services.settings.courts):
        raise BadUserInput(f"no court {court!r} is served by this gateway", reason="UNKNOWN_COURT")
    if viewer.court_code != court:
        raise Forbidden("the 通报 of a court is for its own division heads and leaders")
    if not (REPORT_YEARS[0] <= start.year and end.year <= REPORT_YEARS[1]):
        raise BadUserInput(
            f"a report's period lies within the years {REPORT_YEARS[0]} to {REPORT_YEARS[1]}", reason="PERIOD"
        )
    return await context.services.tickets.report(viewer, court, start, end, now=context.services.clock())


def working_hours_left(services: Services, view: TicketView, now: datetime) -> float | None:
    """Office hours until the deadline (negative once overdue); None once answered or closed."""
    if view.due_at is None or view.settled_at is not None:
        return None
    seconds = deadlines.calendar_for(services.settings).working_seconds_between(now, view.due_at)
    return round(seconds / 3600, 2)
