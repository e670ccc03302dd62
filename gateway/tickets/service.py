"""12368 tickets (接诉即答): a party's or lawyer's question or request, routed, answered on time, rated.

``create`` routes a ticket to whoever must answer it: the case's panel (its clerks and lead judge) when
a case is named, else the court's 立案庭 (its head, or its first judge). The handlers are told by SMS
and in-app notice, and the deadline (working days per court and category, default 2, on the State
Council calendar) is tracked by the shared engine (``gateway.core.deadlines``), whose scheduler
escalates an unanswered ticket to the division head and then the court leaders.

Every ticket gets a number a person can quote on the phone (``12368-粤0104-20261207-0001``, see
``gateway.store.tickets``), allocated in the ticket's own transaction; every text about a ticket names it
by that number (and by its case number when it has a case). Closing an open ticket stops its clock as
CLOSED_UNANSWERED: the 通报 never counts it as answered.

Staff act within their court and their scope: a ticket's handlers, the head of its division, and the
court's leaders. Staff of another court learn nothing (NoSuchTicket, as for a ticket that does not
exist); staff of the same court outside that scope are refused (NotInScope). The requester sees the
answer (SMS + in-app) and rates it once.

Courts are called (the case, the roster) before any write transaction opens; each change, its
notifications and its audit record commit together.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.errors import NotFoundAtCourt
from gateway.adapters.model import CHINA_TZ, Case, Staff, StaffRole
from gateway.cases.service import CaseService
from gateway.config import CourtConfig, Settings
from gateway.core import deadlines
from gateway.core.access import is_party_or_agent
from gateway.core.cursors import Keyset
from gateway.core.deadlines import Escalation, RosterLookup, TrackedDeadline
from gateway.core.errors import NotFoundError, NotPermitted
from gateway.core.roster import roster as staff_roster
from gateway.core.runtime import Runtime
from gateway.core.uploads import InvalidInput
from gateway.core.workdays import WorkingCalendar
from gateway.identity import Role, Viewer
from gateway.notifications.service import NotificationKind, Recipient, notify, person_key, staff_key
from gateway.store import Store, audit
from gateway.store.deadlines import DeadlineHandler, DeadlineRecord
from gateway.store.tickets import TicketNumberCounter, TicketRecord
from gateway.work_queue.service import WorkItem, WorkKind, WorkSource

#: the deadline engine's subject type for tickets
SUBJECT = "ticket"
#: where a ticket without a case goes
FILING_DIVISION = "立案庭"
MAX_CONTENT = 2000
MAX_ANSWER = 4000
MAX_COMMENT = 500


class TicketCategory(StrEnum):
    CONSULTATION = "CONSULTATION"  # 咨询
    URGE = "URGE"  # 催办
    CONTACT_JUDGE = "CONTACT_JUDGE"  # 联系法官
    COMPLAINT = "COMPLAINT"  # 投诉
    SUGGESTION = "SUGGESTION"  # 意见建议


class TicketStatus(StrEnum):
    OPEN = "OPEN"  # waiting for an answer
    ANSWERED = "ANSWERED"  # answered; the requester may rate it
    CLOSED = "CLOSED"  # done (answered or not); nothing more happens to it


CATEGORY_LABELS = dict(deadlines.WORDING[SUBJECT].categories)


class NoSuchTicket(NotFoundError):
    """No such ticket, or not one the viewer may see (the two are indistinguishable)."""


class NoSuchCase(NotFoundError):
    """No such case, or not one the viewer is a party or agent of."""


#: what a staff member outside a ticket's scope is told
HANDLER_SCOPE = "only the ticket's handlers, their division head and the court leaders may act on it"
REPORT_SCOPE = "the 通报 of a court is for its own division heads and leaders"


class NotInScope(NotPermitted):
    """A staff member of the ticket's court who is neither its handler, its division's head nor a leader."""


@dataclass(frozen=True, slots=True)
class TicketHandler:
    staff_id: str
    name: str
    role: StaffRole
    division: str


@dataclass(frozen=True, slots=True)
class TicketView:
    """A ticket as the requester and staff see it (a detached copy of its rows)."""

    id: str
    #: what a person quotes on the phone: 12368-粤0104-20261207-0001
    number: str
    court_code: str
    category: TicketCategory
    content: str
    case_number: str | None
    division: str | None
    handlers: tuple[TicketHandler, ...]
    status: TicketStatus
    requester_name: str
    created_at: datetime
    due_at: datetime | None
    settled_at: datetime | None
    answer: str | None
    answered_at: datetime | None
    answered_by_name: str | None
    closed_at: datetime | None
    rating: int | None
    rating_comment: str | None
    rated_at: datetime | None
    escalations: tuple[Escalation, ...]

    def overdue(self, now: datetime) -> bool:
        return self.settled_at is None and self.due_at is not None and now > self.due_at


@dataclass(frozen=True, slots=True)
class TicketPage:
    tickets: list[TicketView]
    cursors: list[str]
    has_next_page: bool
    total: int


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One division's or one handler's figures in a 通报."""

    division: str | None
    staff_id: str | None
    name: str | None
    figures: deadlines.DeadlineFigures


