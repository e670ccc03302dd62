"""The SMS worker: delivers the outbox's due messages through the provider, each exactly once per claim.

One round (``run_once``):

1. **Claim**, in one short transaction: the due rows (PENDING, or SENDING whose claim lease ran out
   because its worker died), ``FOR UPDATE SKIP LOCKED`` so concurrent gateway processes take disjoint
   rows (on SQLite the transaction's write lock serialises claims instead). Each claimed row is marked
   SENDING with a lease and ``attempts + 1`` before the transaction commits, so no other worker can
   take it while it is being sent. Rows over their phone's rate limit are not claimed: they are
   deferred to when the limit lets them through (never dropped). On PostgreSQL a per-phone advisory
   try-lock makes two workers that claim at the same moment count each other's messages.
2. **Send** outside any transaction (a slow provider must not hold the database's locks).
3. **Record** each result in its own transaction, fenced by the attempt number taken at the claim:
   SENT; or PENDING again after an exponential backoff with jitter; or FAILED after the last attempt.

A worker killed between sending and recording leaves a SENDING row whose lease runs out and which is
sent again: at least once, with the same idempotency key, which the HTTP provider passes on.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Row, and_, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.config import Settings
from gateway.notifications.sms_providers import OutgoingSms, SmsDeliveryError, SmsProvider, provider_from_settings
from gateway.store import Store
from gateway.store.notifications import SmsMessage, SmsStatus

log = logging.getLogger("gateway.sms")

WORKER_NAME = "sms"
#: pg_try_advisory_xact_lock namespace of the per-phone claim locks ("sms")
PHONE_LOCK_NAMESPACE = 0x736D73


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard and how fast the worker tries."""

    max_attempts: int = 6
    retry_base_s: float = 10.0
    retry_max_s: float = 1800.0
    rate_limit: int = 5  # texts per phone per window
    rate_window_s: float = 60.0
    batch_size: int = 20
    #: how long a claim holds a row; longer than any send can take (the HTTP provider's timeout)
    lease_s: float = 120.0

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            max_attempts=settings.sms_max_attempts,
            retry_base_s=settings.sms_retry_base_s,
            retry_max_s=settings.sms_retry_max_s,
            rate_limit=settings.sms_rate_limit,
            rate_window_s=settings.sms_rate_window_s,
            lease_s=max(120.0, 4 * settings.sms_http_timeout_s),
        )

    def backoff(self, attempts: int, rng: random.Random) -> timedelta:
        """The wait after the ``attempts``-th failure: doubling from the base up to the cap, half of it
        random ("equal jitter"), so the texts held up by a provider outage do not all return at once."""
        ceiling = min(self.retry_max_s, self.retry_base_s * 2 ** (attempts - 1))
        return timedelta(seconds=ceiling / 2 + rng.uniform(0, ceiling / 2))


@dataclass(frozen=True)
class Claim:
    message: OutgoingSms
    attempt: int  # the fencing token: results are recorded only while the row still has it


