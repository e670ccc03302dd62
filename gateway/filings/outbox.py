"""The filing outbox: deliver each stored filing to its court exactly once (``gateway.core.outbox``).

Before the court call the case is looked up: a filer who turned out not to be in the case, or a case
the court does not have, makes the filing REJECTED without a call. The court gets :func:`court_key`,
derived from the filing's id, as its ``Idempotency-Key``: a retry after a crash between the court's
acceptance and our commit gets the same receipt instead of a second record. DELIVERED comes with the
court's receipt, the clerk's and judge's FILING_RECEIVED notices and an audit record, in one
transaction; a FILING_HANDLED event the court sent before that (it accepted an earlier attempt whose
answer a crash lost) was parked by the feed and is applied in the same transaction. Every failure is shown to the filer as a public code and wording (``lastErrorCode``,
``lastError``); the court's own text stays in the logs and the audit record.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.model import Attachment, Case, Filing, FilingKind, FilingReceipt, PersonRef, StaffRole
from gateway.config import CourtConfig
from gateway.core.outbox import LOCAL_CONFLICT, Failure, Outbox, RetryPolicy, court_adapter, utcnow
from gateway.core.runtime import Runtime
from gateway.filings.service import WORKER_NAME, FilingStatus, apply_parked, court_key, filer_recipient, filer_ref
from gateway.notifications.service import NotificationKind, Recipient, notify, staff_key
from gateway.store.filings import FilingFile, FilingRecord

#: public wording of a failed attempt that will be retried
RETRY_MESSAGES = {
    "COURT_UNAVAILABLE": "{court} is not answering; delivery will be retried",
    "COURT_TIMEOUT": "{court} did not answer in time; delivery will be retried",
    "COURT_RATE_LIMITED": "{court} asked the gateway to slow down; delivery will be retried",
    "COURT_AUTH_FAILED": "the gateway could not sign in at {court}; delivery will be retried",
}
#: public wording of a final failure, by the code the filer sees
REJECTIONS = {
    "CASE_NOT_FOUND": "the court has no such case",
    "NOT_A_PARTY": "you are not a party or agent of this case",
    "COURT_REJECTED": "the court refused the filing",
    LOCAL_CONFLICT: "{court} answered with a receipt number the gateway already holds for another filing, so "
    "it could not be recorded as delivered; ask the court whether it has this filing before filing again",
    "INVALID_RECORD": "the filing could not be put into the form {court} takes",
}


def public_code(failure: Failure) -> str:
    """The code the filer sees: a court's refusal of any kind reads as COURT_REJECTED."""
    if failure.code == "NOT_FOUND":
        return "CASE_NOT_FOUND"
    if failure.final and failure.code not in REJECTIONS:
        return "COURT_REJECTED"
    return failure.code