@dataclass(frozen=True, slots=True)
class TicketReport:
    court_code: str
    start: date
    end: date
    generated_at: datetime
    by_division: list[ReportRow]
    by_handler: list[ReportRow]
    total: deadlines.DeadlineFigures


def working_days_for(settings: Settings, court_code: str, category: TicketCategory) -> int:
    """The answer deadline of a category at a court, in working days (``ticket_working_days``)."""
    return deadlines.configured_days(
        settings.ticket_working_days, court_code, category.value, settings.ticket_default_working_days
    )


def panel_handlers(case: Case) -> list[Staff]:
    """Who answers a ticket about a case: its clerks and its lead judge (as for filings)."""
    judges = [s for s in case.panel if s.role in (StaffRole.PRESIDING_JUDGE, StaffRole.JUDGE)]
    clerks = [s for s in case.panel if s.role == StaffRole.CLERK]
    return [*clerks, *judges[:1]]


def filing_division_handlers(roster: Sequence[Staff]) -> list[Staff]:
    """Who answers a ticket without a case: the head of 立案庭, or its first judge when it has none."""
    in_division = [s for s in roster if s.division == FILING_DIVISION]
    for role in (StaffRole.DIVISION_HEAD, StaffRole.PRESIDING_JUDGE, StaffRole.JUDGE):
        found = [s for s in in_division if s.role == role]
        if found:
            return found[:1]
    return []


def in_scope(viewer: Viewer, row: TicketRecord) -> bool:
    """Staff of the ticket's court who may act on it: a handler, its division's head, a court leader."""
    if not viewer.is_staff or viewer.court_code != row.court_code:
        return False
    if Role.COURT_LEADER in viewer.roles:
        return True
    if Role.DIVISION_HEAD in viewer.roles and viewer.division and viewer.division == row.division:
        return True
    return bool(viewer.staff_id and any(h["staff_id"] == viewer.staff_id for h in row.handlers))


