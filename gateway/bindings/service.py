"""Case binding (案件绑定申请, 在线诉讼规则 art. 10): a lawyer or party asks to be linked to a case.

``apply`` checks the power of attorney (授权委托书, the same checks as filings' uploads), looks the case up
at its own court only (the case number routes it; the applicant is not on the case yet, so no list of
theirs would find it), and stores the application with its files, the panel's review deadline
(``binding_review_working_days`` working days, 3 by default: the court's own service target for the
review, not a statutory period; the 三日 of 在线诉讼规则 art. 10 is the notified participant's time to link
the case, which the gateway does not track; the shared engine, ``gateway.core.deadlines``, escalates it
when it lapses), the
panel's SMS and in-app notices and an audit record, in one transaction.

No oracle: whether the client a lawyer names is one of the case's parties is the panel's question (it
reads the power of attorney anyway), so the application is stored and answered alike either way, and only
its reviewers see ``client_on_case``. Each application texts a panel, so an applicant may make at most
``binding_applications_per_day`` in any 24 hours (RateLimited, with the time the next one is accepted).

``decide`` is for the case's judge or clerk as the court names the panel at decision time (a case
reassigned since the application goes to its new panel: the court is asked before the decision's
transaction opens, and the application's reviewers and deadline handlers follow the panel; a court that
cannot answer leaves the panel last recorded to decide); anyone else, of this court or another, learns
nothing (NoSuchBinding). Approval lists the case
among the applicant's cases at once: the gateway holds the binding (``approved_bindings`` feeds
``myCases`` and the case access check), so it shows even before the court records it, and at courts
whose family cannot record it at all. Where the family can, the binding outbox
(``gateway.bindings.outbox``) enters the lawyer at the court.

Courts are called before any write transaction opens.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.errors import CourtError, NotFoundAtCourt
from gateway.adapters.model import Case, IdentityKind, PersonRef, Staff, StaffRole
from gateway.bindings import cached
from gateway.cases.service import BoundCase
from gateway.core import deadlines
from gateway.core.access import PANEL_ROLES, is_party_or_agent
from gateway.core.cursors import Keyset
from gateway.core.errors import NotFoundError, Refusal
from gateway.core.runtime import Runtime
from gateway.core.uploads import IncomingFile, InvalidInput, check_files
from gateway.core.workdays import WorkingCalendar
from gateway.filings.service import FiledFile, upload_limits
from gateway.identity import Viewer
from gateway.notifications.service import NotificationKind, Recipient, notify, person_key, staff_key
from gateway.store import Store, audit
from gateway.store.bindings import BindingFile, BindingRecord, BindingStatus, CourtWrite
from gateway.store.deadlines import DeadlineHandler, DeadlineRecord
from gateway.work_queue.service import WorkItem, WorkKind, WorkSource

log = logging.getLogger("gateway.bindings")

#: the deadline engine's subject type, and the audit log's
SUBJECT = "binding"
#: the outbox worker's name, for ``services.workers.wake``
WORKER_NAME = "bindings"
MAX_NOTE = 500
MAX_FIRM = 200
MAX_CLIENT = 100  # the column's width
#: the window ``binding_applications_per_day`` counts applications in
RATE_WINDOW = timedelta(days=1)
#: who on a panel reviews bindings: its clerks and judges (not the people's assessors)
REVIEWER_ROLES = (StaffRole.CLERK, StaffRole.PRESIDING_JUDGE, StaffRole.JUDGE)


class NoSuchCase(NotFoundError):
    """No case of that number at its court."""


class NoSuchBinding(NotFoundError):
    """No such application, or not one the viewer may see or decide (the two are indistinguishable)."""


class RateLimited(Refusal):
    """The applicant made as many applications as a day allows; ``retryAt`` says when the next is accepted
    and ``retryAfterSeconds`` how long that is from now."""

    code = "RATE_LIMITED"

    def __init__(self, limit: int, retry_at: datetime, now: datetime) -> None:
        wait = max(1, int((retry_at - now).total_seconds()) + 1)
        super().__init__(
            f"at most {limit} case binding applications in 24 hours; try again after {deadlines.china_clock(retry_at)}",
            retryAt=retry_at.astimezone(UTC).isoformat(timespec="seconds"),
            retryAfterSeconds=str(wait),
        )


@dataclass(frozen=True, slots=True)
class Reviewer:
    staff_id: str
    name: str
    role: StaffRole


@dataclass(frozen=True, slots=True)
class BindingView:
    """An application as its applicant and its reviewers see it (a detached copy of its rows)."""

    id: str
    court_code: str
    case_number: str
    applicant_name: str
    applicant_kind: IdentityKind
    client_name: str | None
    #: reviewers only (None for the applicant): whether the named client is one of the case's parties
    client_on_case: bool | None
    note: str | None
    files: tuple[FiledFile, ...]
    reviewers: tuple[Reviewer, ...]
    status: str
    applied_at: datetime
    due_at: datetime | None
    decided_at: datetime | None
    decided_by_name: str | None
    decision_note: str | None
    court_write: str | None
    recorded_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class BindingPage:
    bindings: list[BindingView]
    cursors: list[str]
    has_next_page: bool
    total: int


@dataclass(frozen=True, slots=True)
class PendingBinding:
    """A binding waiting on a reviewer, for the staff work queue."""

    id: str
    court_code: str
    case_number: str
    applicant_name: str
    received_at: datetime
    due_at: datetime | None


def reviewers_of(case: Case) -> list[Staff]:
    """The case's clerks first, then its judges: who is told, and who may decide."""
    return sorted((s for s in case.panel if s.role in REVIEWER_ROLES), key=lambda s: REVIEWER_ROLES.index(s.role))