class SmsWorker:
    """Delivers the SMS outbox (a :class:`gateway.workers.Worker`)."""

    name = WORKER_NAME

    def __init__(
        self,
        store: Store,
        provider: SmsProvider,
        policy: DeliveryPolicy | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.provider = provider
        self.policy = policy or DeliveryPolicy()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.rng = rng or random.Random()

    @classmethod
    def from_settings(cls, store: Store, settings: Settings) -> SmsWorker:
        return cls(store, provider_from_settings(settings), DeliveryPolicy.from_settings(settings))

    async def run_once(self) -> int:
        """Send what is due now; how many messages were attempted (deferred ones do not count)."""
        claims = await self.claim()
        if not claims:
            return 0
        async with self.provider:
            await asyncio.gather(*(self._deliver(c) for c in claims))
        return len(claims)

    # -- 1. claim --------------------------------------------------------------------------------------

    async def claim(self) -> list[Claim]:
        now = self.clock()
        policy = self.policy
        is_due = and_(
            SmsMessage.status.in_([SmsStatus.PENDING.value, SmsStatus.SENDING.value]), SmsMessage.next_attempt_at <= now
        )
        async with self.store.session(read_only=True) as session:  # most rounds find nothing: no write lock
            if await session.scalar(select(SmsMessage.id).where(is_due).limit(1)) is None:
                return []
        async with self.store.session() as session:
            due = (
                await session.execute(
                    select(SmsMessage.id, SmsMessage.phone, SmsMessage.text, SmsMessage.kind, SmsMessage.court_code)
                    .add_columns(SmsMessage.attempts)
                    .where(is_due)
                    .order_by(SmsMessage.next_attempt_at, SmsMessage.id)
                    .limit(policy.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not due:
                return []
            phones = await _lock_phones(session, sorted({r.phone for r in due}))
            used, frees_at = await self._window_use(session, phones, [r.id for r in due], now)
            claims: list[Claim] = []
            deferred: dict[datetime, list[int]] = {}
            for row in due:
                if row.phone not in phones:
                    continue  # another worker is claiming this phone's texts right now
                if used[row.phone] < policy.rate_limit:
                    used[row.phone] += 1
                    claims.append(Claim(_outgoing(row), row.attempts + 1))
                else:
                    deferred.setdefault(frees_at[row.phone], []).append(row.id)
            if claims:
                await session.execute(
                    update(SmsMessage)
                    .where(SmsMessage.id.in_([c.message.id for c in claims]))
                    .values(
                        status=SmsStatus.SENDING.value,
                        attempts=SmsMessage.attempts + 1,
                        next_attempt_at=now + timedelta(seconds=policy.lease_s),
                    )
                )
            for when, ids in deferred.items():
                await session.execute(
                    update(SmsMessage)
                    .where(SmsMessage.id.in_(ids))
                    .values(status=SmsStatus.PENDING.value, next_attempt_at=when)
                )
        if deferred:
            log.info("rate limit: %d texts deferred", sum(map(len, deferred.values())))
        return claims

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
        rows = await session.execute(
            select(SmsMessage.phone, func.count(), func.min(SmsMessage.sent_at))
            .where(SmsMessage.phone.in_(phones), or_(sent_recently, in_flight), SmsMessage.id.not_in(due_ids))
            .group_by(SmsMessage.phone)
        )
        for phone, count, oldest in rows:
            used[phone] = count
            if oldest is not None:
                frees_at[phone] = oldest + window
        return used, frees_at

    # -- 2. send, 3. record ----------------------------------------------------------------------------

    async def _deliver(self, claim: Claim) -> None:
        try:
            provider_id = await self.provider.send(claim.message)
        except SmsDeliveryError as e:
            await self._failed(claim, str(e) or type(e).__name__)
        except Exception as e:  # a provider bug must not strand the row in SENDING
            log.exception("SMS provider %s failed on message %d", self.provider.name, claim.message.id)
            await self._failed(claim, f"{type(e).__name__}: {e}")
        else:
            await self._record(claim, status=SmsStatus.SENT, sent_at=self.clock(), provider_message_id=provider_id)

    async def _failed(self, claim: Claim, error: str) -> None:
        if claim.attempt >= self.policy.max_attempts:
            log.warning("SMS %d failed for good after %d attempts: %s", claim.message.id, claim.attempt, error)
            await self._record(claim, status=SmsStatus.FAILED, last_error=error)
            return
        retry_at = self.clock() + self.policy.backoff(claim.attempt, self.rng)
        await self._record(claim, status=SmsStatus.PENDING, next_attempt_at=retry_at, last_error=error)

    async def _record(self, claim: Claim, *, status: SmsStatus, **values: object) -> None:
        async with self.store.session() as session:
            result = await session.execute(
                update(SmsMessage)
                .where(
                    SmsMessage.id == claim.message.id,
                    SmsMessage.status == SmsStatus.SENDING.value,
                    SmsMessage.attempts == claim.attempt,
                )
                .values(status=status.value, **values)
            )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            log.warning("SMS %d: claim lost before its result (%s) was recorded", claim.message.id, status.value)


def _outgoing(row: Row[tuple[int, str, str, str, str | None, int]]) -> OutgoingSms:
    return OutgoingSms(id=row.id, phone=row.phone, text=row.text, kind=row.kind, court_code=row.court_code)


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
