"""Archive applications (查阅档案申请) and who may read which case file, when (DESIGN §4 "Case-file access").

Reading the main file (正卷) needs no application for a party or agent of record while the case is not
archived. The archive office decides applications for archived cases only (its files): a party or agent
of record, or a lawyer not of record (a retrial being prepared, say). A case not yet archived has its file
with the panel, so a lawyer not of record is refused (NOT_ARCHIVED) and pointed to case binding, which
the panel reviews (DESIGN §4: bindings are reviewed by the panel; the archive office reviews applications
for archived cases). ``apply`` stores it and tells the court's archive administrators; one of
them decides it (``decide``) within ``archive_review_working_days`` working days; an approval opens a
reading window of ``archive_window_hours`` for the applicant alone; the decision reaches the applicant by
SMS and in-app notice. :func:`reading_grant` is the one place that says how a viewer may read a case file
right now (the court's staff, directly, or through an open window), or why not.

Courts are called (the case, the roster) before any write transaction opens; each change, its
notifications and its audit record commit together. Every method that depends on the time takes ``now``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.errors import CourtError
from gateway.adapters.model import CHINA_TZ, Case, CaseStatus, IdentityKind, PersonRef, Staff
from gateway.casenumber import CaseNumber
from gateway.cases.service import cached_record
from gateway.core.access import is_bound, is_party_or_agent, staff_scope_covers
from gateway.core.cursors import Keyset
from gateway.core.errors import NotFoundError, NotPermitted
from gateway.core.runtime import Runtime
from gateway.core.uploads import CheckedFile, IncomingFile, InvalidInput, check_files
from gateway.filings.service import filer_ref, upload_limits
from gateway.identity import Role, Viewer
from gateway.notifications.service import NotificationKind, Recipient, notify, person_key, staff_key
from gateway.store import Store, audit
from gateway.store.archive import ArchiveApplicationRecord, ArchiveAttachment
from gateway.work_queue.service import WorkItem, WorkKind, WorkSource

log = logging.getLogger("gateway.archive")

MAX_REASON = 1000
MAX_NOTE = 1000
#: the audit log's subject type for applications
SUBJECT = "archive_application"


class ApplicationStatus(StrEnum):
    PENDING = "PENDING"  # waiting for the archive office
    APPROVED = "APPROVED"  # a reading window was opened
    REJECTED = "REJECTED"


class Access(StrEnum):
    """How a viewer reads a case file."""

    STAFF = "STAFF"  # the court's own staff within their scope: both volumes, everything
    DIRECT = "DIRECT"  # a party or agent of record, case not archived: 正卷, published materials
    WINDOW = "WINDOW"  # an approved application's open window: 正卷, published materials


# -- why not -------------------------------------------------------------------------------------------


class NoSuchCase(NotFoundError):
    """No such case, or not one the viewer may read or apply for (the two are indistinguishable)."""


class NoSuchApplication(NotFoundError):
    """No such application, or not one the viewer may see (the two are indistinguishable)."""


class NeedsApplication(NotPermitted):
    """The case file needs an approved application first (an archived case)."""

    code = "APPLICATION_REQUIRED"

    def __init__(self, case_number: str) -> None:
        super().__init__(
            f"{case_number} is archived: apply to read its file with applyForArchiveAccess; the archive office "
            "decides within 2 working days"
        )


class WindowClosed(NotPermitted):
    """The viewer has no open reading window for this case, and says what they can do about it
    (``extensions.reason``): APPLICATION_PENDING (wait for the decision, due at ``dueAt``),
    APPLICATION_REJECTED (apply again) or WINDOW_CLOSED (their window closed at ``closedAt``: apply again).
    The code stays ACCESS_WINDOW_CLOSED for all three."""

    code = "ACCESS_WINDOW_CLOSED"

    def __init__(self, closed_at: datetime | None, status: str | None = None, due_at: datetime | None = None) -> None:
        details: dict[str, str] = {}
        if status == ApplicationStatus.PENDING.value:
            due = f" (due by {_beijing(due_at)} Beijing time)" if due_at else ""
            message = f"your application to read this case file is waiting for the archive office's decision{due}"
            details = {"reason": "APPLICATION_PENDING"} | (
                {"dueAt": due_at.astimezone(CHINA_TZ).isoformat()} if due_at else {}
            )
        elif status == ApplicationStatus.REJECTED.value:
            message = "your application to read this case file was rejected: apply again with applyForArchiveAccess"
            details = {"reason": "APPLICATION_REJECTED"}
        else:
            when = f" at {_beijing(closed_at)} (Beijing time)" if closed_at else ""
            message = f"your reading window closed{when}; apply again with applyForArchiveAccess to read more"
            details = {"reason": "WINDOW_CLOSED"} | (
                {"closedAt": closed_at.astimezone(CHINA_TZ).isoformat()} if closed_at else {}
            )
        super().__init__(message, **details)
        self.closed_at = closed_at


def _beijing(at: datetime | None) -> str:
    return f"{at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M}" if at else ""


# -- what callers get ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadingGrant:
    access: Access
    #: WINDOW: the application whose window is open, and when it closes
    application_id: str | None = None
    closes_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AttachmentView:
    name: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ApplicationView:
    """An application as its applicant and the archive office see it (a detached copy of its rows)."""

    id: str
    applicant_subject: str
    applicant_name: str
    applicant_kind: IdentityKind
    applicant_number: str
    of_record: bool
    court_code: str
    case_number: str
    case_status: CaseStatus
    reason: str
    attachments: tuple[AttachmentView, ...]
    status: ApplicationStatus
    submitted_at: datetime
    due_at: datetime
    decided_at: datetime | None
    decided_by_name: str | None
    decision_note: str | None
    window_opens_at: datetime | None
    window_closes_at: datetime | None

    def window_open(self, now: datetime) -> bool:
        return (
            self.status == ApplicationStatus.APPROVED
            and self.window_opens_at is not None
            and self.window_closes_at is not None
            and self.window_opens_at <= now < self.window_closes_at
        )


@dataclass(frozen=True, slots=True)
class ApplicationPage:
    applications: list[ApplicationView]
    cursors: list[str]
    has_next_page: bool
    total: int


@dataclass(frozen=True, slots=True)
class PendingApplication:
    """One application waiting on a court's archive office, for work queues."""

    id: str
    court_code: str
    case_number: str
    applicant_name: str
    of_record: bool
    received_at: datetime
    due_at: datetime