def may_review(viewer: Viewer, row: BindingRecord, reviewers: Sequence[Staff] | None = None) -> bool:
    """The case's judge or clerk: staff of the case's court, in a panel role, on ``reviewers`` (the panel as
    the court names it now) or, without them, on the panel the application last recorded."""
    if not is_panel_staff_of(viewer, row.court_code):
        return False
    if reviewers is not None:
        return any(s.staff_id == viewer.staff_id for s in reviewers)
    return any(r["staff_id"] == viewer.staff_id for r in row.reviewers)


def is_panel_staff_of(viewer: Viewer, court_code: str) -> bool:
    """Staff of ``court_code`` in a panel role: the only people worth asking the court about."""
    return (
        viewer.is_staff
        and viewer.court_code == court_code
        and bool(viewer.roles & PANEL_ROLES)
        and bool(viewer.staff_id)
    )


def _recorded(reviewers: Sequence[Staff]) -> list[dict[str, str]]:
    return [{"staff_id": s.staff_id, "name": s.name, "role": s.role.value} for s in reviewers]


def applicant_ref(viewer: Viewer) -> PersonRef | None:
    """As whom the viewer binds: a lawyer by licence (the power of attorney is theirs), else a party."""
    refs = viewer.person_refs()
    return refs[0] if refs else None


