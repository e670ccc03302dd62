"""The binding outbox: enter each approved lawyer at the case's court, exactly once (APPROVED → RECORDED),
over ``gateway.core.outbox``.

The court answers a repeated idempotency key (derived from the application's id) with the first
receipt; the gateway marks the binding RECORDED only while its court write is still QUEUED, audits it,
then bumps the court's cache so the lawyer's own case list at the court shows the case. A court that
is down delays the entry; a court that refuses it for good, or cannot enter lawyers at all, leaves the
binding APPROVED (the gateway still lists the case for the applicant) with the reason kept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.errors import CourtUnsupported
from gateway.adapters.model import Agent, AgentReceipt
from gateway.adapters.registry import AdapterRegistry
from gateway.bindings import cached
from gateway.bindings.service import SUBJECT, WORKER_NAME
from gateway.cache import Cache
from gateway.core.outbox import Failure, Outbox, RetryPolicy, court_adapter, utcnow
from gateway.core.runtime import Runtime
from gateway.store import Store
from gateway.store.bindings import BindingRecord, BindingStatus, CourtWrite


def to_agent(record: BindingRecord) -> Agent:
    """The lawyer as every adapter takes them: acting for the client the power of attorney named."""
    return Agent(
        name=record.applicant_name,
        licence_number=record.applicant_number,
        firm=record.applicant_firm or "",
        client_id_number=record.client_id_number or "",
        phone=record.applicant_phone,
    )


class BindingOutbox(Outbox[BindingRecord, AgentReceipt]):
    """A worker (``gateway.workers``): ``run_once`` delivers what is due and returns how many it tried."""

    name = WORKER_NAME
    model = BindingRecord
    pending = BindingRecord.court_write == CourtWrite.QUEUED
    queued_at = BindingRecord.decided_at
    audit_subject = SUBJECT
    audit_actions = ("recorded", "not_recorded")

    def __init__(
        self,
        store: Store,
        registry: AdapterRegistry,
        cache: Cache,
        policy: RetryPolicy,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(store, policy, courts=(a.court for a in registry), clock=clock)
        self.registry = registry
        self.cache = cache

    @classmethod
    def from_services(cls, runtime: Runtime) -> BindingOutbox:
        settings = runtime.settings
        policy = RetryPolicy(
            base_s=settings.binding_retry_base_s,
            cap_s=settings.binding_retry_cap_s,
            lease_s=settings.outbox_claim_lease_s,
        )
        # the runtime's clock, looked up each time: tests that move it move the outbox too
        return cls(runtime.store, runtime.registry, runtime.cache, policy, clock=lambda: runtime.clock())

    def court_of(self, row: BindingRecord) -> str:
        return row.court_code

    async def deliver(self, row: BindingRecord) -> AgentReceipt:
        adapter = court_adapter(self.registry, row.court_code)
        return await adapter.add_agent(row.case_id, to_agent(row), idempotency_key=row.idempotency_key)

    async def delivered(self, session: AsyncSession, row: BindingRecord, result: AgentReceipt) -> dict[str, Any]:
        row.status, row.court_write, row.recorded_at = BindingStatus.RECORDED, CourtWrite.RECORDED, result.recorded_at
        row.next_attempt_at = row.last_error = None
        return {
            "case_number": row.case_number,
            "licence_number": result.licence_number,
            "recorded_at": result.recorded_at.isoformat(),
            "attempts": row.attempts,
        }

    async def failed(self, session: AsyncSession, row: BindingRecord, failure: Failure) -> dict[str, Any]:
        row.last_error = f"{failure.code}: {failure.detail}"
        if failure.final:
            unsupported = failure.code == CourtUnsupported.code
            row.court_write = CourtWrite.UNSUPPORTED if unsupported else CourtWrite.REFUSED
            row.next_attempt_at = None
        return {"outcome": row.court_write, "error": row.last_error}

    async def committed(self, row: BindingRecord, result: AgentReceipt) -> None:
        await cached.changed(self.cache, row.applicant_subject)  # the binding is RECORDED now
        await self.cache.bump(row.court_code)  # the lawyer's own list at the court now has the case