class TicketService:
    """12368 tickets for requesters and staff. Cheap to build: it holds only references."""

    def __init__(
        self,
        runtime: Runtime,
        cases: CaseService,
        *,
        roster: RosterLookup | None = None,
        calendar: WorkingCalendar | None = None,
    ) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.clock = runtime.now  # "now" when a call names none
        self.cases = cases
        self.parser = runtime.parser
        self.settings = runtime.settings
        self.roster: RosterLookup = roster or (lambda court_code: staff_roster(runtime, court_code))
        self.calendar = calendar or deadlines.calendar_for(runtime.settings)

    # -- the requester ---------------------------------------------------------------------------------

    async def create(
        self,
        viewer: Viewer,
        *,
        court_code: str,
        category: TicketCategory,
        content: str,
        case_number: str | None = None,
        now: datetime | None = None,
    ) -> TicketView:
        """Store the ticket, route it, start its deadline and tell its handlers.

        Raises InvalidInput (CONTENT_MISSING, CONTENT_TOO_LONG, UNKNOWN_COURT, CASE_OF_ANOTHER_COURT,
        NO_HANDLER), InvalidCaseNumber, NoSuchCase, or CourtError when the court cannot name the handlers.
        """
        now = now or self.clock()
        content = content.strip()
        _check_text(content, "CONTENT", MAX_CONTENT, "the ticket's content")
        court = self._court(court_code)
        if case_number is not None and case_number.strip():
            case = await self._case(viewer, court, case_number)
            division: str | None = case.division
            handlers = panel_handlers(case)
            number: str | None = case.case_number
        else:
            division, handlers, number = FILING_DIVISION, filing_division_handlers(await self.roster(court.code)), None
        if not handlers:
            raise InvalidInput(f"{court.name} names nobody to answer this ticket; call 12368", "NO_HANDLER")
        row = TicketRecord(
            id=uuid.uuid4().hex,
            number="",  # allocated in the transaction below
            requester_subject=viewer.subject,
            requester_name=viewer.name,
            requester_phone=viewer.phone,
            requester_key=next((person_key(r) for r in viewer.person_refs()), None),
            court_code=court.code,
            category=category.value,
            content=content,
            case_number=number,
            division=division,
            handlers=[
                {"staff_id": s.staff_id, "name": s.name, "role": s.role.value, "division": s.division} for s in handlers
            ],
            status=TicketStatus.OPEN.value,
            created_at=now,
        )
        async with self.store.session() as session:
            row.number = await allocate_number(session, court.code, now)
            session.add(row)
            await session.flush()
            deadline = await deadlines.track(
                session,
                subject_type=SUBJECT,
                subject_id=row.id,
                court_code=court.code,
                division=division,
                handlers=[s.staff_id for s in handlers],
                started_at=now,
                working_days=working_days_for(self.settings, court.code, category),
                calendar=self.calendar,
                case_number=number,
                category=category.value,
                reference=row.number,
            )
            await notify(
                session,
                kind=NotificationKind.TICKET_ASSIGNED,
                court=court,
                case_number=number,
                recipients=[Recipient(s.name, s.phone, staff_key(court.code, s.staff_id)) for s in handlers],
                params={
                    "category": CATEGORY_LABELS[category.value],
                    "of_case": _named(row),
                    "requester": viewer.name,
                    "due": deadlines.china_clock(deadline.due_at),
                },
                dedupe_key=f"ticket:{row.id}:assigned",
                now=now,
            )
            await audit.append(
                session,
                actor=viewer.subject,
                client_id=viewer.client_id,
                action="ticket.created",
                subject_type=SUBJECT,
                subject_id=row.id,
                court_code=court.code,
                details={
                    "number": row.number,
                    "category": category.value,
                    "case_number": number,
                    "division": division,
                    "handlers": [s.staff_id for s in handlers],
                    "due_at": deadline.due_at.astimezone(UTC).isoformat(),
                },
            )
        return _view(row, deadline, [])

    async def rate(
        self, viewer: Viewer, ticket_id: str, rating: int, comment: str | None = None, *, now: datetime | None = None
    ) -> TicketView:
        """The requester rates the answer, once. Raises NoSuchTicket (not theirs) and InvalidInput
        (RATING_RANGE, COMMENT_TOO_LONG, NOT_ANSWERED, ALREADY_RATED)."""
        now = now or self.clock()
        if not 1 <= rating <= 5:
            raise InvalidInput("a rating is 1 to 5", "RATING_RANGE")
        comment = (comment or "").strip() or None
        if comment and len(comment) > MAX_COMMENT:
            raise InvalidInput(f"the comment is longer than {MAX_COMMENT} characters", "COMMENT_TOO_LONG")
        async with self.store.session() as session:
            row = await self._locked(session, ticket_id)
            if row is None or row.requester_subject != viewer.subject:
                raise NoSuchTicket("no such ticket that you may act on")
            if row.answered_at is None:
                raise InvalidInput("the ticket has not been answered yet", "NOT_ANSWERED")
            if row.rating is not None:
                raise InvalidInput("you have already rated this ticket", "ALREADY_RATED")
            row.rating, row.rating_comment, row.rated_at = rating, comment, now
            await audit.append(
                session,
                actor=viewer.subject,
                client_id=viewer.client_id,
                action="ticket.rated",
                subject_type=SUBJECT,
                subject_id=row.id,
                court_code=row.court_code,
                details={"rating": rating, "comment": comment},
            )
            return await self._view_of(session, row)

    async def mine(self, viewer: Viewer, *, first: int, after: str | None) -> TicketPage:
        """The viewer's own tickets, newest first. Raises InvalidCursor."""
        return await self._page("myTickets", [TicketRecord.requester_subject == viewer.subject], first, after)

    # -- staff -----------------------------------------------------------------------------------------

    async def answer(self, viewer: Viewer, ticket_id: str, text: str, *, now: datetime | None = None) -> TicketView:
        """Answer an open ticket: settles its deadline and tells the requester (SMS + in-app).

        Raises NoSuchTicket (another court's, or none), NotInScope, InvalidInput (ANSWER_MISSING,
        ANSWER_TOO_LONG, ALREADY_ANSWERED, TICKET_CLOSED).
        """
        now = now or self.clock()
        text = text.strip()
        _check_text(text, "ANSWER", MAX_ANSWER, "the answer")
        async with self.store.session() as session:
            row = await self._staff_ticket(session, viewer, ticket_id)
            if row.status == TicketStatus.ANSWERED:
                raise InvalidInput("the ticket has already been answered", "ALREADY_ANSWERED")
            if row.status == TicketStatus.CLOSED:
                raise InvalidInput("the ticket is closed", "TICKET_CLOSED")
            row.status = TicketStatus.ANSWERED.value
            row.answer, row.answered_at = text, now
            row.answered_by, row.answered_by_name = viewer.staff_id, viewer.name
            await deadlines.settle(session, subject_type=SUBJECT, subject_id=row.id, at=now)
            await notify(
                session,
                kind=NotificationKind.TICKET_ANSWERED,
                court=self._court(row.court_code),
                case_number=row.case_number,
                recipients=[Recipient(row.requester_name, row.requester_phone, row.requester_key)],
                params={"category": CATEGORY_LABELS[row.category], "of_case": _named(row)},
                dedupe_key=f"ticket:{row.id}:answered",
                now=now,
            )
            await audit.append(
                session,
                actor=viewer.subject,
                client_id=viewer.client_id,
                action="ticket.answered",
                subject_type=SUBJECT,
                subject_id=row.id,
                court_code=row.court_code,
                details={"staff_id": viewer.staff_id, "length": len(text)},
            )
            return await self._view_of(session, row)

    async def close(self, viewer: Viewer, ticket_id: str, *, now: datetime | None = None) -> TicketView:
        """Close a ticket (answered, or needing no answer); an open one's deadline is settled by closing, as
        closed without an answer (the 通报 counts it so, and as overdue when it was closed past its deadline).

        Raises NoSuchTicket, NotInScope, InvalidInput (ALREADY_CLOSED).
        """
        now = now or self.clock()
        async with self.store.session() as session:
            row = await self._staff_ticket(session, viewer, ticket_id)
            if row.status == TicketStatus.CLOSED:
                raise InvalidInput("the ticket is already closed", "ALREADY_CLOSED")
            was = row.status
            row.status = TicketStatus.CLOSED.value
            row.closed_at, row.closed_by = now, viewer.staff_id
            await deadlines.settle(
                session,
                subject_type=SUBJECT,
                subject_id=row.id,
                at=now,
                outcome=deadlines.Settlement.CLOSED_UNANSWERED,
            )
            await audit.append(
                session,
                actor=viewer.subject,
                client_id=viewer.client_id,
                action="ticket.closed",
                subject_type=SUBJECT,
                subject_id=row.id,
                court_code=row.court_code,
                details={"staff_id": viewer.staff_id, "was": was},
            )
            return await self._view_of(session, row)

    async def court_tickets(
        self,
        viewer: Viewer,
        *,
        first: int,
        after: str | None,
        status: TicketStatus | None = None,
        overdue_at: datetime | None = None,
    ) -> TicketPage:
        """The tickets of the viewer's court within their scope (leaders: all; a division head: their
        division's; others: those they handle), newest first; only unsettled ones past due at
        ``overdue_at`` when it is given. Raises InvalidCursor."""
        where: list[ColumnElement[bool]] = [TicketRecord.court_code == (viewer.court_code or "")]
        if not viewer.is_staff or not viewer.court_code:
            where.append(TicketRecord.id.is_(None))  # nothing
        elif Role.COURT_LEADER not in viewer.roles:
            handled = (
                select(DeadlineRecord.subject_id)
                .join(DeadlineHandler, DeadlineHandler.deadline_id == DeadlineRecord.id)
                .where(
                    DeadlineRecord.subject_type == SUBJECT,
                    DeadlineRecord.court_code == viewer.court_code,
                    DeadlineHandler.staff_id == (viewer.staff_id or ""),
                )
            )
            mine: ColumnElement[bool] = TicketRecord.id.in_(handled)
            if Role.DIVISION_HEAD in viewer.roles and viewer.division:
                mine = or_(mine, TicketRecord.division == viewer.division)
            where.append(mine)
        if status is not None:
            where.append(TicketRecord.status == status.value)
        if overdue_at is not None:
            late = select(DeadlineRecord.subject_id).where(
                DeadlineRecord.subject_type == SUBJECT,
                DeadlineRecord.settled_at.is_(None),
                DeadlineRecord.due_at < overdue_at,
            )
            where.append(TicketRecord.id.in_(late))
        return await self._page("courtTickets", where, first, after)

    async def pending_for(self, court_code: str, staff_id: str) -> list[TicketView]:
        """The unanswered tickets a staff member handles, soonest due first (the work queue's source)."""
        return await pending_tickets(self.store, court_code, staff_id)

    async def report(self, viewer: Viewer, court_code: str, start: date, end: date, *, now: datetime) -> TicketReport:
        """The 通报 of tickets received at ``court_code`` from ``start`` to ``end`` (dates, China time,
        both included): per division and per handler. Court leaders see the whole court; a division
        head, their division. Raises InvalidInput (PERIOD) and NotInScope (other roles, other courts)."""
        if end < start:
            raise InvalidInput("the period ends before it starts", "PERIOD")
        if not viewer.is_staff or viewer.court_code != court_code:
            raise NotInScope(REPORT_SCOPE)
        if Role.COURT_LEADER in viewer.roles:
            division = None
        elif Role.DIVISION_HEAD in viewer.roles and viewer.division:
            division = viewer.division
        else:
            raise NotInScope(REPORT_SCOPE)
        return await court_report(self.store, court_code, start, end, now=now, division=division)

    # -- both ------------------------------------------------------------------------------------------

    async def get(self, viewer: Viewer, ticket_id: str) -> TicketView | None:
        """A ticket the viewer asked, or may act on as staff; None otherwise."""
        async with self.store.session(read_only=True) as session:
            row = await session.get(TicketRecord, ticket_id)
            if row is None or not (row.requester_subject == viewer.subject or in_scope(viewer, row)):
                return None
            return await self._view_of(session, row)

    # -- helpers ---------------------------------------------------------------------------------------

    def _court(self, code: str) -> CourtConfig:
        court = next((c for c in self.settings.courts if c.code == code and c.is_court), None)
        if court is None:
            raise InvalidInput(f"no court {code!r} is served by this gateway", "UNKNOWN_COURT")
        return court

    async def _case(self, viewer: Viewer, court: CourtConfig, text: str) -> Case:
        number = self.parser.parse(text)
        if number.court_code != court.code:
            raise InvalidInput(
                f"{number.text} is a case of {number.court_code}, not {court.code}", "CASE_OF_ANOTHER_COURT"
            )
        try:
            case = await self.cases.case_by_number(viewer, number.text)
        except NotFoundAtCourt:
            case = None
        if case is None or not is_party_or_agent(viewer, case):
            raise NoSuchCase(f"no case {number.text} that you are a party or agent of")
        return case

    async def _locked(self, session: AsyncSession, ticket_id: str) -> TicketRecord | None:
        return await session.get(TicketRecord, ticket_id, with_for_update=True)

    async def _staff_ticket(self, session: AsyncSession, viewer: Viewer, ticket_id: str) -> TicketRecord:
        row = await self._locked(session, ticket_id)
        if row is None or not viewer.is_staff or viewer.court_code != row.court_code:
            raise NoSuchTicket("no such ticket that you may act on")
        if not in_scope(viewer, row):
            raise NotInScope(HANDLER_SCOPE)
        return row

    async def _view_of(self, session: AsyncSession, row: TicketRecord) -> TicketView:
        await session.flush()
        deadline = await deadlines.deadline_of(session, SUBJECT, row.id)
        found = await deadlines.escalations_of(session, SUBJECT, [row.id])
        return _view(row, deadline, found[row.id])

    async def _page(self, kind: str, scope: Sequence[ColumnElement[bool]], first: int, after: str | None) -> TicketPage:
        keyset = Keyset(kind, TicketRecord.created_at, TicketRecord.id)
        where = list(scope)
        if after:
            where.append(keyset.after(after))
        query = select(TicketRecord).where(*where).order_by(*keyset.order()).limit(first + 1)
        async with self.store.session(read_only=True) as session:
            rows = list(await session.scalars(query))[: first + 1]
            total = await session.scalar(select(func.count()).select_from(TicketRecord).where(*scope))
            page = rows[:first]
            ids = [r.id for r in page]
            due = await deadlines.deadlines_of(session, SUBJECT, ids)
            found = await deadlines.escalations_of(session, SUBJECT, ids)
        return TicketPage(
            tickets=[_view(r, due.get(r.id), found[r.id]) for r in page],
            cursors=[keyset.cursor(r.created_at, r.id) for r in page],
            has_next_page=len(rows) > first,
            total=total or 0,
        )