class BindingService:
    """Case bindings for applicants and reviewers. Cheap to build: it holds only references."""

    def __init__(self, runtime: Runtime, *, calendar: WorkingCalendar | None = None) -> None:
        self.runtime = runtime
        self.clock = runtime.now  # "now" when a call names none
        self.store = runtime.store
        self.registry = runtime.registry
        self.cache = runtime.cache
        self.parser = runtime.parser
        self.settings = runtime.settings
        self.calendar = calendar or deadlines.calendar_for(runtime.settings)

    # -- the applicant ---------------------------------------------------------------------------------

    async def apply(
        self,
        viewer: Viewer,
        *,
        case_number: str,
        files: list[IncomingFile],
        note: str | None = None,
        client_name: str | None = None,
        law_firm: str | None = None,
        now: datetime | None = None,
    ) -> BindingView:
        """Store the application, start its review deadline and tell the panel.

        A lawyer's law firm is ``law_firm``, else the identity provider's ``firm`` claim (courts record it).

        A client who is not one of the case's parties is stored all the same (see the module docstring).

        Raises RateLimited, InvalidInput (the uploads' reasons; NOTE_TOO_LONG, CLIENT_MISSING, CLIENT_TOO_LONG,
        FIRM_MISSING, ALREADY_ON_CASE, ALREADY_BOUND, DUPLICATE_APPLICATION, NO_REVIEWER), InvalidCaseNumber,
        NoSuchCase, or CourtError when the case's court cannot say.
        """
        now = now or self.clock()
        note = (note or "").strip() or None
        if note and len(note) > MAX_NOTE:
            raise InvalidInput(f"the note is longer than {MAX_NOTE} characters", "NOTE_TOO_LONG")
        checked = check_files(files, upload_limits(self.settings))
        if client_name and len(client_name.strip()) > MAX_CLIENT:
            raise InvalidInput(f"the client's name is longer than {MAX_CLIENT} characters", "CLIENT_TOO_LONG")
        ref = applicant_ref(viewer)
        if ref is None:
            raise InvalidInput("only a party or a lawyer can apply to be bound to a case", "NOT_A_PERSON")
        await self._refuse_over_limit(viewer, now)
        case = await self._case(case_number)
        if is_party_or_agent(viewer, case):
            raise InvalidInput(f"you are already on {case.case_number}", "ALREADY_ON_CASE")
        client_id_number, client = self._client(ref, case, client_name)
        firm = (law_firm or "").strip() or str(viewer.claims.get("firm") or "").strip() or None
        if ref.kind == IdentityKind.LICENCE_NUMBER and not firm:
            raise InvalidInput("name your law firm, as the power of attorney does", "FIRM_MISSING")
        if firm and len(firm) > MAX_FIRM:
            raise InvalidInput(f"the law firm's name is longer than {MAX_FIRM} characters", "FIRM_TOO_LONG")
        reviewers = reviewers_of(case)
        if not reviewers:
            raise InvalidInput(f"{case.case_number} has no panel to review a binding yet", "NO_REVIEWER")
        row = BindingRecord(
            id=uuid.uuid4().hex,
            applicant_subject=viewer.subject,
            applicant_name=viewer.name,
            applicant_phone=viewer.phone,
            applicant_kind=ref.kind.value,
            applicant_number=ref.number,
            applicant_firm=firm,
            client_name=client,
            client_id_number=client_id_number,
            court_code=case.court_code,
            case_number=case.case_number,
            case_id=case.case_id,
            case_filed_on=case.filed_on.isoformat(),
            division=case.division,
            reviewers=[{"staff_id": s.staff_id, "name": s.name, "role": s.role.value} for s in reviewers],
            note=note,
            status=BindingStatus.PENDING,
            open_key=f"{viewer.subject}|{case.case_number}",
            applied_at=now,
            attempts=0,
        )
        try:
            async with self.store.session() as session:
                await self._refuse_repeats(session, viewer, case.case_number)
                session.add(row)
                await session.flush()  # the application before its files; a duplicate fails here
                session.add_all(
                    BindingFile(
                        binding_id=row.id,
                        position=i,
                        name=f.name,
                        content_type=f.content_type,
                        size=f.size,
                        sha256=f.sha256,
                        content=f.content,
                    )
                    for i, f in enumerate(checked)
                )
                deadline = await deadlines.track(
                    session,
                    subject_type=SUBJECT,
                    subject_id=row.id,
                    court_code=row.court_code,
                    division=row.division,
                    handlers=[s.staff_id for s in reviewers],
                    started_at=now,
                    working_days=self.settings.binding_review_working_days,
                    calendar=self.calendar,
                    case_number=row.case_number,
                )
                await notify(
                    session,
                    kind=NotificationKind.BINDING_REQUESTED,
                    court=self.settings.court(row.court_code),
                    case_number=row.case_number,
                    recipients=[Recipient(s.name, s.phone, staff_key(row.court_code, s.staff_id)) for s in reviewers],
                    params={"applicant": _applicant_label(row), "due": deadlines.china_clock(deadline.due_at)},
                    dedupe_key=f"binding:{row.id}:requested",
                    now=now,
                )
                await audit.append(
                    session,
                    actor=viewer.subject,
                    client_id=viewer.client_id,
                    action="binding.applied",
                    subject_type=SUBJECT,
                    subject_id=row.id,
                    court_code=row.court_code,
                    details={
                        "case_number": row.case_number,
                        "as": row.applicant_kind,
                        "client": client,
                        "reviewers": [s.staff_id for s in reviewers],
                        "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in checked],
                        "due_at": deadline.due_at.astimezone(UTC).isoformat(),
                    },
                )
        except IntegrityError:  # the same application, sent concurrently, committed first
            raise InvalidInput(
                f"you already have an application for {case.case_number} waiting for review", "DUPLICATE_APPLICATION"
            ) from None
        files_out = tuple(FiledFile(f.name, f.content_type, f.size, f.sha256) for f in checked)
        return _view(row, files_out, deadline.due_at, reviewer=False)

    async def mine(self, viewer: Viewer, *, first: int, after: str | None) -> BindingPage:
        """The viewer's applications, newest first. Raises InvalidCursor."""
        scope = [BindingRecord.applicant_subject == viewer.subject]
        return await self._page("myCaseBindings", scope, first, after, reviewer=False)

    # -- the panel -------------------------------------------------------------------------------------

    async def decide(
        self, viewer: Viewer, binding_id: str, *, approve: bool, note: str | None = None, now: datetime | None = None
    ) -> BindingView:
        """Approve or reject a pending application: settles its deadline, tells the applicant, and on approval
        queues the court write where the family supports it. Who may decide is the case's panel as the court
        names it now (asked before the transaction opens); the application's reviewers and its deadline's
        handlers are brought up to date with it; while the court cannot answer, the panel last recorded
        decides (a decision does not wait for a court that is down). Raises NoSuchBinding and InvalidInput
        (NOTE_TOO_LONG, ALREADY_DECIDED)."""
        now = now or self.clock()
        note = (note or "").strip() or None
        if note and len(note) > MAX_NOTE:
            raise InvalidInput(f"the note is longer than {MAX_NOTE} characters", "NOTE_TOO_LONG")
        try:
            panel = await self._panel_now(viewer, binding_id)
        except CourtError as e:  # the court cannot name its panel now: the one last recorded decides
            log.warning(
                "binding %s: %s cannot name the panel (%s); the recorded panel decides",
                binding_id,
                e.court_code,
                e.code,
            )
            panel = None
        async with self.store.session() as session:
            row = await session.get(BindingRecord, binding_id, with_for_update=True)
            if row is None or not may_review(viewer, row, panel):
                raise NoSuchBinding("no such case binding application for your panel")
            if row.status != BindingStatus.PENDING:
                raise InvalidInput("this application has already been decided", "ALREADY_DECIDED")
            if panel is not None and {r["staff_id"] for r in row.reviewers} != {s.staff_id for s in panel}:
                row.reviewers = _recorded(panel)
                await deadlines.reassign(
                    session, subject_type=SUBJECT, subject_id=row.id, handlers=[s.staff_id for s in panel]
                )
            row.status = BindingStatus.APPROVED if approve else BindingStatus.REJECTED
            row.open_key = None
            row.decided_at, row.decided_by, row.decided_by_name, row.decision_note = (
                now,
                viewer.staff_id,
                viewer.name,
                note,
            )
            if approve:
                if self._court_can_record(row):
                    row.court_write, row.next_attempt_at = CourtWrite.QUEUED, now
                else:
                    row.court_write = CourtWrite.UNSUPPORTED
            await deadlines.settle(
                session, subject_type=SUBJECT, subject_id=row.id, at=now, outcome=deadlines.Settlement.DECIDED
            )
            await notify(
                session,
                kind=NotificationKind.BINDING_DECIDED,
                court=self.settings.court(row.court_code),
                case_number=row.case_number,
                recipients=[applicant_recipient(row)],
                params={"outcome": "已审核通过，该案件已加入您的案件列表" if approve else _rejected(note)},
                dedupe_key=f"binding:{row.id}:decided",
                now=now,
            )
            await audit.append(
                session,
                actor=viewer.subject,
                client_id=viewer.client_id,
                action="binding.decided",
                subject_type=SUBJECT,
                subject_id=row.id,
                court_code=row.court_code,
                details={
                    "approve": approve,
                    "staff_id": viewer.staff_id,
                    "note": note,
                    "court_write": row.court_write,
                },
            )
            view = await self._view_of(session, row, reviewer=True)
        if approve:
            await cached.changed(self.cache, row.applicant_subject)  # the case is theirs to see from now on
            await self.cache.bump(row.court_code)  # the applicant's lists at this court now include the case
        return view

    async def for_reviewer(self, viewer: Viewer, *, status: str | None, first: int, after: str | None) -> BindingPage:
        """The applications of the viewer's court that they review (their panels'), newest first."""
        reviewed = (
            select(DeadlineRecord.subject_id)
            .join(DeadlineHandler, DeadlineHandler.deadline_id == DeadlineRecord.id)
            .where(
                DeadlineRecord.subject_type == SUBJECT,
                DeadlineRecord.court_code == (viewer.court_code or ""),
                DeadlineHandler.staff_id == (viewer.staff_id or ""),
            )
        )
        scope: list[ColumnElement[bool]] = [
            BindingRecord.court_code == (viewer.court_code or ""),
            BindingRecord.id.in_(reviewed),
        ]
        if not (viewer.is_staff and viewer.roles & PANEL_ROLES and viewer.staff_id):
            scope.append(BindingRecord.id.is_(None))  # nothing
        if status is not None:
            scope.append(BindingRecord.status == status)
        return await self._page("caseBindingApplications", scope, first, after, reviewer=True)

    # -- both ------------------------------------------------------------------------------------------

    async def get(self, viewer: Viewer, binding_id: str) -> BindingView | None:
        """An application the viewer made, or reviews (on the panel it recorded, or on the case's panel as
        the court names it now: a judge the case was reassigned to); None otherwise."""
        async with self.store.session(read_only=True) as session:
            row = await session.get(BindingRecord, binding_id)
            if row is not None and (row.applicant_subject == viewer.subject or may_review(viewer, row)):
                return await self._view_of(session, row, reviewer=may_review(viewer, row))
        if row is None or not is_panel_staff_of(viewer, row.court_code):
            return None
        try:
            panel = await self._panel_now(viewer, binding_id)
        except CourtError:
            return None  # the court cannot say who is on the panel now: the recorded panel stands
        if panel is None or not may_review(viewer, row, panel):
            return None
        async with self.store.session(read_only=True) as session:
            return await self._view_of(session, row, reviewer=True)

    # -- helpers ---------------------------------------------------------------------------------------

    async def _panel_now(self, viewer: Viewer, binding_id: str) -> list[Staff] | None:
        """The reviewers of the application's case as its court names them now; None when the viewer is not
        even panel staff of its court (then the court is not asked) or there is no such application.
        Raises CourtError when the court cannot answer."""
        async with self.store.session(read_only=True) as session:
            found = await session.get(BindingRecord, binding_id)
            if found is None or not is_panel_staff_of(viewer, found.court_code):
                return None
            number = found.case_number
        try:
            case = await self._case(number)
        except NoSuchCase:
            return None
        return reviewers_of(case)

    async def _case(self, text: str) -> Case:
        """The case at its own court, by number (routed, never fanned out)."""
        number = self.parser.parse(text)
        if number.court_code not in self.registry:
            raise NoSuchCase(f"no case {number.text}")
        try:
            case = await self.registry[number.court_code].find_case(number.text)
        except NotFoundAtCourt:
            case = None
        if case is None:
            raise NoSuchCase(f"no case {number.text}")
        return case

    @staticmethod
    def _client(ref: PersonRef, case: Case, client_name: str | None) -> tuple[str | None, str | None]:
        """A lawyer names the party the power of attorney is from (委托人): their id number when exactly one
        of the case's parties has that name, else None (the panel sees it; the applicant is not told)."""
        name = (client_name or "").strip()
        if ref.kind == IdentityKind.ID_NUMBER and not name:
            return None, None
        if not name:
            raise InvalidInput("name your client (委托人), as the power of attorney does", "CLIENT_MISSING")
        found = [p for p in case.parties if p.name == name]
        return (found[0].id_number if len(found) == 1 else None), name

    async def _refuse_over_limit(self, viewer: Viewer, now: datetime) -> None:
        """At most ``binding_applications_per_day`` applications in any 24 hours, decided or not."""
        limit = self.settings.binding_applications_per_day
        query = (
            select(BindingRecord.applied_at)
            .where(BindingRecord.applicant_subject == viewer.subject, BindingRecord.applied_at > now - RATE_WINDOW)
            .order_by(BindingRecord.applied_at)
            .limit(limit)
        )
        async with self.store.session(read_only=True) as session:
            recent = list(await session.scalars(query))
        if len(recent) >= limit:
            raise RateLimited(limit, recent[0] + RATE_WINDOW, now)

    async def _refuse_repeats(self, session: AsyncSession, viewer: Viewer, case_number: str) -> None:
        statuses = await session.scalars(
            select(BindingRecord.status).where(
                BindingRecord.applicant_subject == viewer.subject,
                BindingRecord.case_number == case_number,
                BindingRecord.status != BindingStatus.REJECTED,
            )
        )
        found = set(statuses)
        if found & {BindingStatus.APPROVED, BindingStatus.RECORDED}:
            raise InvalidInput(f"you are already bound to {case_number}", "ALREADY_BOUND")
        if BindingStatus.PENDING in found:
            raise InvalidInput(
                f"you already have an application for {case_number} waiting for review", "DUPLICATE_APPLICATION"
            )

    def _court_can_record(self, row: BindingRecord) -> bool:
        """A lawyer acting for a named party, at a court whose family can enter a lawyer online."""
        if row.applicant_kind != IdentityKind.LICENCE_NUMBER or not row.client_id_number:
            return False
        return row.court_code in self.registry and self.registry[row.court_code].supports_agent_writes

    async def _view_of(self, session: AsyncSession, row: BindingRecord, *, reviewer: bool) -> BindingView:
        await session.flush()
        deadline = await deadlines.deadline_of(session, SUBJECT, row.id)
        files = await files_of(session, [row.id])
        return _view(row, tuple(files[row.id]), deadline.due_at if deadline else None, reviewer=reviewer)

    async def _page(
        self, kind: str, scope: Sequence[ColumnElement[bool]], first: int, after: str | None, *, reviewer: bool
    ) -> BindingPage:
        keyset = Keyset(kind, BindingRecord.applied_at, BindingRecord.id)
        where = list(scope)
        if after:
            where.append(keyset.after(after))
        query = select(BindingRecord).where(*where).order_by(*keyset.order()).limit(first + 1)
        async with self.store.session(read_only=True) as session:
            rows = list(await session.scalars(query))
            total = await session.scalar(select(func.count()).select_from(BindingRecord).where(*scope))
            page = rows[:first]
            ids = [r.id for r in page]
            due = await deadlines.deadlines_of(session, SUBJECT, ids)
            files = await files_of(session, ids)
        return BindingPage(
            bindings=[
                _view(r, tuple(files[r.id]), due[r.id].due_at if r.id in due else None, reviewer=reviewer) for r in page
            ],
            cursors=[keyset.cursor(r.applied_at, r.id) for r in page],
            has_next_page=len(rows) > first,
            total=total or 0,
        )


