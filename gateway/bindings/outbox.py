"""The binding outbox: enter each approved lawyer at the case's court, exactly once (APPROVED → RECORDED).

Modelled on the signature outbox, and sharing its retry policy and its view of which court errors are
final: each round claims what is due by pushing its next attempt a lease ahead (a second gateway
process, or this one after a crash, leaves it alone until the lease runs out), calls the court outside
any transaction, then records the outcome. Exactly once rests on the idempotency key derived from the
application's id (the court answers a repeated key with the first receipt) and on the gateway marking
the binding RECORDED only if it is still QUEUED. A court that is down delays the entry with a growing
backoff; a court that refuses it for good leaves the binding APPROVED (the gateway still lists the case
for the applicant) with the reason kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import CursorResult, update

from gateway.adapters.errors import CourtAuthFailed, CourtError, CourtUnsupported
from gateway.adapters.model import Agent, AgentReceipt
from gateway.adapters.registry import AdapterRegistry
from gateway.bindings.service import SUBJECT, WORKER_NAME
from gateway.cache import Cache
from gateway.core.leases import claim_due
from gateway.documents.outbox import FINAL_ERRORS, RetryPolicy
from gateway.store import Store, audit
from gateway.store.bindings import BindingRecord, BindingStatus, CourtWrite

if TYPE_CHECKING:
    from gateway.context import Services

log = logging.getLogger("gateway.bindings")


def to_agent(record: BindingRecord) -> Agent:
    """The lawyer as every adapter takes them: acting for the client the power of attorney named."""
    return Agent(
        name=record.applicant_name,
        licence_number=record.applicant_number,
        firm=record.applicant_firm or "",
        client_id_number=record.client_id_number or "",
        phone=record.applicant_phone,
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


class BindingOutbox:
    """A worker (``gateway.workers``): ``run_once`` delivers what is due and returns how many it tried."""

    name = WORKER_NAME

    def __init__(
        self,
        store: Store,
        registry: AdapterRegistry,
        cache: Cache,
        policy: RetryPolicy,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.store = store
        self.registry = registry
        self.cache = cache
        self.policy = policy
        #: "now" for claims and backoff; tests run rounds at simulated times
        self.clock = clock

    @classmethod
    def from_services(cls, services: Services) -> BindingOutbox:
        settings = services.settings
        policy = RetryPolicy(base_s=settings.binding_retry_base_s, cap_s=settings.binding_retry_cap_s)
        # the services' clock, looked up each time: tests that move it move the outbox too
        return cls(services.store, services.registry, services.cache, policy, clock=lambda: services.clock())

    async def run_once(self) -> int:
        claimed = await self._claim()
        for record in claimed:
            await self.deliver(record)
        return len(claimed)

    async def _claim(self) -> list[BindingRecord]:
        """Due entries, leased to this round (PostgreSQL: rows another process holds are skipped)."""
        pending = BindingRecord.court_write == CourtWrite.QUEUED
        policy = self.policy
        return await claim_due(
            self.store, BindingRecord, pending, now=self.clock(), batch=policy.batch, lease_s=policy.lease_s
        )

    async def deliver(self, record: BindingRecord) -> None:
        """One attempt at one claimed entry, and its outcome recorded."""
        try:
            adapter = self.registry[record.court_code]
            receipt = await adapter.add_agent(record.case_id, to_agent(record), idempotency_key=record.idempotency_key)
        except CourtUnsupported as e:
            await self._final(record, CourtWrite.UNSUPPORTED, f"{e.code}: {e.message}")
        except FINAL_ERRORS as e:
            if isinstance(e, CourtAuthFailed):  # our credentials, not the entry: fix the config, retry
                await self._retry(record, f"{e.code}: {e.message}")
            else:
                await self._final(record, CourtWrite.REFUSED, f"{e.code}: {e.message}")
        except CourtError as e:
            await self._retry(record, f"{e.code}: {e.message}")
        except KeyError:
            await self._retry(record, f"no court {record.court_code} is configured")
        except Exception as e:  # a bug or an unreadable answer: keep the entry, try again later
            log.exception("entering binding %s at %s failed unexpectedly", record.id, record.court_code)
            await self._retry(record, f"internal error: {type(e).__name__}")
        else:
            await self._recorded(record, receipt)

    async def _recorded(self, record: BindingRecord, receipt: AgentReceipt) -> None:
        async with self.store.session() as session:
            changed: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
                update(BindingRecord)
                .where(BindingRecord.id == record.id, BindingRecord.court_write == CourtWrite.QUEUED)
                .values(
                    status=BindingStatus.RECORDED,
                    court_write=CourtWrite.RECORDED,
                    recorded_at=receipt.recorded_at,
                    next_attempt_at=None,
                    last_error=None,
                )
            )
            if changed.rowcount != 1:  # another round recorded it first
                return
            await audit.append(
                session,
                actor=audit.SYSTEM_ACTOR,
                action="binding.recorded",
                subject_type=SUBJECT,
                subject_id=record.id,
                court_code=record.court_code,
                details={
                    "case_number": record.case_number,
                    "licence_number": receipt.licence_number,
                    "recorded_at": receipt.recorded_at.isoformat(),
                    "attempts": record.attempts,
                },
            )
        await self.cache.bump(record.court_code)  # the lawyer's own list at the court now has the case
        log.info("binding %s recorded at %s", record.id, record.court_code)

    async def _retry(self, record: BindingRecord, error: str) -> None:
        delay = self.policy.delay(record.attempts)
        log.info("binding %s: attempt %d failed (%s); next in %.1f s", record.id, record.attempts, error, delay)
        async with self.store.session() as session:
            await session.execute(
                update(BindingRecord)
                .where(BindingRecord.id == record.id, BindingRecord.court_write == CourtWrite.QUEUED)
                .values(next_attempt_at=self.clock() + timedelta(seconds=delay), last_error=error)
            )

    async def _final(self, record: BindingRecord, outcome: str, error: str) -> None:
        """The court will never take it: the binding stays APPROVED (and listed by the gateway)."""
        log.warning("binding %s not recorded at %s: %s", record.id, record.court_code, error)
        async with self.store.session() as session:
            changed: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
                update(BindingRecord)
                .where(BindingRecord.id == record.id, BindingRecord.court_write == CourtWrite.QUEUED)
                .values(court_write=outcome, next_attempt_at=None, last_error=error)
            )
            if changed.rowcount == 1:
                await audit.append(
                    session,
                    actor=audit.SYSTEM_ACTOR,
                    action="binding.not_recorded",
                    subject_type=SUBJECT,
                    subject_id=record.id,
                    court_code=record.court_code,
                    details={"outcome": outcome, "error": error},
                )
