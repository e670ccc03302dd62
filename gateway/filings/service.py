"""Filings (网上提交材料): stored before they are acknowledged, delivered by the outbox, followed to HANDLED.

``FilingService.submit`` checks the files and the filer's place in the case, then writes the filing,
its files and an audit record in one transaction; only then does the mutation answer (DESIGN §5,
"Writes never get lost"). The outbox (``gateway.filings.outbox``) delivers it to the court.
``mark_handled`` is what the change-feed sync calls when the court reports the panel has handled it.

When the case's court cannot be reached at submission, the filing is still accepted (a 答辩状 due at
midnight must not wait for a court's server): the outbox then checks that the filer is a party or
agent before it delivers, and a filing into someone else's case ends REJECTED, notifying nobody.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.errors import CourtError, NotFoundAtCourt
from gateway.adapters.model import Case, FilingKind, IdentityKind, PersonRef
from gateway.casenumber import CaseNumber
from gateway.cases.service import CaseService
from gateway.config import CourtConfig, Settings
from gateway.core.access import is_party_or_agent
from gateway.core.cursors import Keyset
from gateway.core.errors import NotFoundError
from gateway.core.runtime import Runtime
from gateway.core.uploads import CheckedFile, IncomingFile, InvalidInput, UploadLimits, check_files
from gateway.identity import Viewer
from gateway.notifications.service import NotificationKind, Recipient, notify, person_key
from gateway.store import audit
from gateway.store.audit import canonical_json
from gateway.store.filings import FilingFile, FilingRecord, ParkedHandledEvent

log = logging.getLogger("gateway.filings")

#: the outbox worker's name, for ``services.workers.wake``
WORKER_NAME = "filings"
MAX_TITLE = 200
MAX_KEY = 128


class FilingStatus(StrEnum):
    SUBMITTED = "SUBMITTED"  # stored; the outbox is delivering it
    DELIVERED = "DELIVERED"  # the court accepted it and gave a receipt number
    HANDLED = "HANDLED"  # the panel has handled it (from the court's change feed)
    REJECTED = "REJECTED"  # the court refused it, or the filer turned out not to be in the case


class NotFiled(NotFoundError):
    """No such case, or not one the viewer is a party or agent of (the two are indistinguishable)."""


@dataclass(frozen=True, slots=True)
class FilingRequest:
    case_number: str
    kind: FilingKind
    title: str
    files: list[IncomingFile]
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class FiledFile:
    name: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class FilingView:
    """A filing as its filer sees it (a detached copy of the row, without file contents)."""

    id: str
    case_number: str
    court_code: str
    kind: FilingKind
    title: str
    files: tuple[FiledFile, ...]
    status: FilingStatus
    submitted_at: datetime
    attempts: int
    next_attempt_at: datetime | None
    last_error_code: str | None
    last_error: str | None
    receipt_number: str | None
    delivered_at: datetime | None
    handled_at: datetime | None
    result: str | None


@dataclass(frozen=True, slots=True)
class FilingPage:
    filings: list[FilingView]
    cursors: list[str]
    has_next_page: bool
    total: int


def court_key(filing_id: str) -> str:
    """The idempotency key the court sees. Derived from our id, so every retry, from any gateway process
    and after any restart, sends the same key and the court keeps one record."""
    return f"cg-filing-{filing_id}"


def upload_limits(settings: Settings) -> UploadLimits:
    return UploadLimits(settings.filing_max_file_bytes, settings.filing_max_total_bytes, settings.filing_max_files)


def filer_ref(case: Case, id_number: str | None, licence_number: str | None) -> PersonRef | None:
    """How the case knows the filer: as a lawyer of record first, else as a party; None when it does not."""
    if licence_number and any(a.licence_number == licence_number for a in case.agents):
        return PersonRef.lawyer(licence_number)
    if id_number and any(p.id_number == id_number for p in case.parties):
        return PersonRef.party(id_number)
    return None


def filer_recipient(row: FilingRecord) -> Recipient:
    """The receipt SMS goes to the phone the filer's token named; the in-app notice to how the case knows them."""
    number = row.filer_licence_number if row.filed_as == IdentityKind.LICENCE_NUMBER else row.filer_id_number
    key = person_key(PersonRef(IdentityKind(row.filed_as), number)) if row.filed_as and number else None
    return Recipient(row.filer_name, row.filer_phone, key)