# -- reads for other parts of the gateway --------------------------------------------------------------


async def approved_bindings(store: Store, subject: str) -> list[BoundCase]:
    """The cases a person is bound to by approved bindings (for ``myCases`` and the case access check)."""
    query = select(
        BindingRecord.court_code, BindingRecord.case_id, BindingRecord.case_number, BindingRecord.client_id_number
    ).where(
        BindingRecord.applicant_subject == subject,
        BindingRecord.status.in_([BindingStatus.APPROVED, BindingStatus.RECORDED]),
    )
    async with store.session(read_only=True) as session:
        return [
            BoundCase(court, case_id, number, client) for court, case_id, number, client in await session.execute(query)
        ]


async def pending_for_reviewer(store: Store, viewer: Viewer) -> list[PendingBinding]:
    """The applications waiting on a reviewer (judge or clerk of the case's panel), soonest due first."""
    if not (viewer.is_staff and viewer.court_code and viewer.staff_id and viewer.roles & PANEL_ROLES):
        return []
    async with store.session(read_only=True) as session:
        pending = await deadlines.pending_for(
            session, court_code=viewer.court_code, staff_id=viewer.staff_id, subject_type=SUBJECT
        )
        ids = [d.subject_id for d in pending]
        rows = {
            r.id: r
            for r in await session.scalars(
                select(BindingRecord).where(BindingRecord.id.in_(ids), BindingRecord.status == BindingStatus.PENDING)
            )
        }
    return [
        PendingBinding(
            id=d.subject_id,
            court_code=d.court_code,
            case_number=rows[d.subject_id].case_number,
            applicant_name=rows[d.subject_id].applicant_name,
            received_at=rows[d.subject_id].applied_at,
            due_at=d.due_at,
        )
        for d in pending
        if d.subject_id in rows
    ]