# -- who may read ----------------------------------------------------------------------------------------


async def reading_grant(
    store: Store, viewer: Viewer, case: Case, *, now: datetime, bound: Collection[str] = ()
) -> ReadingGrant:
    """How ``viewer`` may read ``case``'s file at ``now``. ``bound``: the viewer's approved case bindings
    (case numbers), which make them of record even before (or, at csv-export courts, without) the
    court's own record naming them.

    Raises NoSuchCase (a stranger: not the court's staff in scope, not of record, no application),
    NeedsApplication (of record, but the case is archived, no application) and WindowClosed (an application
    not approved, or its window over).
    The identity level is the caller's to check (REAL_NAME or FACE).
    """
    if staff_scope_covers(viewer, case):
        return ReadingGrant(Access.STAFF)
    if viewer.is_staff:
        raise NoSuchCase(f"no case {case.case_number} whose file you may read")
    of_record = is_party_or_agent(viewer, case) or is_bound(viewer, case, bound)
    if of_record and case.status != CaseStatus.ARCHIVED:
        return ReadingGrant(Access.DIRECT)
    async with store.session(read_only=True) as session:
        applied = (
            await session.scalars(
                select(ArchiveApplicationRecord)
                .where(
                    ArchiveApplicationRecord.applicant_subject == viewer.subject,
                    ArchiveApplicationRecord.court_code == case.court_code,
                    ArchiveApplicationRecord.case_number == case.case_number,
                )
                .order_by(ArchiveApplicationRecord.submitted_at.desc())
            )
        ).all()
    approved = [r for r in applied if r.status == ApplicationStatus.APPROVED.value]
    open_now = [
        r
        for r in approved
        if r.window_opens_at and r.window_closes_at and r.window_opens_at <= now < r.window_closes_at
    ]
    if open_now:
        row = max(open_now, key=lambda r: r.window_closes_at or now)
        return ReadingGrant(Access.WINDOW, row.id, row.window_closes_at)
    if applied:  # what the newest application says is what the viewer can do next
        latest = applied[0]
        if latest.status == ApplicationStatus.APPROVED.value:
            raise WindowClosed(latest.window_closes_at)
        raise WindowClosed(None, latest.status, latest.due_at)
    if of_record:
        raise NeedsApplication(case.case_number)
    raise NoSuchCase(f"no case {case.case_number} whose file you may read")


