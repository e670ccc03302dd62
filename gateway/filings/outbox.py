"""The filing outbox worker: deliver each stored filing to its court exactly once, however long it takes.

One round (``run_once``):

1. **Claim** the due SUBMITTED filings in a short transaction: their ``claim_token`` is set and
   ``next_attempt_at`` pushed a lease ahead, so no other round (in this or another gateway process)
   takes them meanwhile. PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` (concurrent claimers pass
   each other by instead of queueing); SQLite's write lock, taken at BEGIN, serialises claimers.
   The court call happens *outside* any transaction (DESIGN §5: a court call must not hold SQLite's
   single write lock), which is why a lease and not a held row lock keeps the filing ours.
2. **Deliver** through the court's resilient adapter with :func:`court_key`, derived from the filing's
   id: the courts keep one record per key, so a retry after a crash between the court's acceptance
   and our commit gets the same receipt instead of a second record.
3. **Record** the outcome in one transaction: DELIVERED with the court's receipt, the clerk's and
   judge's notifications and an audit record; or REJECTED (notifying nobody); or, for an error worth
   retrying, the next attempt after an exponential backoff with jitter. A worker that dies mid-round
   leaves its claims to expire: the lease is the retry.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from gateway.adapters.errors import CourtAuthFailed, CourtError, CourtRateLimited, NotFoundAtCourt
from gateway.adapters.model import Attachment, Case, Filing, FilingKind, FilingReceipt, PersonRef, StaffRole
from gateway.config import CourtConfig
from gateway.filings.service import WORKER_NAME, FilingStatus, court_key, filer_ref
from gateway.notifications.service import NotificationKind, Recipient, notify, staff_key
from gateway.store import audit
from gateway.store.filings import FilingFile, FilingRecord

if TYPE_CHECKING:
    from gateway.context import Services

log = logging.getLogger("gateway.filings.outbox")

#: public wording of a failed attempt; the court's own error text stays in the logs
RETRY_MESSAGES = {
    "COURT_UNAVAILABLE": "{court} is not answering; delivery will be retried",
    "COURT_TIMEOUT": "{court} did not answer in time; delivery will be retried",
    "COURT_RATE_LIMITED": "{court} asked the gateway to slow down; delivery will be retried",
    "COURT_AUTH_FAILED": "the gateway could not sign in at {court}; delivery will be retried",
}
REJECTIONS = {
    "CASE_NOT_FOUND": "the court has no such case",
    "NOT_A_PARTY": "you are not a party or agent of this case",
    "COURT_REJECTED": "the court refused the filing",
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def retry_delay(
    attempts: int,
    *,
    base_s: float,
    cap_s: float,
    retry_after_s: float | None = None,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds until the next attempt: doubling per attempt up to ``cap_s``, with "equal jitter" (half
    fixed, half random) so filings queued behind one outage do not all return at the same instant."""
    ceiling = min(cap_s, base_s * 2 ** min(max(attempts - 1, 0), 32))
    return max(ceiling / 2 + rng() * ceiling / 2, retry_after_s or 0.0)


def is_retryable(error: CourtError) -> bool:
    """Outages, timeouts and throttling pass; refused credentials are our configuration, not the filing's
    fault, so they are retried too (until someone fixes the configuration) rather than rejecting it."""
    return error.retryable or isinstance(error, CourtAuthFailed)


def panel_recipients(case: Case) -> list[Recipient]:
    """The case's clerks and its lead judge (the presiding judge, or the sole judge): who acts on filings."""
    judges = [s for s in case.panel if s.role in (StaffRole.PRESIDING_JUDGE, StaffRole.JUDGE)]
    clerks = [s for s in case.panel if s.role == StaffRole.CLERK]
    return [Recipient(s.name, s.phone, staff_key(case.court_code, s.staff_id)) for s in [*clerks, *judges[:1]]]


@dataclass(frozen=True, slots=True)
class Claim:
    filing_id: str
    token: str