def request_digest(case_number: str, kind: FilingKind, title: str, files: Sequence[CheckedFile]) -> str:
    """What makes two submissions "the same" for an idempotency key: case, kind, title and file contents."""
    described = {"case": case_number, "kind": kind.value, "title": title, "files": [[f.name, f.sha256] for f in files]}
    return hashlib.sha256(canonical_json(described)).hexdigest()


# -- submission and reads ----------------------------------------------------------------------------


#: the filer's list, newest first
MY_FILINGS = Keyset("myFilings", FilingRecord.submitted_at, FilingRecord.id)


class FilingService:
    """Filings of the people who file them. Cheap to build: it holds only references."""

    def __init__(self, runtime: Runtime, cases: CaseService) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.cases = cases
        self.parser = runtime.parser

    @property
    def limits(self) -> UploadLimits:
        """Read from the settings at each use: they are settings, and tests change them."""
        return upload_limits(self.runtime.settings)

    async def submit(self, viewer: Viewer, request: FilingRequest) -> FilingView:
        """Store the filing (or find the one this idempotency key already stored) and return it.

        Raises InvalidInput (bad files, title or key; the key reused with other content), InvalidCaseNumber,
        NotFiled, or a CourtError other than the court being unreachable.
        """
        title, key = request.title.strip(), request.idempotency_key.strip()
        _check_fields(title, key)
        files = check_files(request.files, self.limits)
        number = self.parser.parse(request.case_number)
        digest = request_digest(number.text, request.kind, title, files)
        existing = await self._replay(viewer.subject, key, digest)
        if existing is not None:
            return existing
        case = await self._case_to_file_into(viewer, number)
        try:
            return await self._store(viewer, number, request.kind, title, key, digest, files, case)
        except IntegrityError:  # the same key, submitted concurrently, committed first
            existing = await self._replay(viewer.subject, key, digest)
            if existing is None:
                raise
            return existing

    async def _case_to_file_into(self, viewer: Viewer, number: CaseNumber) -> Case | None:
        """The case, checked; None when its court is unreachable (the outbox checks before delivering)."""
        try:
            case = await self.cases.case_by_number(viewer, number.text)
        except NotFoundAtCourt:
            case = None
        except CourtError as e:
            if not e.retryable:
                raise
            log.info("filing into %s accepted unchecked: %s", number.text, e)
            return None
        if case is None or not is_party_or_agent(viewer, case):
            raise NotFiled(f"no case {number.text} that you are a party or agent of")
        return case

    async def _replay(self, subject: str, key: str, digest: str) -> FilingView | None:
        async with self.store.session(read_only=True) as session:
            row = await session.scalar(
                select(FilingRecord).where(FilingRecord.filer_subject == subject, FilingRecord.idempotency_key == key)
            )
            if row is None:
                return None
            if row.request_digest != digest:
                raise InvalidInput(
                    "this idempotency key was already used for a different filing: use a new key for new content",
                    "IDEMPOTENCY_KEY_REUSED",
                )
            return view_of(row, (await files_of(session, [row.id]))[row.id])

    async def _store(
        self,
        viewer: Viewer,
        number: CaseNumber,
        kind: FilingKind,
        title: str,
        key: str,
        digest: str,
        files: list[CheckedFile],
        case: Case | None,
    ) -> FilingView:
        now = self.runtime.now()
        refs = {ref.kind: ref.number for ref in viewer.person_refs()}
        id_number, licence_number = refs.get(IdentityKind.ID_NUMBER), refs.get(IdentityKind.LICENCE_NUMBER)
        filed_as = filer_ref(case, id_number, licence_number) if case else None
        row = FilingRecord(
            id=uuid.uuid4().hex,
            filer_subject=viewer.subject,
            idempotency_key=key,
            request_digest=digest,
            filer_name=viewer.name,
            filer_phone=viewer.phone,
            filer_id_number=id_number,
            filer_licence_number=licence_number,
            filed_as=filed_as.kind.value if filed_as else None,
            court_code=number.court_code,
            case_number=number.text,
            case_id=case.case_id if case else None,
            kind=kind.value,
            title=title,
            status=FilingStatus.SUBMITTED.value,
            submitted_at=now,
            attempts=0,
            next_attempt_at=now,
        )
        stored = [
            FilingFile(
                filing_id=row.id,
                position=i,
                name=f.name,
                content_type=f.content_type,
                size=f.size,
                sha256=f.sha256,
                content=f.content,
            )
            for i, f in enumerate(files)
        ]
        async with self.store.session() as session:
            session.add(row)
            await session.flush()  # the filing before its files (no ORM relationship orders them)
            session.add_all(stored)
            await audit.append(
                session,
                actor=viewer.subject,
                client_id=viewer.client_id,
                action="filing.submitted",
                subject_type="filing",
                subject_id=row.id,
                court_code=row.court_code,
                details={
                    "case_number": row.case_number,
                    "kind": row.kind,
                    "title": row.title,
                    "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in files],
                    "case_checked": case is not None,
                },
            )
        return view_of(row, [FiledFile(f.name, f.content_type, f.size, f.sha256) for f in files])

    async def mine(self, viewer: Viewer, *, first: int, after: str | None, case_number: str | None) -> FilingPage:
        """The viewer's filings, newest first, optionally of one case (any format of its number).

        Raises InvalidCursor and InvalidCaseNumber.
        """
        scope: list[ColumnElement[bool]] = [FilingRecord.filer_subject == viewer.subject]
        if case_number:
            scope.append(FilingRecord.case_number == self.parser.parse(case_number).text)
        where = list(scope)
        if after:
            where.append(MY_FILINGS.after(after))
        query = select(FilingRecord).where(*where).order_by(*MY_FILINGS.order()).limit(first + 1)
        async with self.store.session(read_only=True) as session:
            rows = list(await session.scalars(query))
            total = await session.scalar(select(func.count()).select_from(FilingRecord).where(*scope))
            files = await files_of(session, [r.id for r in rows[:first]])
        page = rows[:first]
        return FilingPage(
            filings=[view_of(r, files[r.id]) for r in page],
            cursors=[MY_FILINGS.cursor(r.submitted_at, r.id) for r in page],
            has_next_page=len(rows) > first,
            total=total or 0,
        )

    async def get(self, viewer: Viewer, filing_id: str) -> FilingView | None:
        """One of the viewer's filings; None when it is not theirs or does not exist."""
        async with self.store.session(read_only=True) as session:
            row = await session.get(FilingRecord, filing_id)
            if row is None or row.filer_subject != viewer.subject:
                return None
            return view_of(row, (await files_of(session, [row.id]))[row.id])