def window_state(row: ArchiveApplicationRecord, now: datetime) -> WindowClosed | None:
    """Whether an approved application's window is still open at ``now`` (a link issued in it is used later)."""
    if row.status != ApplicationStatus.APPROVED.value or not row.window_closes_at or not row.window_opens_at:
        return WindowClosed(None, row.status, row.due_at)
    if not row.window_opens_at <= now < row.window_closes_at:
        return WindowClosed(row.window_closes_at)
    return None


# -- the workflow ---------------------------------------------------------------------------------------


def applicant_ref(viewer: Viewer, case: Case) -> tuple[PersonRef, bool] | None:
    """How the application names its applicant, and whether they are of record; None when they may not
    apply (a party who is not a party of the case: only lawyers apply for others' cases)."""
    refs = {ref.kind: ref.number for ref in viewer.person_refs()}
    id_number, licence = refs.get(IdentityKind.ID_NUMBER), refs.get(IdentityKind.LICENCE_NUMBER)
    of_record = filer_ref(case, id_number, licence)
    if of_record is not None:
        return of_record, True
    if licence and Role.LAWYER in viewer.roles:
        return PersonRef.lawyer(licence), False
    return None


def _applicant_recipient(row: ArchiveApplicationRecord) -> Recipient:
    ref = PersonRef(IdentityKind(row.applicant_kind), row.applicant_number)
    return Recipient(row.applicant_name, row.applicant_phone, person_key(ref))


def _when(at: datetime) -> str:
    moment = at.astimezone(CHINA_TZ)
    return f"{moment.year}年{moment.month}月{moment.day}日{moment:%H:%M}"