async def court_report(
    store: Store, court_code: str, start: date, end: date, *, now: datetime, division: str | None = None
) -> TicketReport:
    """The 通报 figures (no access check: the caller's job), for the service and the CLI. Handlers are
    named as the tickets recorded them when routed, so the report needs no court call."""
    since = datetime.combine(start, time(0), CHINA_TZ)
    until = datetime.combine(end + timedelta(days=1), time(0), CHINA_TZ)
    async with store.session(read_only=True) as session:
        figures = await deadlines.report(
            session,
            subject_type=SUBJECT,
            court_code=court_code,
            start=since,
            end=until,
            now=now,
            division=division,
        )
        handlers = await session.scalars(
            select(TicketRecord.handlers).where(
                TicketRecord.court_code == court_code,
                TicketRecord.created_at >= since,
                TicketRecord.created_at < until,
            )
        )
        known = {h["staff_id"]: h for hs in handlers for h in hs}
    return TicketReport(
        court_code=court_code,
        start=start,
        end=end,
        generated_at=now,
        by_division=[ReportRow(f.key, None, None, f) for f in figures.by_division],
        by_handler=[
            ReportRow(
                known.get(f.key or "", {}).get("division"),
                f.key,
                known.get(f.key or "", {}).get("name"),
                f,
            )
            for f in figures.by_handler
        ],
        total=figures.total,
    )