def _check_fields(title: str, key: str) -> None:
    if not title:
        raise InvalidInput("give the filing a title", "TITLE_MISSING")
    if len(title) > MAX_TITLE:
        raise InvalidInput(f"the title is longer than {MAX_TITLE} characters", "TITLE_TOO_LONG")
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise InvalidInput(f"the idempotency key must be 1 to {MAX_KEY} printable characters", "IDEMPOTENCY_KEY")


async def files_of(session: AsyncSession, filing_ids: Sequence[str]) -> dict[str, list[FiledFile]]:
    """The files' descriptions (not their bytes) of each filing, in upload order."""
    found: dict[str, list[FiledFile]] = {fid: [] for fid in filing_ids}
    if not filing_ids:
        return found
    query = (
        select(FilingFile.filing_id, FilingFile.name, FilingFile.content_type, FilingFile.size, FilingFile.sha256)
        .where(FilingFile.filing_id.in_(filing_ids))
        .order_by(FilingFile.filing_id, FilingFile.position)
    )
    for row in await session.execute(query):
        found[row.filing_id].append(FiledFile(row.name, row.content_type, row.size, row.sha256))
    return found


def view_of(row: FilingRecord, files: Sequence[FiledFile]) -> FilingView:
    status = FilingStatus(row.status)
    return FilingView(
        id=row.id,
        case_number=row.case_number,
        court_code=row.court_code,
        kind=FilingKind(row.kind),
        title=row.title,
        files=tuple(files),
        status=status,
        submitted_at=row.submitted_at,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if status == FilingStatus.SUBMITTED else None,
        last_error_code=row.last_error_code,
        last_error=row.last_error,
        receipt_number=row.receipt_number,
        delivered_at=row.delivered_at,
        handled_at=row.handled_at,
        result=row.result,
    )


# -- handled, from the court's change feed -------------------------------------------------------------


#: how long a parked FILING_HANDLED event waits for a delivery to claim its receipt
PARKED_FOR = timedelta(days=30)