class ArchiveService:
    """Applications for their applicants and the archive office. Cheap to build: it holds references."""

    def __init__(self, runtime: Runtime) -> None:
        self.services = runtime
        self.store = runtime.store
        self.settings = runtime.settings

    async def find_case(self, number: CaseNumber) -> Case | None:
        """The case as its court records it, whoever asks (the callers decide what the viewer may do).

        Shares the case service's cache entries. Raises CourtError when the court cannot answer.
        """
        if number.court_code not in self.services.registry:
            return None
        _, found = await cached_record(self.services, number)
        return found

    async def _archivists(self, court_code: str) -> list[Staff]:
        """The court's archive administrators; none when the roster cannot be read (the application is
        still taken: the archive office sees it in its list and work queue)."""
        from gateway.core.roster import archive_admins, roster

        try:
            return archive_admins(await roster(self.services, court_code))
        except CourtError as e:
            log.warning(
                "archive application at %s: the roster is unavailable (%s); nobody was texted", court_code, e.code
            )
            return []

    async def apply(
        self, viewer: Viewer, number: CaseNumber, reason: str, files: list[IncomingFile], *, now: datetime
    ) -> ApplicationView:
        """Store an application and tell the archive office. Raises InvalidInput (reason, files, a needless
        or repeated application, NOT_ARCHIVED for a case whose file is still with the panel), NoSuchCase, and
        CourtError when the case's court cannot answer."""
        from gateway.core.deadlines import calendar_for

        reason = reason.strip()
        if not reason:
            raise InvalidInput("give a reason for reading the file", "REASON_MISSING")
        if len(reason) > MAX_REASON:
            raise InvalidInput(f"the reason is longer than {MAX_REASON} characters", "REASON_TOO_LONG")
        checked: list[CheckedFile] = check_files(files, upload_limits(self.settings)) if files else []
        case = await self.find_case(number)
        if case is None:
            raise NoSuchCase(f"no case {number.text} whose file you may read")
        found = applicant_ref(viewer, case)
        if found is None:
            raise NoSuchCase(f"no case {number.text} whose file you may read")
        ref, of_record = found
        if of_record and case.status != CaseStatus.ARCHIVED:
            raise InvalidInput(
                "you are of record in this case and it is not archived: read its file without an application "
                "(caseFile, downloadMaterial)",
                "DIRECT_ACCESS",
            )
        if not of_record and case.status != CaseStatus.ARCHIVED:
            raise InvalidInput(
                f"{case.case_number} is not archived: its file is with the panel, not the archive office. A lawyer "
                "for a party applies to be bound to the case (applyForCaseBinding, with the power of attorney; "
                "the panel reviews it) and then reads the file without an application",
                "NOT_ARCHIVED",
            )
        if not of_record and not checked:
            raise InvalidInput(
                "a lawyer not of record attaches the power of attorney (授权委托书) and licence (律师执业证)",
                "NO_FILES",
            )
        await self._refuse_repeats(viewer, case, now)
        archivists = await self._archivists(case.court_code)

        due_at = calendar_for(self.settings).deadline(now, self.settings.archive_review_working_days)
        row = ArchiveApplicationRecord(
            id=uuid.uuid4().hex,
            applicant_subject=viewer.subject,
            applicant_name=viewer.name,
            applicant_phone=viewer.phone,
            applicant_kind=ref.kind.value,
            applicant_number=ref.number,
            of_record=of_record,
            court_code=case.court_code,
            case_number=case.case_number,
            case_id=case.case_id,
            case_status=case.status.value,
            reason=reason,
            status=ApplicationStatus.PENDING.value,
            submitted_at=now,
            due_at=due_at,
        )
        attachments = [
            ArchiveAttachment(
                application_id=row.id,
                position=i,
                name=f.name,
                content_type=f.content_type,
                size=f.size,
                sha256=f.sha256,
                content=f.content,
            )
            for i, f in enumerate(checked)
        ]
        court = self.settings.court(case.court_code)
        async with self.store.session() as session:
            session.add(row)
            await session.flush()  # the application before its files (no ORM relationship orders them)
            session.add_all(attachments)
            await notify(
                session,
                kind=NotificationKind.ARCHIVE_ACCESS_REQUESTED,
                court=court,
                case_number=case.case_number,
                recipients=[Recipient(s.name, s.phone, staff_key(case.court_code, s.staff_id)) for s in archivists],
                params={"applicant": _applicant_label(row), "due": _when(due_at)},
                dedupe_key=f"archive:{row.id}:requested",
                now=now,
            )
            await audit.append(
                session,
                actor=viewer.subject,
                client_id=viewer.client_id,
                action="archive.applied",
                subject_type=SUBJECT,
                subject_id=row.id,
                court_code=row.court_code,
                details={
                    "case_number": row.case_number,
                    "case_status": row.case_status,
                    "of_record": of_record,
                    "applicant": {"kind": row.applicant_kind, "number": row.applicant_number},
                    "attachments": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in checked],
                    "due_at": due_at.isoformat(),
                    "archivists_told": [s.staff_id for s in archivists],
                },
            )
        return view_of(row, [AttachmentView(f.name, f.content_type, f.size, f.sha256) for f in checked])

    async def _refuse_repeats(self, viewer: Viewer, case: Case, now: datetime) -> None:
        """One live application per person and case: a pending one, or an approval whose window is open."""
        async with self.store.session(read_only=True) as session:
            rows = (
                await session.scalars(
                    select(ArchiveApplicationRecord).where(
                        ArchiveApplicationRecord.applicant_subject == viewer.subject,
                        ArchiveApplicationRecord.court_code == case.court_code,
                        ArchiveApplicationRecord.case_number == case.case_number,
                        ArchiveApplicationRecord.status.in_(
                            [ApplicationStatus.PENDING.value, ApplicationStatus.APPROVED.value]
                        ),
                    )
                )
            ).all()
        for row in rows:
            if row.status == ApplicationStatus.PENDING.value:
                raise InvalidInput(
                    "you already have an application for this case waiting for a decision", "ALREADY_PENDING"
                )
            if window_state(row, now) is None:
                raise InvalidInput("your reading window for this case is open: read it now", "WINDOW_OPEN")

    async def decide(
        self, viewer: Viewer, application_id: str, *, approve: bool, note: str | None, now: datetime
    ) -> ApplicationView:
        """The archive office's decision; an approval opens the window at ``now``. Raises NoSuchApplication
        (not this archivist's court), InvalidInput (NOTE_MISSING to reject, NOTE_TOO_LONG, ALREADY_DECIDED,
        NOT_ARCHIVED to approve an application made for a case that was not archived)."""
        note = (note or "").strip() or None
        if not approve and not note:
            raise InvalidInput("say why the application is rejected", "NOTE_MISSING")
        if note and len(note) > MAX_NOTE:
            raise InvalidInput(f"the note is longer than {MAX_NOTE} characters", "NOTE_TOO_LONG")
        if Role.ARCHIVE_ADMIN not in viewer.roles or not viewer.court_code:
            raise NoSuchApplication("no such archive application that you may see")
        async with self.store.session() as session:
            row = await session.scalar(
                select(ArchiveApplicationRecord).where(ArchiveApplicationRecord.id == application_id).with_for_update()
            )
            if row is None or row.court_code != viewer.court_code:
                raise NoSuchApplication("no such archive application that you may see")
            if row.status != ApplicationStatus.PENDING.value:
                raise InvalidInput(f"this application was already decided ({row.status})", "ALREADY_DECIDED")
            if approve and row.case_status != CaseStatus.ARCHIVED.value:
                raise InvalidInput(
                    f"{row.case_number} was not archived when this was applied for: the archive office does not "
                    "hold its file, and the panel decides who reads it (case binding); reject it with a note",
                    "NOT_ARCHIVED",
                )
            row.status = (ApplicationStatus.APPROVED if approve else ApplicationStatus.REJECTED).value
            row.decided_at = now
            row.decided_by = viewer.staff_id
            row.decided_by_name = viewer.name
            row.decision_note = note
            if approve:
                row.window_opens_at = now
                row.window_closes_at = now + timedelta(hours=self.settings.archive_window_hours)
                outcome = f"已获批准，请于{_when(row.window_closes_at)}前登录在线阅卷"
            else:
                outcome = f"未获批准（{note}）"
            await notify(
                session,
                kind=NotificationKind.ARCHIVE_ACCESS_DECIDED,
                court=self.settings.court(row.court_code),
                case_number=row.case_number,
                recipients=[_applicant_recipient(row)],
                params={"outcome": outcome},
                dedupe_key=f"archive:{row.id}:decided",
                now=now,
            )
            await audit.append(
                session,
                actor=viewer.subject,
                client_id=viewer.client_id,
                action="archive.approved" if approve else "archive.rejected",
                subject_type=SUBJECT,
                subject_id=row.id,
                court_code=row.court_code,
                details={
                    "case_number": row.case_number,
                    "staff_id": viewer.staff_id,
                    "note": note,
                    "on_time": now <= row.due_at,
                    "window_closes_at": row.window_closes_at.isoformat() if row.window_closes_at else None,
                },
            )
            files = (await attachments_of(session, [row.id]))[row.id]
        return view_of(row, files)

    # -- reads -----------------------------------------------------------------------------------------

    async def get(self, viewer: Viewer, application_id: str) -> ApplicationView:
        """One application, for its applicant or the archive office of its court; NoSuchApplication else."""
        async with self.store.session(read_only=True) as session:
            row = await session.get(ArchiveApplicationRecord, application_id)
            if row is None or not may_see(viewer, row):
                raise NoSuchApplication("no such archive application that you may see")
            return view_of(row, (await attachments_of(session, [row.id]))[row.id])

    async def mine(
        self, viewer: Viewer, *, first: int, after: str | None, status: ApplicationStatus | None
    ) -> ApplicationPage:
        """The viewer's applications, newest first. Raises InvalidCursor."""
        scope: list[ColumnElement[bool]] = [ArchiveApplicationRecord.applicant_subject == viewer.subject]
        if status is not None:
            scope.append(ArchiveApplicationRecord.status == status.value)
        return await self._page("myArchiveApplications", scope, first=first, after=after, newest_first=True)

    async def of_court(
        self, viewer: Viewer, *, status: ApplicationStatus | None, first: int, after: str | None
    ) -> ApplicationPage:
        """The archive office's list of its court's applications: pending ones oldest (soonest due) first,
        decided ones newest first. Raises InvalidCursor; NoSuchApplication-free: other courts' never show."""
        scope: list[ColumnElement[bool]] = [ArchiveApplicationRecord.court_code == (viewer.court_code or "")]
        if status is not None:
            scope.append(ArchiveApplicationRecord.status == status.value)
        newest_first = status != ApplicationStatus.PENDING
        return await self._page("archiveApplications", scope, first=first, after=after, newest_first=newest_first)

    async def _page(
        self, kind: str, scope: list[ColumnElement[bool]], *, first: int, after: str | None, newest_first: bool
    ) -> ApplicationPage:
        record = ArchiveApplicationRecord
        keyset = Keyset(kind, record.submitted_at, record.id, newest_first=newest_first)
        where = list(scope)
        if after:
            where.append(keyset.after(after))
        query = select(record).where(*where).order_by(*keyset.order()).limit(first + 1)
        async with self.store.session(read_only=True) as session:
            rows = list(await session.scalars(query))
            total = await session.scalar(select(func.count()).select_from(ArchiveApplicationRecord).where(*scope))
            page = rows[:first]
            files = await attachments_of(session, [r.id for r in page])
        return ApplicationPage(
            applications=[view_of(r, files[r.id]) for r in page],
            cursors=[keyset.cursor(r.submitted_at, r.id) for r in page],
            has_next_page=len(rows) > first,
            total=total or 0,
        )


