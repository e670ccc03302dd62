"""The SMS worker: delivers the outbox's due texts through the provider (``gateway.core.outbox``).

What is particular to texts: a claimed row is marked SENDING (a SENDING row whose lease ran out is
claimed again); at most ``rate_limit`` texts go to one phone in any ``rate_window_s``, and the rest are
deferred, not claimed, to when the window lets them through (never dropped); on PostgreSQL a per-phone
advisory try-lock makes two workers claiming at the same moment count each other's texts. A failed send
goes back to PENDING after a backoff, and is FAILED after ``max_attempts``. A worker killed between
sending and recording leaves a SENDING row that is sent again when its lease runs out: with the same
idempotency key (``sms-<id>``), which the HTTP provider passes on so the gateway can drop a duplicate.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.config import Settings
from gateway.core.outbox import Failure, Outbox, RetryPolicy, utcnow
from gateway.notifications.sms_providers import OutgoingSms, SmsDeliveryError, SmsProvider, provider_from_settings
from gateway.store import Store
from gateway.store.notifications import SmsMessage, SmsStatus

log = logging.getLogger("gateway.sms")

WORKER_NAME = "sms"
#: pg_try_advisory_xact_lock namespace of the per-phone claim locks ("sms")
PHONE_LOCK_NAMESPACE = 0x736D73


@dataclass(frozen=True)
class DeliveryPolicy(RetryPolicy):
    """The engine's retry policy, SMS defaults, and the per-phone rate limit."""

    base_s: float = 10.0
    cap_s: float = 1800.0
    max_attempts: int | None = 6
    rate_limit: int = 5  # texts per phone per window
    rate_window_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            max_attempts=settings.sms_max_attempts,
            base_s=settings.sms_retry_base_s,
            cap_s=settings.sms_retry_max_s,
            rate_limit=settings.sms_rate_limit,
            rate_window_s=settings.sms_rate_window_s,
            # a claim holds a row longer than any send can take (the HTTP provider's timeout)
            lease_s=max(settings.outbox_claim_lease_s, 4 * settings.sms_http_timeout_s),
        )


def outgoing(row: SmsMessage) -> OutgoingSms:
    return OutgoingSms(id=row.id, phone=row.phone, text=row.text, kind=row.kind, court_code=row.court_code)


class SmsWorker(Outbox[SmsMessage, str]):
    """Delivers the SMS outbox (a :class:`gateway.workers.Worker`)."""

    name = WORKER_NAME
    model = SmsMessage
    pending = SmsMessage.status.in_([SmsStatus.PENDING.value, SmsStatus.SENDING.value])
    queued_at = SmsMessage.created_at
    policy: DeliveryPolicy

    def __init__(
        self,
        store: Store,
        provider: SmsProvider,
        policy: DeliveryPolicy | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        rng: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(store, policy or DeliveryPolicy(), clock=clock, rng=rng)
        self.provider = provider

    @classmethod
    def from_settings(cls, store: Store, settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> SmsWorker:
        return cls(store, provider_from_settings(settings), DeliveryPolicy.from_settings(settings), clock=clock)

    def round(self) -> AbstractAsyncContextManager[object]:
        return self.provider  # one connection for the round's texts

    async def deliver(self, row: SmsMessage) -> str:
        try:
            return await self.provider.send(outgoing(row))
        except SmsDeliveryError as e:
            raise Failure("SMS_NOT_TAKEN", str(e) or type(e).__name__, final=False) from e

    async def delivered(self, session: AsyncSession, row: SmsMessage, result: str) -> None:
        row.status, row.sent_at, row.provider_message_id = SmsStatus.SENT.value, self.clock(), result

    async def failed(self, session: AsyncSession, row: SmsMessage, failure: Failure) -> None:
        row.status = (SmsStatus.FAILED if failure.final else SmsStatus.PENDING).value
        row.last_error = failure.detail

    async def admit(self, session: AsyncSession, rows: list[SmsMessage], now: datetime) -> list[SmsMessage]:
        """The rows within their phone's rate limit, marked SENDING; the others deferred to when their
        phone's window lets them through. Phones another worker is claiming for are left to it."""
        phones = await _lock_phones(session, sorted({r.phone for r in rows}))
        used, frees_at = await self._window_use(session, phones, [r.id for r in rows], now)
        admitted: list[SmsMessage] = []
        for row in (r for r in rows if r.phone in phones):
            if used[row.phone] < self.policy.rate_limit:
                used[row.phone] += 1
                row.status = SmsStatus.SENDING.value
                admitted.append(row)
            else:
                row.status, row.next_attempt_at = SmsStatus.PENDING.value, frees_at[row.phone]
        if deferred := sum(r.phone in phones for r in rows) - len(admitted):
            log.info("rate limit: %d texts deferred", deferred)
        return admitted

    async def _window_use(
        self, session: AsyncSession, phones: set[str], due_ids: list[int], now: datetime
    ) -> tuple[dict[str, int], dict[str, datetime]]:
        """Per phone: texts sent in the current window plus those in flight at other workers, and when
        the oldest of them leaves the window (the earliest a deferred text may go)."""
        window = timedelta(seconds=self.policy.rate_window_s)
        used = dict.fromkeys(phones, 0)
        frees_at = dict.fromkeys(phones, now + window)
        if not phones:
            return used, frees_at
        sent_recently = and_(SmsMessage.status == SmsStatus.SENT.value, SmsMessage.sent_at > now - window)
        in_flight = and_(SmsMessage.status == SmsStatus.SENDING.value, SmsMessage.next_attempt_at > now)
        counted: Any = await session.execute(
            select(SmsMessage.phone, func.count(), func.min(SmsMessage.sent_at))
            .where(SmsMessage.phone.in_(phones), or_(sent_recently, in_flight), SmsMessage.id.not_in(due_ids))
            .group_by(SmsMessage.phone)
        )
        for phone, count, oldest in counted:
            used[phone] = count
            if oldest is not None:
                frees_at[phone] = oldest + window
        return used, frees_at


async def _lock_phones(session: AsyncSession, phones: Sequence[str]) -> set[str]:
    """The phones this transaction may claim for: on PostgreSQL those whose advisory lock it got (held
    to commit; a phone another worker is claiming for is skipped, like its locked rows); SQLite's write
    lock already makes every claim exclusive."""
    if session.get_bind().dialect.name != "postgresql":
        return set(phones)
    locked = await session.execute(
        text("SELECT p FROM unnest(CAST(:phones AS text[])) AS p WHERE pg_try_advisory_xact_lock(:ns, hashtext(p))"),
        {"phones": list(phones), "ns": PHONE_LOCK_NAMESPACE},
    )
    return set(locked.scalars())