def bindings_waiting(store: Store) -> WorkSource:
    """The work queue's source of case bindings: those the viewer must review, with their deadlines."""

    async def source(viewer: Viewer) -> list[WorkItem]:
        return [
            WorkItem(
                kind=WorkKind.BINDING,
                subject_type="CaseBindingApplication",
                subject_key=p.id,
                court_code=p.court_code,
                case_number=p.case_number,
                title=f"案件绑定申请：{p.applicant_name}申请绑定{p.case_number}",
                received_at=p.received_at,
                due_at=p.due_at,
            )
            for p in await pending_for_reviewer(store, viewer)
        ]

    return source


async def files_of(session: AsyncSession, binding_ids: Sequence[str]) -> dict[str, list[FiledFile]]:
    """The power of attorney's files (descriptions, not bytes) of each application, in upload order."""
    found: dict[str, list[FiledFile]] = {bid: [] for bid in binding_ids}
    if not binding_ids:
        return found
    query = (
        select(BindingFile.binding_id, BindingFile.name, BindingFile.content_type, BindingFile.size, BindingFile.sha256)
        .where(BindingFile.binding_id.in_(binding_ids))
        .order_by(BindingFile.binding_id, BindingFile.position)
    )
    for row in await session.execute(query):
        found[row.binding_id].append(FiledFile(row.name, row.content_type, row.size, row.sha256))
    return found