def may_see(viewer: Viewer, row: ArchiveApplicationRecord) -> bool:
    """The applicant, and the archive administrators of the application's court."""
    if row.applicant_subject == viewer.subject and not viewer.is_staff:
        return True
    return Role.ARCHIVE_ADMIN in viewer.roles and viewer.court_code == row.court_code


def _applicant_label(row: ArchiveApplicationRecord) -> str:
    if row.applicant_kind == IdentityKind.LICENCE_NUMBER.value:
        return f"律师{row.applicant_name}" + ("" if row.of_record else "（非本案代理人）")
    return f"当事人{row.applicant_name}"


async def attachments_of(session: AsyncSession, ids: Sequence[str]) -> dict[str, list[AttachmentView]]:
    """The attachments' descriptions (not their bytes) of each application, in upload order."""
    found: dict[str, list[AttachmentView]] = {i: [] for i in ids}
    if not ids:
        return found
    query = (
        select(
            ArchiveAttachment.application_id,
            ArchiveAttachment.name,
            ArchiveAttachment.content_type,
            ArchiveAttachment.size,
            ArchiveAttachment.sha256,
        )
        .where(ArchiveAttachment.application_id.in_(ids))
        .order_by(ArchiveAttachment.application_id, ArchiveAttachment.position)
    )
    for r in await session.execute(query):
        found[r.application_id].append(AttachmentView(r.name, r.content_type, r.size, r.sha256))
    return found