async def pending_tickets(store: Store, court_code: str, staff_id: str) -> list[TicketView]:
    """The unanswered (unsettled) tickets a staff member of ``court_code`` handles, soonest due first."""
    async with store.session(read_only=True) as session:
        pending = await deadlines.pending_for(session, court_code=court_code, staff_id=staff_id, subject_type=SUBJECT)
        ids = [d.subject_id for d in pending]
        rows = {r.id: r for r in await session.scalars(select(TicketRecord).where(TicketRecord.id.in_(ids)))}
        found = await deadlines.escalations_of(session, SUBJECT, ids)
    return [_view(rows[d.subject_id], d, found[d.subject_id]) for d in pending if d.subject_id in rows]


def tickets_waiting(store: Store) -> WorkSource:
    """The work queue's source of 12368 tickets: those the viewer must answer, with their deadlines."""

    async def source(viewer: Viewer) -> list[WorkItem]:
        if not (viewer.is_staff and viewer.court_code and viewer.staff_id):
            return []
        return [
            WorkItem(
                kind=WorkKind.TICKET,
                subject_type="Ticket",
                subject_key=t.id,
                court_code=t.court_code,
                case_number=t.case_number,
                title=f"12368{CATEGORY_LABELS[t.category.value]}：{_summary(t.content)}（{t.requester_name}）",
                received_at=t.created_at,
                due_at=t.due_at,
            )
            for t in await pending_tickets(store, viewer.court_code, viewer.staff_id)
        ]

    return source