def panel_recipients(case: Case) -> list[Recipient]:
    """The case's clerks and its lead judge (the presiding judge, or the sole judge): who acts on filings."""
    judges = [s for s in case.panel if s.role in (StaffRole.PRESIDING_JUDGE, StaffRole.JUDGE)]
    clerks = [s for s in case.panel if s.role == StaffRole.CLERK]
    return [Recipient(s.name, s.phone, staff_key(case.court_code, s.staff_id)) for s in [*clerks, *judges[:1]]]


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one delivery learnt: the court, the case as the court has it, how it knows the filer, the receipt."""

    court: CourtConfig
    case: Case
    filed_as: PersonRef
    receipt: FilingReceipt


class FilingOutbox(Outbox[FilingRecord, Delivery]):
    """The worker; ``clock`` and ``rng`` are injectable so tests can let an hour pass without waiting."""

    name = WORKER_NAME
    model = FilingRecord
    pending = FilingRecord.status == FilingStatus.SUBMITTED.value
    queued_at = FilingRecord.submitted_at
    audit_subject = "filing"

    def __init__(
        self, runtime: Runtime, *, clock: Callable[[], datetime] = utcnow, rng: Callable[[], float] = random.random
    ) -> None:
        settings = runtime.settings
        policy = RetryPolicy(
            base_s=settings.filing_retry_base_s,
            cap_s=settings.filing_retry_cap_s,
            lease_s=settings.filing_claim_lease_s,
            batch=settings.filing_batch_size,
        )
        courts = (a.court for a in runtime.registry)
        super().__init__(runtime.store, policy, courts=courts, clock=clock, rng=rng)
        self.registry = runtime.registry

    def court_of(self, row: FilingRecord) -> str:
        return row.court_code

    async def deliver(self, row: FilingRecord) -> Delivery:
        adapter = court_adapter(self.registry, row.court_code)
        case = await adapter.find_case(row.case_number)
        if case is None:
            raise Failure("CASE_NOT_FOUND", f"find_case({row.case_number}) found nothing", final=True)
        ref = filer_ref(case, row.filer_id_number, row.filer_licence_number)
        if ref is None:
            raise Failure("NOT_A_PARTY", "the filer is neither a party nor an agent of the case", final=True)
        async with self.store.session(read_only=True) as session:
            files = await session.scalars(
                select(FilingFile).where(FilingFile.filing_id == row.id).order_by(FilingFile.position)
            )
            filing = court_filing(row, list(files), case, ref)
        return Delivery(adapter.court, case, ref, await adapter.submit_filing(filing))

    async def delivered(self, session: AsyncSession, row: FilingRecord, result: Delivery) -> dict[str, Any] | None:
        row.status = FilingStatus.DELIVERED.value
        row.receipt_number = result.receipt.receipt_number
        row.delivered_at = result.receipt.received_at
        row.case_id = result.case.case_id
        row.filed_as = result.filed_as.kind.value
        row.last_error_code = row.last_error = None
        await notify(
            session,
            kind=NotificationKind.FILING_RECEIVED,
            court=result.court,
            case_number=row.case_number,
            recipients=panel_recipients(result.case),
            params={"title": row.title, "filer": row.filer_name},
            dedupe_key=f"filing:{row.id}:received",
            now=self.clock(),
        )
        filer = filer_recipient(row)
        await notify(
            session,
            kind=NotificationKind.FILING_DELIVERED,
            court=result.court,
            case_number=row.case_number,
            recipients=[Recipient(filer.name, None, filer.key)],  # in-app (and webhooks) only: no extra text
            params={"title": row.title, "receipt_number": result.receipt.receipt_number},
            dedupe_key=f"filing:{row.id}:delivered",
            now=self.clock(),
        )
        # the delivery's own audit record first, then a handled event that came before it (crash window)
        await self._audit(
            session,
            row,
            self.audit_actions[0],
            {"receipt_number": result.receipt.receipt_number, "attempts": row.attempts},
        )
        await session.flush()
        await apply_parked(session, row, now=self.clock(), court=result.court)
        return None

    async def failed(self, session: AsyncSession, row: FilingRecord, failure: Failure) -> dict[str, Any]:
        code = public_code(failure)
        wording = REJECTIONS.get(code) if failure.final else RETRY_MESSAGES.get(code)
        row.last_error_code = code
        row.last_error = (wording or "delivery to {court} failed; it will be retried").format(court=row.court_code)
        if failure.final:
            row.status = FilingStatus.REJECTED.value
        return {"reason": code, "detail": failure.detail, "attempts": row.attempts}


def court_filing(row: FilingRecord, files: Sequence[FilingFile], case: Case, ref: PersonRef) -> Filing:
    """The canonical filing the adapter turns into the court's wire format."""
    return Filing(
        idempotency_key=court_key(row.id),
        case_id=case.case_id,
        case_number=case.case_number,
        kind=FilingKind(row.kind),
        title=row.title,
        filer_name=row.filer_name,
        filer_id_number=ref.number,
        attachments=tuple(Attachment(f.name, f.content_type, f.content) for f in files),
    )
