"""12368 tickets: types and root fields (Query, Mutation) contributed to the schema."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.core import deadlines
from gateway.errors import NotFound
from gateway.resolvers import tickets as resolvers
from gateway.schema.cases import StaffRole
from gateway.schema.common import (
    Node,
    PageInfo,
    check_first,
    china_time,
    global_id,
    mirror_enum,
    parse_global_id,
    refetchable,
)
from gateway.services import Services
from gateway.tickets import service

TicketCategory = mirror_enum(
    service.TicketCategory,
    "TicketCategory",
    "What a 12368 ticket asks: CONSULTATION 咨询, URGE 催办, CONTACT_JUDGE 联系法官, COMPLAINT 投诉, "
    "SUGGESTION 意见建议.",
)
TicketStatus = mirror_enum(
    service.TicketStatus,
    "TicketStatus",
    "OPEN (waiting for an answer) → ANSWERED (the requester may rate it) → CLOSED; or OPEN → CLOSED.",
)


@strawberry.type(description="A staff member a ticket was routed to.")
class TicketHandler:
    staff_id: str = strawberry.field(description="The staff member's id at the court.")
    name: str = strawberry.field(description="Their name.")
    role: StaffRole = strawberry.field(description="Their role (clerk, judge, division head, …).")
    division: str = strawberry.field(description="Their division (立案庭, 民一庭, …).")


@strawberry.type(description="Someone an overdue ticket was escalated to.")
class EscalationRecipient:
    staff_id: str = strawberry.field(description="The staff member's id at the court.")
    name: str = strawberry.field(description="Their name.")
    role: StaffRole = strawberry.field(description="DIVISION_HEAD (庭长) or COURT_LEADER (院领导).")


@strawberry.type(description="One step up the escalation ladder of an overdue item, sent by SMS and in-app notice.")
class Escalation:
    level: int = strawberry.field(description="1: the division head (庭长); 2: the court leaders (院领导).")
    at: datetime = strawberry.field(description="When it was escalated.")
    recipients: list[EscalationRecipient] = strawberry.field(description="Whom it went to.")

    @classmethod
    def from_model(cls, escalation: deadlines.Escalation) -> Escalation:
        return cls(
            level=escalation.level,
            at=china_time(escalation.at),
            recipients=[
                EscalationRecipient(staff_id=r.staff_id, name=r.name, role=StaffRole(r.role.value))
                for r in escalation.recipients
            ],
        )


@strawberry.type(
    description="A 12368 ticket (接诉即答): a question or request to a court, routed to the case's panel or the "
    "court's 立案庭, due within working days (调休 included), escalated when missed."
)
class Ticket(Node):
    court_code: str = strawberry.field(description="The court asked (案号代字).")
    category: TicketCategory = strawberry.field(description="What is asked.")  # type: ignore[valid-type]
    content: str = strawberry.field(description="The requester's text.")
    case_number: str | None = strawberry.field(description="The case it is about, canonical form, when one was given.")
    division: str | None = strawberry.field(description="The division answerable for it.")
    handlers: list[TicketHandler] = strawberry.field(description="Whom it was routed to.")
    status: TicketStatus = strawberry.field(description="Where it is.")  # type: ignore[valid-type]
    requester_name: str = strawberry.field(description="Who asked.")
    created_at: datetime = strawberry.field(description="When it was received: the deadline runs from here.")
    due_at: datetime | None = strawberry.field(
        description="The deadline: end of office hours on the last of its working days."
    )
    overdue: bool = strawberry.field(description="Unanswered past its deadline.")
    working_hours_left: float | None = strawberry.field(
        description="Office hours left until `dueAt` on the court calendar, negative once overdue; null once "
        "answered or closed."
    )
    answer: str | None = strawberry.field(description="The court's answer.")
    answered_at: datetime | None = strawberry.field(description="When it was answered.")
    answered_by_name: str | None = strawberry.field(description="Who answered it.")
    closed_at: datetime | None = strawberry.field(description="When it was closed.")
    rating: int | None = strawberry.field(description="The requester's rating of the answer, 1 to 5.")
    rating_comment: str | None = strawberry.field(description="The requester's comment with the rating.")
    rated_at: datetime | None = strawberry.field(description="When it was rated.")
    escalations: list[Escalation] = strawberry.field(
        description="Each escalation while it was overdue, lowest level first."
    )
    number: str = strawberry.field(
        description="The ticket's number, as texts name it and a person quotes it on the phone to 12368: "
        "12368-<court>-<date received, China time>-<n>, e.g. 12368-粤0104-20261207-0001."
    )

    @classmethod
    def from_view(cls, view: service.TicketView, services: Services, now: datetime | None = None) -> Ticket:
        now = now or services.clock()
        return cls(
            id=global_id("Ticket", view.id),
            court_code=view.court_code,
            category=TicketCategory(view.category.value),
            content=view.content,
            case_number=view.case_number,
            division=view.division,
            handlers=[
                TicketHandler(staff_id=h.staff_id, name=h.name, role=StaffRole(h.role.value), division=h.division)
                for h in view.handlers
            ],
            status=TicketStatus(view.status.value),
            requester_name=view.requester_name,
            created_at=china_time(view.created_at),
            due_at=china_time(view.due_at),
            overdue=view.overdue(now),
            working_hours_left=resolvers.working_hours_left(services, view, now),
            answer=view.answer,
            answered_at=china_time(view.answered_at),
            answered_by_name=view.answered_by_name,
            closed_at=china_time(view.closed_at),
            rating=view.rating,
            rating_comment=view.rating_comment,
            rated_at=china_time(view.rated_at),
            escalations=[Escalation.from_model(e) for e in view.escalations],
            number=view.number,
        )


@strawberry.type(description="A ticket in a list.")
class TicketEdge:
    node: Ticket = strawberry.field(description="The ticket.")
    cursor: str = strawberry.field(description="Opaque position after this ticket.")


@strawberry.type(description="A page of tickets, newest first (Relay connection).")
class TicketConnection:
    edges: list[TicketEdge] = strawberry.field(description="This page.")
    page_info: PageInfo = strawberry.field(description="Paging state.")
    total_count: int = strawberry.field(description="How many tickets the list holds.")


def ticket_connection(page: service.TicketPage, services: Services) -> TicketConnection:
    now = services.clock()
    return TicketConnection(
        edges=[
            TicketEdge(node=Ticket.from_view(t, services, now), cursor=c)
            for t, c in zip(page.tickets, page.cursors, strict=True)
        ],
        page_info=PageInfo.forward(page.cursors, page.has_next_page),
        total_count=page.total,
    )


@strawberry.type(description="How one division's or one staff member's tickets of the period fared (通报).")
class TicketReportRow:
    division: str | None = strawberry.field(description="The division.")
    staff_id: str | None = strawberry.field(description="The handler's staff id (rows per handler only).")
    name: str | None = strawberry.field(description="The handler's name (rows per handler only).")
    received: int = strawberry.field(description="Tickets received in the period.")
    answered_on_time: int = strawberry.field(description="Of those, answered by their deadline.")
    answered_late: int = strawberry.field(description="Answered after their deadline.")
    overdue: int = strawberry.field(
        description="Never answered and past their deadline: still open now, or closed without an answer after it."
    )
    escalated: int = strawberry.field(description="Escalated at least once (to the division head or beyond).")
    mean_hours_to_answer: float | None = strawberry.field(
        description="Mean hours (wall clock) from receipt to answer, over the answered ones; null when none is."
    )
    closed_unanswered: int = strawberry.field(
        description="Closed without an answer (never counted as answered; counted in `overdue` too when closed "
        "after the deadline)."
    )

    @classmethod
    def from_row(cls, row: service.ReportRow) -> TicketReportRow:
        f = row.figures
        return cls(
            division=row.division,
            staff_id=row.staff_id,
            name=row.name,
            received=f.received,
            answered_on_time=f.settled_on_time,
            answered_late=f.settled_late,
            overdue=f.overdue,
            escalated=f.escalated,
            mean_hours_to_answer=f.mean_hours_to_settle,
            closed_unanswered=f.closed_unanswered,
        )


@strawberry.type(description="The 12368 通报 of a court for a period: per division and per handler.")
class TicketReport:
    court_code: str = strawberry.field(description="The court.")
    from_date: date = strawberry.field(name="from", description="First day of the period (China time).")
    to_date: date = strawberry.field(name="to", description="Last day of the period, included.")
    generated_at: datetime = strawberry.field(description="When the figures were taken (overdue is as of then).")
    by_division: list[TicketReportRow] = strawberry.field(description="One row per division.")
    by_handler: list[TicketReportRow] = strawberry.field(
        description="One row per handler (a ticket routed to two counts for each)."
    )
    total: TicketReportRow = strawberry.field(description="The whole court (or your division), each ticket once.")

    @classmethod
    def from_report(cls, report: service.TicketReport) -> TicketReport:
        return cls(
            court_code=report.court_code,
            from_date=report.start,
            to_date=report.end,
            generated_at=china_time(report.generated_at),
            by_division=[TicketReportRow.from_row(r) for r in report.by_division],
            by_handler=[TicketReportRow.from_row(r) for r in report.by_handler],
            total=TicketReportRow.from_row(service.ReportRow(None, None, None, report.total)),
        )


def _ticket_key(id: strawberry.ID) -> str:
    type_name, key = parse_global_id(id)
    if type_name != "Ticket":
        raise NotFound("no such ticket")
    return key


@refetchable("Ticket")
async def ticket_node(info: Info[Context, None], key: str) -> Ticket:
    return Ticket.from_view(await resolvers.ticket(info, key), info.context.services)


@strawberry.type(description="12368 tickets: reads.")
class TicketsQuery:
    @strawberry.field(description="Your 12368 tickets, newest first.")
    async def my_tickets(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> TicketConnection:
        page = await resolvers.my_tickets(info, check_first(first), after)
        return ticket_connection(page, info.context.services)

    @strawberry.field(
        description="Staff: your court's tickets within your scope (court leaders: all; a division head: the "
        "division's; others: those routed to you), newest first."
    )
    async def court_tickets(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        status: Annotated[
            TicketStatus | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only tickets in this status."),
        ] = None,
        overdue_only: Annotated[
            bool, strawberry.argument(description="Only unanswered tickets past their deadline.")
        ] = False,
    ) -> TicketConnection:
        wanted = None if status is None else service.TicketStatus(status.value)
        page = await resolvers.court_tickets(info, check_first(first), after, wanted, overdue_only)
        return ticket_connection(page, info.context.services)

    @strawberry.field(description="One ticket you asked, or may act on as staff; NOT_FOUND otherwise.")
    async def ticket(self, info: Info[Context, None], id: strawberry.ID) -> Ticket:
        return Ticket.from_view(await resolvers.ticket(info, _ticket_key(id)), info.context.services)

    @strawberry.field(
        description="Division heads and court leaders of `court`: the 12368 通报 of the tickets received from "
        "`from` to `to` (dates, both included): received, answered on time and late, overdue, escalated, mean "
        "time to answer, per division and per handler. FORBIDDEN for other roles and other courts."
    )
    async def ticket_report(
        self,
        info: Info[Context, None],
        court: Annotated[str, strawberry.argument(description="The court (案号代字), e.g. 粤0104.")],
        from_: Annotated[date, strawberry.argument(name="from", description="First day of the period.")],
        to: Annotated[date, strawberry.argument(description="Last day of the period, included.")],
    ) -> TicketReport:
        return TicketReport.from_report(await resolvers.ticket_report(info, court, from_, to))


@strawberry.type(description="12368 tickets: writes.")
class TicketsMutation:
    @strawberry.mutation(
        description="Parties and lawyers: ask a court (12368). With `caseNumber` (a case you are a party or agent "
        "of; else NOT_FOUND) it goes to the case's panel, without to the court's 立案庭; its handlers are told by "
        "SMS. It is due within the court's working days for the category (default 2) and escalates to the "
        "division head, then the court leaders, when missed. Errors: BAD_USER_INPUT with `extensions.reason` "
        "(CONTENT_MISSING, CONTENT_TOO_LONG, UNKNOWN_COURT, CASE_OF_ANOTHER_COURT), INVALID_CASE_NUMBER, "
        "NOT_FOUND, and a court error when the court cannot say who answers."
    )
    async def create_ticket(
        self,
        info: Info[Context, None],
        court: Annotated[str, strawberry.argument(description="The court asked (案号代字), e.g. 粤0104.")],
        category: TicketCategory,  # type: ignore[valid-type]
        content: Annotated[str, strawberry.argument(description="What you ask, up to 2000 characters.")],
        case_number: Annotated[
            str | None, strawberry.argument(description="The case it is about (any format of its number).")
        ] = None,
    ) -> Ticket:
        view = await resolvers.create_ticket(
            info,
            court,
            service.TicketCategory(category.value),  # type: ignore[attr-defined]
            content,
            case_number,
        )
        return Ticket.from_view(view, info.context.services)

    @strawberry.mutation(
        description="Staff: answer an open ticket of your court (its handlers, their division head, the court "
        "leaders); stops its clock, and the requester gets the answer by SMS and in-app notice. NOT_FOUND for "
        "another court's ticket, FORBIDDEN outside your scope, BAD_USER_INPUT (ANSWER_MISSING, ANSWER_TOO_LONG, "
        "ALREADY_ANSWERED, TICKET_CLOSED)."
    )
    async def answer_ticket(
        self,
        info: Info[Context, None],
        ticket_id: Annotated[strawberry.ID, strawberry.argument(description="The ticket's ID.")],
        answer: Annotated[str, strawberry.argument(description="The answer, up to 4000 characters.")],
    ) -> Ticket:
        view = await resolvers.answer_ticket(info, _ticket_key(ticket_id), answer)
        return Ticket.from_view(view, info.context.services)

    @strawberry.mutation(
        description="Staff: close a ticket (answered, or needing no answer: closing an open one stops its "
        "clock). Same scope and errors as `answerTicket`; BAD_USER_INPUT ALREADY_CLOSED."
    )
    async def close_ticket(
        self,
        info: Info[Context, None],
        ticket_id: Annotated[strawberry.ID, strawberry.argument(description="The ticket's ID.")],
    ) -> Ticket:
        view = await resolvers.close_ticket(info, _ticket_key(ticket_id))
        return Ticket.from_view(view, info.context.services)

    @strawberry.mutation(
        description="The requester: rate the answer to your ticket, once, 1 to 5. NOT_FOUND when the ticket is "
        "not yours; BAD_USER_INPUT (RATING_RANGE, COMMENT_TOO_LONG, NOT_ANSWERED, ALREADY_RATED)."
    )
    async def rate_ticket(
        self,
        info: Info[Context, None],
        ticket_id: Annotated[strawberry.ID, strawberry.argument(description="The ticket's ID.")],
        rating: Annotated[int, strawberry.argument(description="1 (poor) to 5 (excellent).")],
        comment: Annotated[str | None, strawberry.argument(description="A comment, up to 500 characters.")] = None,
    ) -> Ticket:
        view = await resolvers.rate_ticket(info, _ticket_key(ticket_id), rating, comment)
        return Ticket.from_view(view, info.context.services)