class FilingOutbox:
    """The worker; ``clock`` is injectable so tests can let an hour pass without waiting for it."""

    name = WORKER_NAME

    def __init__(
        self,
        services: Services,
        *,
        clock: Callable[[], datetime] = _utcnow,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.store = services.store
        self.registry = services.registry
        self.settings = services.settings
        self.clock = clock
        self.rng = rng

    async def run_once(self) -> int:
        """Claim what is due and deliver it; returns how many filings were attempted."""
        claims = await self.claim()
        await asyncio.gather(*(self._deliver_safely(c) for c in claims))
        return len(claims)

    # -- 1. claim ----------------------------------------------------------------------------------

    async def claim(self) -> list[Claim]:
        now = self.clock()
        token = uuid.uuid4().hex
        query = (
            select(FilingRecord.id)
            .where(FilingRecord.status == FilingStatus.SUBMITTED.value, FilingRecord.next_attempt_at <= now)
            .order_by(FilingRecord.next_attempt_at)
            .limit(self.settings.filing_batch_size)
        )
        if self.store.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        async with self.store.session() as session:
            ids = list(await session.scalars(query))
            if ids:
                await session.execute(
                    update(FilingRecord)
                    .where(FilingRecord.id.in_(ids))
                    .values(
                        claim_token=token,
                        attempts=FilingRecord.attempts + 1,
                        next_attempt_at=now + timedelta(seconds=self.settings.filing_claim_lease_s),
                    )
                )
        return [Claim(i, token) for i in ids]

    # -- 2. deliver --------------------------------------------------------------------------------

    async def _deliver_safely(self, claim: Claim) -> None:
        try:
            await self.deliver(claim)
        except Exception:  # a bug or the database: the claim's lease runs out and the filing is retried
            log.exception("filing %s: delivery round failed; retried when its claim expires", claim.filing_id)

    async def deliver(self, claim: Claim) -> None:
        row, files = await self._load(claim.filing_id)
        if row is None or row.status != FilingStatus.SUBMITTED:
            return
        if row.court_code not in self.registry:
            await self._retry(claim, row, "COURT_UNAVAILABLE", f"{row.court_code} is not configured", None)
            return
        adapter = self.registry[row.court_code]
        court = adapter.court
        try:
            case = await adapter.find_case(row.case_number)
            if case is None:
                await self._reject(claim, "CASE_NOT_FOUND", f"find_case({row.case_number}) found nothing")
                return
            ref = filer_ref(case, row.filer_id_number, row.filer_licence_number)
            if ref is None:
                await self._reject(claim, "NOT_A_PARTY", "the filer is neither a party nor an agent of the case")
                return
            receipt = await adapter.submit_filing(court_filing(row, files, case, ref))
        except NotFoundAtCourt as e:
            await self._reject(claim, "CASE_NOT_FOUND", str(e))
        except CourtError as e:
            if is_retryable(e):
                retry_after = e.retry_after if isinstance(e, CourtRateLimited) else None
                await self._retry(claim, row, e.code, str(e), retry_after)
            else:
                await self._reject(claim, "COURT_REJECTED", str(e))
        else:
            await self._delivered(claim, court, case, ref, receipt)

    async def _load(self, filing_id: str) -> tuple[FilingRecord | None, list[FilingFile]]:
        async with self.store.session(read_only=True) as session:
            row = await session.get(FilingRecord, filing_id)
            files = await session.scalars(
                select(FilingFile).where(FilingFile.filing_id == filing_id).order_by(FilingFile.position)
            )
            return row, list(files)

    # -- 3. record -----------------------------------------------------------------------------------

    async def _delivered(
        self, claim: Claim, court: CourtConfig, case: Case, ref: PersonRef, receipt: FilingReceipt
    ) -> None:
        async with self.store.session() as session:
            row = await session.get(FilingRecord, claim.filing_id, with_for_update=True)
            if row is None or row.status != FilingStatus.SUBMITTED:
                return  # another round recorded the same receipt first
            row.status = FilingStatus.DELIVERED.value
            row.receipt_number = receipt.receipt_number
            row.delivered_at = receipt.received_at
            row.case_id = case.case_id
            row.filed_as = ref.kind.value
            row.claim_token = None
            row.last_error_code = row.last_error = None
            await notify(
                session,
                kind=NotificationKind.FILING_RECEIVED,
                court=court,
                case_number=row.case_number,
                recipients=panel_recipients(case),
                params={"title": row.title, "filer": row.filer_name},
                dedupe_key=f"filing:{row.id}:received",
                now=self.clock(),
            )
            await audit.append(
                session,
                actor=audit.SYSTEM_ACTOR,
                action="filing.delivered",
                subject_type="filing",
                subject_id=row.id,
                court_code=row.court_code,
                details={"receipt_number": receipt.receipt_number, "attempts": row.attempts},
            )
        log.info("filing %s delivered to %s: receipt %s", claim.filing_id, court.code, receipt.receipt_number)

    async def _reject(self, claim: Claim, code: str, detail: str) -> None:
        async with self.store.session() as session:
            row = await session.get(FilingRecord, claim.filing_id, with_for_update=True)
            if row is None or row.status != FilingStatus.SUBMITTED:
                return
            row.status = FilingStatus.REJECTED.value
            row.claim_token = None
            row.last_error_code, row.last_error = code, REJECTIONS[code]
            await audit.append(
                session,
                actor=audit.SYSTEM_ACTOR,
                action="filing.rejected",
                subject_type="filing",
                subject_id=row.id,
                court_code=row.court_code,
                details={"reason": code, "detail": detail, "attempts": row.attempts},
            )
        log.warning("filing %s rejected (%s): %s", claim.filing_id, code, detail)

    async def _retry(
        self, claim: Claim, row: FilingRecord, code: str, detail: str, retry_after_s: float | None
    ) -> None:
        delay = retry_delay(
            row.attempts,
            base_s=self.settings.filing_retry_base_s,
            cap_s=self.settings.filing_retry_cap_s,
            retry_after_s=retry_after_s,
            rng=self.rng,
        )
        message = RETRY_MESSAGES.get(code, "delivery to {court} failed; it will be retried")
        async with self.store.session() as session:
            await session.execute(
                update(FilingRecord)
                .where(
                    FilingRecord.id == claim.filing_id,
                    FilingRecord.status == FilingStatus.SUBMITTED.value,
                    FilingRecord.claim_token == claim.token,  # a later claim (ours expired) owns it now
                )
                .values(
                    claim_token=None,
                    next_attempt_at=self.clock() + timedelta(seconds=delay),
                    last_error_code=code,
                    last_error=message.format(court=row.court_code),
                )
            )
        log.info("filing %s attempt %d failed (%s), next in %.1f s: %s", row.id, row.attempts, code, delay, detail)


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
