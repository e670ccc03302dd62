"""The signature outbox: deliver each stored signature to its court or platform exactly once
(``gateway.core.outbox``).

The court keeps the first signature per document and answers a repeated idempotency key with the same
receipt; the gateway marks a signature DELIVERED, notifies the signer (SIGNATURE_RECORDED) and audits
it in one transaction, then bumps the court's cache so its document lists show the signature. A court
that is down delays delivery; only a court that refuses the signature itself makes it REJECTED.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.model import IdentityKind, PersonRef, Signature, SignatureReceipt
from gateway.adapters.registry import AdapterRegistry
from gateway.cache import Cache
from gateway.config import Settings
from gateway.core.outbox import Failure, Outbox, RetryPolicy, court_adapter, utcnow
from gateway.core.runtime import Runtime
from gateway.notifications.service import NotificationKind, Recipient, notify, person_key
from gateway.store import Store
from gateway.store.signatures import SignatureRecord, SignatureStatus


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


class SignatureOutbox(Outbox[SignatureRecord, SignatureReceipt]):
    """A worker (``gateway.workers``): ``run_once`` delivers what is due and returns how many it tried."""

    name = "signatures"
    model = SignatureRecord
    pending = SignatureRecord.status == SignatureStatus.PENDING
    queued_at = SignatureRecord.signed_at
    audit_subject = "signature"

    def __init__(
        self,
        store: Store,
        registry: AdapterRegistry,
        cache: Cache,
        settings: Settings,
        policy: RetryPolicy,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(store, policy, courts=(a.court for a in registry), clock=clock)
        self.registry = registry
        self.cache = cache
        self.settings = settings

    @classmethod
    def from_services(cls, runtime: Runtime) -> SignatureOutbox:
        settings = runtime.settings
        policy = RetryPolicy(
            base_s=settings.signature_retry_base_s,
            cap_s=settings.signature_retry_cap_s,
            lease_s=settings.outbox_claim_lease_s,
        )
        return cls(runtime.store, runtime.registry, runtime.cache, settings, policy, clock=runtime.now)

    def court_of(self, row: SignatureRecord) -> str:
        return row.source_code  # where the signature goes: the serving court, or the platform

    async def deliver(self, row: SignatureRecord) -> SignatureReceipt:
        return await court_adapter(self.registry, row.source_code).sign_document(to_contract(row))

    async def delivered(self, session: AsyncSession, row: SignatureRecord, result: SignatureReceipt) -> dict[str, Any]:
        now = self.clock()
        row.status, row.delivered_at, row.court_signed_at = SignatureStatus.DELIVERED, now, result.signed_at
        row.last_error = None
        signer = PersonRef(IdentityKind(row.signer_kind), row.signer_number)
        await notify(
            session,
            kind=NotificationKind.SIGNATURE_RECORDED,
            court=self.settings.court(row.court_code),
            case_number=row.case_number,
            recipients=[Recipient(row.signer_name, row.signer_phone, person_key(signer))],
            params={"title": row.title},
            dedupe_key=f"signature:{row.id}",
            now=now,
        )
        return {"source_code": row.source_code, "court_signed_at": result.signed_at.isoformat()}

    async def failed(self, session: AsyncSession, row: SignatureRecord, failure: Failure) -> dict[str, Any]:
        row.last_error = f"{failure.code}: {failure.detail}"
        if failure.final:
            row.status = SignatureStatus.REJECTED
        return {"source_code": row.source_code, "error": row.last_error}

    async def committed(self, row: SignatureRecord, result: SignatureReceipt) -> None:
        await self.cache.bump(row.source_code)  # its document lists now show the signature