async def mark_handled(
    session: AsyncSession,
    court_code: str,
    receipt_number: str,
    result: str,
    occurred_at: datetime,
    *,
    now: datetime,
    court: CourtConfig | None = None,
) -> bool:
    """Mark the filing with this receipt HANDLED and queue the filer's receipt SMS and in-app notice.

    Runs in the caller's transaction (the feed sync's, with its cursor). Idempotent: a filing already
    HANDLED changes nothing and returns False. A receipt no filing holds is either not one of ours (filed at
    the court's own counter) or one of ours the gateway has not recorded yet (the court accepted a delivery
    whose answer a crash lost): while any delivery to this court is unrecorded, the event is parked and the
    redelivery, which the court answers with the same receipt, applies it (:func:`apply_parked`). ``court``
    gives the SMS its 【court】 prefix; by default it is looked up in the configured courts.
    """
    row = await _by_receipt(session, court_code, receipt_number)
    if row is None:
        # lock the deliveries that may hold this receipt: one recorded meanwhile is seen below, one recorded
        # after this commits sees the parked event (the outbox locks its row before recording it)
        unrecorded = await session.scalars(
            select(FilingRecord.id)
            .where(
                FilingRecord.court_code == court_code,
                FilingRecord.status == FilingStatus.SUBMITTED.value,
                FilingRecord.attempts > 0,
            )
            .with_for_update()
        )
        if not list(unrecorded):
            return False  # nothing of ours is in flight there: not our receipt
        row = await _by_receipt(session, court_code, receipt_number)
        if row is None:
            await _park(session, court_code, receipt_number, result, occurred_at, now)
            return False
    if row.status != FilingStatus.DELIVERED:
        return False
    await _handled(session, row, result, occurred_at, now=now, court=court or configured_court(court_code))
    return True


async def apply_parked(session: AsyncSession, row: FilingRecord, *, now: datetime, court: CourtConfig) -> bool:
    """In the transaction that records ``row`` DELIVERED: the court's FILING_HANDLED event for its receipt,
    if one arrived first and was parked, is applied now and unparked. True when one was."""
    if row.receipt_number is None:
        return False
    parked = await session.get(ParkedHandledEvent, (row.court_code, row.receipt_number), with_for_update=True)
    if parked is None:
        return False
    await session.delete(parked)
    await _handled(session, row, parked.result, parked.occurred_at, now=now, court=court)
    return True


async def _by_receipt(session: AsyncSession, court_code: str, receipt_number: str) -> FilingRecord | None:
    return await session.scalar(
        select(FilingRecord)
        .where(FilingRecord.court_code == court_code, FilingRecord.receipt_number == receipt_number)
        .with_for_update()
    )


async def _park(
    session: AsyncSession, court_code: str, receipt_number: str, result: str, occurred_at: datetime, now: datetime
) -> None:
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ParkedHandledEvent)
    await session.execute(
        insert.values(
            court_code=court_code,
            receipt_number=receipt_number,
            result=result,
            occurred_at=occurred_at,
            parked_at=now,
        ).on_conflict_do_nothing()
    )
    await session.execute(
        delete(ParkedHandledEvent)
        .where(ParkedHandledEvent.court_code == court_code, ParkedHandledEvent.parked_at < now - PARKED_FOR)
        .execution_options(synchronize_session=False)
    )
    log.info("%s: handled event for receipt %s parked until its delivery is recorded", court_code, receipt_number)


async def _handled(
    session: AsyncSession, row: FilingRecord, result: str, occurred_at: datetime, *, now: datetime, court: CourtConfig
) -> None:
    row.status = FilingStatus.HANDLED.value
    row.handled_at = occurred_at
    row.result = result
    await notify(
        session,
        kind=NotificationKind.FILING_HANDLED,
        court=court,
        case_number=row.case_number,
        recipients=[filer_recipient(row)],
        params={},
        dedupe_key=f"filing:{row.id}:handled",
        now=now,
    )
    await audit.append(
        session,
        actor=audit.SYSTEM_ACTOR,
        action="filing.handled",
        subject_type="filing",
        subject_id=row.id,
        court_code=row.court_code,
        details={"receipt_number": row.receipt_number, "result": result},
    )


@functools.cache
def _configured_courts() -> dict[str, CourtConfig]:
    return {c.code: c for c in Settings().courts}


def configured_court(code: str) -> CourtConfig:
    """A court of this process's configuration, for callers that have no ``Settings`` at hand."""
    return _configured_courts()[code]