def view_of(row: ArchiveApplicationRecord, attachments: Sequence[AttachmentView]) -> ApplicationView:
    return ApplicationView(
        id=row.id,
        applicant_subject=row.applicant_subject,
        applicant_name=row.applicant_name,
        applicant_kind=IdentityKind(row.applicant_kind),
        applicant_number=row.applicant_number,
        of_record=row.of_record,
        court_code=row.court_code,
        case_number=row.case_number,
        case_status=CaseStatus(row.case_status),
        reason=row.reason,
        attachments=tuple(attachments),
        status=ApplicationStatus(row.status),
        submitted_at=row.submitted_at,
        due_at=row.due_at,
        decided_at=row.decided_at,
        decided_by_name=row.decided_by_name,
        decision_note=row.decision_note,
        window_opens_at=row.window_opens_at,
        window_closes_at=row.window_closes_at,
    )


# -- for work queues -------------------------------------------------------------------------------------


async def pending_for_archivist(store: Store, viewer: Viewer) -> list[PendingApplication]:
    """What waits on ``viewer`` as an archive administrator: their court's pending applications, soonest
    due first; nothing for anyone else (for the staff work queue)."""
    if Role.ARCHIVE_ADMIN not in viewer.roles or not viewer.court_code:
        return []
    return await pending_applications(store, viewer.court_code)


async def pending_applications(store: Store, court_code: str) -> list[PendingApplication]:
    """A court's applications waiting for the archive office, soonest due first."""
    query = (
        select(ArchiveApplicationRecord)
        .where(
            ArchiveApplicationRecord.court_code == court_code,
            ArchiveApplicationRecord.status == ApplicationStatus.PENDING.value,
        )
        .order_by(ArchiveApplicationRecord.due_at, ArchiveApplicationRecord.submitted_at, ArchiveApplicationRecord.id)
    )
    async with store.session(read_only=True) as session:
        rows = (await session.scalars(query)).all()
    return [
        PendingApplication(
            r.id, r.court_code, r.case_number, _applicant_label(r), r.of_record, r.submitted_at, r.due_at
        )
        for r in rows
    ]


def archive_applications_waiting(store: Store) -> WorkSource:
    """The work queue's source of archive applications: those of the viewer's court, for its archive
    administrators, with their deadlines."""

    async def source(viewer: Viewer) -> list[WorkItem]:
        return [
            WorkItem(
                kind=WorkKind.ARCHIVE_APPLICATION,
                subject_type="ArchiveApplication",
                subject_key=p.id,
                court_code=p.court_code,
                case_number=p.case_number,
                title=f"阅卷申请：{p.applicant_name}",
                received_at=p.received_at,
                due_at=p.due_at,
            )
            for p in await pending_for_archivist(store, viewer)
        ]

    return source
