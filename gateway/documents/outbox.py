"""The signature outbox: deliver each stored signature to its court or platform, exactly once.

Each round claims what is due by pushing its next attempt a lease ahead (so a second gateway process,
or this one after a crash, leaves it alone until the lease runs out), calls the court outside any
transaction, then records the outcome. Exactly once rests on two things: the court keeps the first
signature per document and answers a repeated idempotency key with the same receipt, and the gateway
marks a signature DELIVERED (and notifies the signer) only if it is still PENDING, in one transaction.
A court that is down delays delivery with a growing backoff; it never loses a signature. Only a court
that refuses the signature itself (not the gateway, not its credentials) makes it REJECTED.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import CursorResult, update

from gateway.adapters.errors import CourtAuthFailed, CourtError, CourtRejected, NotFoundAtCourt, NotSupported
from gateway.adapters.model import IdentityKind, PersonRef, Signature, SignatureReceipt
from gateway.adapters.registry import AdapterRegistry
from gateway.cache import Cache
from gateway.config import Settings
from gateway.core.leases import claim_due
from gateway.notifications.service import NotificationKind, Recipient, notify, person_key
from gateway.store import Store, audit
from gateway.store.signatures import SignatureRecord, SignatureStatus

if TYPE_CHECKING:
    from gateway.context import Services

log = logging.getLogger("gateway.signatures")

#: errors that mean the court looked at this signature and will never take it
FINAL_ERRORS: tuple[type[CourtError], ...] = (CourtRejected, NotFoundAtCourt, NotSupported)


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff between attempts: ``base_s`` doubling up to ``cap_s``, with jitter in [50 %, 100 %]."""

    base_s: float = 2.0
    cap_s: float = 600.0
    #: how long a claimed signature is left alone while its delivery is under way
    lease_s: float = 120.0
    batch: int = 20

    def delay(self, attempts: int) -> float:
        raw = min(self.cap_s, self.base_s * 2 ** max(0, attempts - 1))
        return raw * random.uniform(0.5, 1.0)


def to_contract(record: SignatureRecord) -> Signature:
    """The signature as every adapter takes it; the idempotency key derives from the stored id."""
    return Signature(
        idempotency_key=record.idempotency_key,
        document_id=record.document_id,
        signer_name=record.signer_name,
        signer_id_number=record.signer_number,
        identity_level=record.identity_level,
        signed_at=record.signed_at,
        method=record.method,
    )


class SignatureOutbox:
    """A worker (``gateway.workers``): ``run_once`` delivers what is due and returns how many it tried."""

    name = "signatures"

    def __init__(
        self, store: Store, registry: AdapterRegistry, cache: Cache, settings: Settings, policy: RetryPolicy
    ) -> None:
        self.store = store
        self.registry = registry
        self.cache = cache
        self.settings = settings
        self.policy = policy

    @classmethod
    def from_services(cls, services: Services) -> SignatureOutbox:
        settings = services.settings
        policy = RetryPolicy(base_s=settings.signature_retry_base_s, cap_s=settings.signature_retry_cap_s)
        return cls(services.store, services.registry, services.cache, settings, policy)

    async def run_once(self) -> int:
        claimed = await self._claim()
        for record in claimed:
            await self.deliver(record)
        return len(claimed)

    async def _claim(self) -> list[SignatureRecord]:
        """Due signatures, leased to this round (PostgreSQL: rows another process holds are skipped)."""
        pending = SignatureRecord.status == SignatureStatus.PENDING
        policy = self.policy
        return await claim_due(
            self.store, SignatureRecord, pending, now=datetime.now(UTC), batch=policy.batch, lease_s=policy.lease_s
        )

    async def deliver(self, record: SignatureRecord) -> None:
        """One attempt at one claimed signature, and its outcome recorded."""
        try:
            receipt = await self.registry[record.source_code].sign_document(to_contract(record))
        except FINAL_ERRORS as e:
            if isinstance(e, CourtAuthFailed):  # our credentials, not the signature: fix the config, retry
                await self._retry(record, f"{e.code}: {e.message}")
            else:
                await self._reject(record, f"{e.code}: {e.message}")
        except CourtError as e:
            await self._retry(record, f"{e.code}: {e.message}")
        except KeyError:
            await self._retry(record, f"no backend {record.source_code} is configured")
        except Exception as e:  # a bug or an unreadable answer: keep the signature, try again later
            log.exception("delivering signature %s failed unexpectedly", record.id)
            await self._retry(record, f"internal error: {type(e).__name__}")
        else:
            await self._delivered(record, receipt)

    async def _delivered(self, record: SignatureRecord, receipt: SignatureReceipt) -> None:
        now = datetime.now(UTC)
        async with self.store.session() as session:
            changed: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
                update(SignatureRecord)
                .where(SignatureRecord.id == record.id, SignatureRecord.status == SignatureStatus.PENDING)
                .values(
                    status=SignatureStatus.DELIVERED,
                    delivered_at=now,
                    court_signed_at=receipt.signed_at,
                    last_error=None,
                )
            )
            if changed.rowcount != 1:  # rowcount is set for UPDATE; another round recorded it first
                return
            await audit.append(
                session,
                actor=audit.SYSTEM_ACTOR,
                action="signature.delivered",
                subject_type="signature",
                subject_id=record.id,
                court_code=record.court_code,
                details={"source_code": record.source_code, "court_signed_at": receipt.signed_at.isoformat()},
            )
            signer = PersonRef(IdentityKind(record.signer_kind), record.signer_number)
            await notify(
                session,
                kind=NotificationKind.SIGNATURE_RECORDED,
                court=self.settings.court(record.court_code),
                case_number=record.case_number,
                recipients=[Recipient(record.signer_name, record.signer_phone, person_key(signer))],
                params={"title": record.title},
                dedupe_key=f"signature:{record.id}",
                now=now,
            )
        await self.cache.bump(record.source_code)  # its document lists now show the signature
        log.info("signature %s delivered to %s", record.id, record.source_code)

    async def _retry(self, record: SignatureRecord, error: str) -> None:
        delay = self.policy.delay(record.attempts)
        log.info("signature %s: attempt %d failed (%s); next in %.1f s", record.id, record.attempts, error, delay)
        async with self.store.session() as session:
            await session.execute(
                update(SignatureRecord)
                .where(SignatureRecord.id == record.id, SignatureRecord.status == SignatureStatus.PENDING)
                .values(next_attempt_at=datetime.now(UTC) + timedelta(seconds=delay), last_error=error)
            )

    async def _reject(self, record: SignatureRecord, error: str) -> None:
        log.warning("signature %s rejected by %s: %s", record.id, record.source_code, error)
        async with self.store.session() as session:
            changed: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
                update(SignatureRecord)
                .where(SignatureRecord.id == record.id, SignatureRecord.status == SignatureStatus.PENDING)
                .values(status=SignatureStatus.REJECTED, last_error=error)
            )
            if changed.rowcount == 1:
                await audit.append(
                    session,
                    actor=audit.SYSTEM_ACTOR,
                    action="signature.rejected",
                    subject_type="signature",
                    subject_id=record.id,
                    court_code=record.court_code,
                    details={"source_code": record.source_code, "error": error},
                )