def _check_text(text: str, field: str, limit: int, what: str) -> None:
    if not text:
        raise InvalidInput(f"{what} is empty", f"{field}_MISSING")
    if len(text) > limit:
        raise InvalidInput(f"{what} is longer than {limit} characters", f"{field}_TOO_LONG")


def _named(row: TicketRecord) -> str:
    """How a text names the ticket: by its number, and its case's number when it has a case."""
    if row.case_number:
        return f"（案号：{row.case_number}，编号：{row.number}）"
    return f"（编号：{row.number}）"


def ticket_number(court_code: str, day: str, n: int) -> str:
    return f"12368-{court_code}-{day}-{n:04d}"


async def allocate_number(session: AsyncSession, court_code: str, at: datetime) -> str:
    """The next ticket number of ``court_code`` on ``at``'s day (China time), in the caller's transaction:
    one atomic upsert of the day's counter, so concurrent tickets never share a number."""
    day = at.astimezone(CHINA_TZ).strftime("%Y%m%d")
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(TicketNumberCounter)
    statement = (
        insert.values(court_code=court_code, day=day, last=1)
        .on_conflict_do_update(
            index_elements=[TicketNumberCounter.court_code, TicketNumberCounter.day],
            set_={"last": TicketNumberCounter.last + 1},
        )
        .returning(TicketNumberCounter.last)
    )
    n = (await session.execute(statement)).scalar_one()
    return ticket_number(court_code, day, n)


def _summary(content: str, limit: int = 30) -> str:
    return content if len(content) <= limit else content[:limit] + "…"


def _view(row: TicketRecord, deadline: TrackedDeadline | None, escalations: Sequence[Escalation]) -> TicketView:
    return TicketView(
        id=row.id,
        number=row.number,
        court_code=row.court_code,
        category=TicketCategory(row.category),
        content=row.content,
        case_number=row.case_number,
        division=row.division,
        handlers=tuple(
            TicketHandler(h["staff_id"], h["name"], StaffRole(h["role"]), h.get("division", "")) for h in row.handlers
        ),
        status=TicketStatus(row.status),
        requester_name=row.requester_name,
        created_at=row.created_at,
        due_at=deadline.due_at if deadline else None,
        settled_at=deadline.settled_at if deadline else None,
        answer=row.answer,
        answered_at=row.answered_at,
        answered_by_name=row.answered_by_name,
        closed_at=row.closed_at,
        rating=row.rating,
        rating_comment=row.rating_comment,
        rated_at=row.rated_at,
        escalations=tuple(escalations),
    )
