"""12368 ticket resolvers: who may ask, answer, close, rate and report, and the errors they get.

Requesters are parties and lawyers (any identity level); staff act within their court (another
court's ticket is NOT_FOUND, as if it did not exist) and their scope (FORBIDDEN). The 通报 report is
for division heads and court leaders of the court it is about.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from strawberry.types import Info

from gateway.adapters.errors import CourtError
from gateway.adapters.model import Staff
from gateway.casenumber import InvalidCaseNumber
from gateway.context import Context, Services
from gateway.core import deadlines
from gateway.core.cursors import InvalidCursor
from gateway.core.uploads import InvalidInput
from gateway.errors import BadUserInput, CourtFailureError, Forbidden, InvalidCaseNumberError, NotFound
from gateway.identity import STAFF_ROLES, Role
from gateway.resolvers.cases import PERSON_ROLES
from gateway.resolvers.filings import bad_input
from gateway.tickets.service import (
    NoSuchCase,
    NoSuchTicket,
    NotInScope,
    TicketCategory,
    TicketPage,
    TicketReport,
    TicketService,
    TicketStatus,
    TicketView,
)

REPORT_ROLES = {Role.DIVISION_HEAD, Role.COURT_LEADER}


def roster_lookup(services: Services) -> deadlines.RosterLookup:
    """The court's staff list, through the shared roster service (cached there)."""

    async def lookup(court_code: str) -> Sequence[Staff]:
        from gateway.core import roster

        return await roster.roster(services, court_code)

    return lookup


def ticket_service(services: Services) -> TicketService:
    return TicketService(
        services.store,
        services.cases,
        services.parser,
        services.settings,
        roster_lookup(services),
        deadlines.calendar_for(services.settings),
        clock=lambda: services.clock(),
    )


async def create_ticket(
    info: Info[Context, None], court: str, category: TicketCategory, content: str, case_number: str | None
) -> TicketView:
    viewer = info.context.require_viewer(roles=PERSON_ROLES)
    try:
        return await ticket_service(info.context.services).create(
            viewer, court_code=court, category=category, content=content, case_number=case_number
        )
    except InvalidInput as e:
        raise bad_input(e) from None
    except InvalidCaseNumber as e:
        raise InvalidCaseNumberError(str(e)) from None
    except NoSuchCase:
        raise NotFound(f"no case {case_number} that you are a party or agent of") from None
    except CourtError as e:
        message = f"{e.court_code} could not say who answers this ticket, so nothing was stored; try again later"
        raise CourtFailureError(e.code, e.court_code, message) from None


async def answer_ticket(info: Info[Context, None], ticket_id: str, answer: str) -> TicketView:
    viewer = info.context.require_viewer(roles=set(STAFF_ROLES))
    try:
        return await ticket_service(info.context.services).answer(viewer, ticket_id, answer)
    except InvalidInput as e:
        raise bad_input(e) from None
    except NoSuchTicket:
        raise NotFound("no such ticket at your court") from None
    except NotInScope:
        raise Forbidden("only the ticket's handlers, their division head and the court leaders may act on it") from None


async def close_ticket(info: Info[Context, None], ticket_id: str) -> TicketView:
    viewer = info.context.require_viewer(roles=set(STAFF_ROLES))
    try:
        return await ticket_service(info.context.services).close(viewer, ticket_id)
    except InvalidInput as e:
        raise bad_input(e) from None
    except NoSuchTicket:
        raise NotFound("no such ticket at your court") from None
    except NotInScope:
        raise Forbidden("only the ticket's handlers, their division head and the court leaders may act on it") from None


async def rate_ticket(info: Info[Context, None], ticket_id: str, rating: int, comment: str | None) -> TicketView:
    viewer = info.context.require_viewer(roles=PERSON_ROLES)
    try:
        return await ticket_service(info.context.services).rate(viewer, ticket_id, rating, comment)
    except InvalidInput as e:
        raise bad_input(e) from None
    except NoSuchTicket:
        raise NotFound("no such ticket of yours") from None


async def my_tickets(info: Info[Context, None], first: int, after: str | None) -> TicketPage:
    viewer = info.context.require_viewer(roles=PERSON_ROLES)
    try:
        return await ticket_service(info.context.services).mine(viewer, first=first, after=after)
    except InvalidCursor as e:
        raise BadUserInput(str(e)) from None


async def court_tickets(
    info: Info[Context, None], first: int, after: str | None, status: TicketStatus | None, overdue_only: bool
) -> TicketPage:
    viewer = info.context.require_viewer(roles=set(STAFF_ROLES))
    if not viewer.court_code or viewer.court_code not in info.context.services.registry:
        raise Forbidden("your account names no court this gateway serves")
    try:
        return await ticket_service(info.context.services).court_tickets(
            viewer,
            first=first,
            after=after,
            status=status,
            overdue_at=info.context.services.clock() if overdue_only else None,
        )
    except InvalidCursor as e:
        raise BadUserInput(str(e)) from None


async def ticket(info: Info[Context, None], ticket_id: str) -> TicketView:
    viewer = info.context.require_viewer()
    found = await ticket_service(info.context.services).get(viewer, ticket_id)
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
    try:
        return await ticket_service(context.services).report(viewer, court, start, end, now=context.services.clock())
    except InvalidInput as e:
        raise bad_input(e) from None
    except NotInScope:
        raise Forbidden("the 通报 of a court is for its own division heads and leaders") from None


def working_hours_left(services: Services, view: TicketView, now: datetime) -> float | None:
    """Office hours until the deadline (negative once overdue); None once answered or closed."""
    if view.due_at is None or view.settled_at is not None:
        return None
    seconds = deadlines.calendar_for(services.settings).working_seconds_between(now, view.due_at)
    return round(seconds / 3600, 2)