def applicant_recipient(row: BindingRecord) -> Recipient:
    """The decision goes to the phone the applicant's token named, and in-app to how the courts know them."""
    return Recipient(
        row.applicant_name,
        row.applicant_phone,
        person_key(PersonRef(IdentityKind(row.applicant_kind), row.applicant_number)),
    )


def _applicant_label(row: BindingRecord) -> str:
    if row.applicant_kind == IdentityKind.LICENCE_NUMBER:
        of = f"（{row.client_name}的委托代理人）" if row.client_name else ""
        return f"律师{row.applicant_name}{of}"
    return f"当事人{row.applicant_name}"


def _rejected(note: str | None) -> str:
    return f"未获通过（理由：{note}）" if note else "未获通过"


def _view(row: BindingRecord, files: tuple[FiledFile, ...], due_at: datetime | None, *, reviewer: bool) -> BindingView:
    """``reviewer``: the viewer reviews it, and so may learn whether the named client is a party."""
    return BindingView(
        id=row.id,
        court_code=row.court_code,
        case_number=row.case_number,
        applicant_name=row.applicant_name,
        applicant_kind=IdentityKind(row.applicant_kind),
        client_name=row.client_name,
        client_on_case=(row.client_id_number is not None) if reviewer and row.client_name else None,
        note=row.note,
        files=files,
        reviewers=tuple(Reviewer(r["staff_id"], r["name"], StaffRole(r["role"])) for r in row.reviewers),
        status=row.status,
        applied_at=row.applied_at,
        due_at=due_at,
        decided_at=row.decided_at,
        decided_by_name=row.decided_by_name,
        decision_note=row.decision_note,
        court_write=row.court_write,
        recorded_at=row.recorded_at,
        last_error=row.last_error,
    )
