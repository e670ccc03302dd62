"""The outbox engine: every write the gateway owes a court (or the SMS provider), delivered exactly once.

A filing, a signature, an approved binding or a text is stored before it is acknowledged; its row is
its outbox entry. A worker round (``Outbox.run_once``) then:

1. **Claims** what is due in one short transaction: rows that are pending with ``next_attempt_at``
   passed, which includes rows whose worker died mid-delivery once their lease ran out. Each claimed
   row gets ``attempts + 1`` and ``next_attempt_at`` a lease ahead before the transaction commits.
   PostgreSQL takes the rows ``FOR UPDATE SKIP LOCKED``, so concurrent gateway processes take disjoint
   rows; SQLite's write lock (every unit of work begins IMMEDIATE) serialises claimers instead.
2. **Delivers** each claimed row outside any transaction (a slow court must not hold the database's
   locks), concurrently, at most ``CourtConfig.concurrency`` at a time per court.
3. **Records** the outcome in its own transaction, fenced: only while the row is still pending with the
   attempt number taken at the claim. A worker whose lease ran out and whose row was claimed again
   records nothing; the new claim owns the row.

Invariants: the attempt number is the fence (it only grows, once per claim); the idempotency key the
court sees derives from the row's id, so a delivery repeated after a crash gets the first receipt; a
retryable failure waits a capped exponential backoff with jitter; a final failure (see :func:`classify`)
ends the row in its kind's visible terminal state with the reason, is logged at error level and is
never retried. The engine reads the time only through its injected ``clock``.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.errors import CourtAuthFailed, CourtError, CourtRateLimited, CourtUnavailable
from gateway.adapters.registry import AdapterRegistry
from gateway.adapters.resilience import ResilientAdapter
from gateway.config import CourtConfig
from gateway.store import Store, audit

log = logging.getLogger("gateway.outbox")

Row = TypeVar("Row")
Result = TypeVar("Result")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard and how fast an outbox tries (each kind builds its own from settings)."""

    base_s: float = 2.0
    cap_s: float = 600.0
    #: how long a claimed row is left alone while its delivery is under way
    lease_s: float = 120.0
    batch: int = 20
    #: after this many attempts a retryable failure is final too; None: retry until the court takes it
    max_attempts: int | None = None

    def delay(
        self, attempts: int, *, retry_after_s: float | None = None, rng: Callable[[], float] = random.random
    ) -> float:
        """Seconds to wait after the ``attempts``-th failure: doubling up to ``cap_s``, with "equal jitter"
        (half fixed, half random) so rows held up by one outage do not all return at the same instant;
        never sooner than a court's ``Retry-After``."""
        ceiling = min(self.cap_s, self.base_s * 2 ** min(max(attempts - 1, 0), 32))
        return max(ceiling / 2 + rng() * ceiling / 2, retry_after_s or 0.0)


@dataclass(eq=False)  # an exception keeps identity equality (and stays hashable)
class Failure(Exception):
    """Why one delivery failed, and whether trying again can help.

    ``code`` is machine-readable (a court error's code, or one of the engine's own); ``detail`` is the
    error's own text, for logs, audit and operators. Kinds raise it for outcomes of their own (a filer
    who is not in the case is final); :func:`classify` makes one from any other exception.
    """

    code: str
    detail: str
    final: bool
    retry_after_s: float | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


#: engine codes for failures that are not a court's
LOCAL_CONFLICT = "LOCAL_CONFLICT"  # the result breaks one of our own constraints: recording it never works
INVALID_RECORD = "INVALID_RECORD"  # the stored row cannot be mapped to what the court takes
INTERNAL_ERROR = "INTERNAL_ERROR"  # a bug or an unreadable answer: logged with its trace, retried


def classify(error: BaseException) -> Failure:
    """Final or retryable. A court that is down, slow, throttling or refusing our credentials (our
    configuration, not the row's fault) is retried; a court's refusal of the row itself, a row that
    cannot be mapped, and a local constraint violation are final; anything else is retried."""
    if isinstance(error, Failure):
        return error
    if isinstance(error, CourtError):
        retryable = error.retryable or isinstance(error, CourtAuthFailed)
        after = error.retry_after if isinstance(error, CourtRateLimited) else None
        return Failure(error.code, error.message, final=not retryable, retry_after_s=after)
    if isinstance(error, IntegrityError):
        return Failure(LOCAL_CONFLICT, str(error.orig).splitlines()[0][:300], final=True)
    if isinstance(error, ValueError):
        return Failure(INVALID_RECORD, str(error)[:300], final=True)
    return Failure(INTERNAL_ERROR, f"{type(error).__name__}: {error}"[:300], final=False)


def court_adapter(registry: AdapterRegistry, code: str) -> ResilientAdapter:
    """The court's adapter; a court this gateway does not know (yet) is retried as one that is down."""
    if code not in registry:
        raise CourtUnavailable(code, "not configured at this gateway")
    return registry[code]


@dataclass(frozen=True, slots=True)
class Claim(Generic[Row]):
    """One claimed row (a snapshot, detached from its session) and the fence its outcome must match."""

    row: Row
    fence: int  # the row's attempt number at the claim


class Outbox(abc.ABC, Generic[Row, Result]):
    """The engine, and the small interface each kind of outbox implements (a worker for
    ``gateway.workers``).

    A kind names its table (``model``, an ORM class with ``id``, ``attempts`` and ``next_attempt_at``)
    and which of its rows wait for delivery (``pending``), delivers one row (:meth:`deliver`), and
    records a success (:meth:`delivered`) and a failure (:meth:`failed`). The optional hooks have
    defaults that do nothing. ``clock``, ``rng`` and ``policy`` are plain attributes: tests move them.
    """

    name: str
    model: ClassVar[type[Any]]
    #: which rows wait for delivery (the engine adds "due"); also part of the fence when recording
    pending: ClassVar[ColumnElement[bool]]
    #: when a row joined the queue (the kind's own column): the age of the backlog's oldest row
    queued_at: ClassVar[Any]
    #: the audit subject type (None: no audit), and the actions of a success and of a final failure
    audit_subject: ClassVar[str | None] = None
    audit_actions: ClassVar[tuple[str, str]] = ("delivered", "rejected")

    def __init__(
        self,
        store: Store,
        policy: RetryPolicy,
        *,
        courts: Iterable[CourtConfig] = (),
        clock: Callable[[], datetime] = utcnow,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.policy = policy
        #: court code → deliveries it may have in flight at once (its ``concurrency``)
        self.limits: Mapping[str, int] = {c.code: c.concurrency for c in courts}
        self.clock = clock
        self.rng = rng

    # -- the kind's side ---------------------------------------------------------------------------

    @abc.abstractmethod
    async def deliver(self, row: Row) -> Result:
        """Make the court (or provider) call for one claimed row, with the row's idempotency key.

        Runs outside any transaction. Raise to fail: court errors are classified by :func:`classify`;
        raise :class:`Failure` for an outcome of the kind's own.
        """

    @abc.abstractmethod
    async def delivered(self, session: AsyncSession, row: Row, result: Result) -> dict[str, Any] | None:
        """Mark the live, fenced ``row`` delivered, with the kind's effects (notices), in ``session``.

        Returns the audit record's details (None: no audit record). An exception rolls it all back: a
        final one (a local constraint violated) ends the row through :meth:`failed`; any other leaves
        the claim to run out and the row to be delivered again, to the same receipt.
        """

    @abc.abstractmethod
    async def failed(self, session: AsyncSession, row: Row, failure: Failure) -> dict[str, Any] | None:
        """Record a failed attempt on the live, fenced ``row`` in ``session``: its error for everyone
        to see and, when ``failure.final``, its terminal state (the engine has already set the next
        attempt of a retryable one). Returns the audit details of a final failure (None: none)."""

    def court_of(self, row: Row) -> str | None:
        """The court this row's delivery calls, whose ``concurrency`` bounds deliveries in flight."""
        return None

    async def admit(self, session: AsyncSession, rows: list[Row], now: datetime) -> list[Row]:
        """Of the due rows, those to claim now, inside the claim's transaction (the SMS rate limit
        defers the others there). A kind may also mark the rows it admits."""
        return rows

    def round(self) -> AbstractAsyncContextManager[object]:
        """Spans one round's deliveries (the SMS provider's connection)."""
        return contextlib.nullcontext()

    async def committed(self, row: Row, result: Result) -> None:
        """After a success is committed (cache bumps: a reader must not re-cache the old state)."""

    # -- the engine ----------------------------------------------------------------------------------

    async def backlog(self) -> tuple[int, datetime | None]:
        """How many rows wait for delivery, and since when the oldest has waited (``/metrics``): one
        aggregate over the pending rows, which every kind's ``(pending column, next_attempt_at)`` index
        finds without reading the rest of the table."""
        table, queued_at = self.model, type(self).queued_at  # from the class: an instance would read it as a value
        query = select(func.count(table.id), func.min(queued_at)).where(self.pending)
        async with self.store.session(read_only=True) as session:
            rows, oldest = (await session.execute(query)).one()
        if isinstance(oldest, datetime) and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return int(rows), oldest

    async def run_once(self) -> int:
        """Claim what is due and deliver it; returns how many rows were attempted."""
        claims = await self.claim()
        if not claims:
            return 0
        gates: dict[str, asyncio.Semaphore] = {}

        async def bounded(claim: Claim[Row]) -> None:
            court = self.court_of(claim.row)
            if court is None or court not in self.limits:
                return await self.attempt(claim)
            async with gates.setdefault(court, asyncio.Semaphore(self.limits[court])):
                return await self.attempt(claim)

        async with self.round():
            await asyncio.gather(*(bounded(c) for c in claims))
        return len(claims)

    async def claim(self) -> list[Claim[Row]]:
        """Due rows, oldest first, leased to this round (see the module's docstring)."""
        now, table = self.clock(), self.model
        due = select(table).where(self.pending, table.next_attempt_at <= now)
        async with self.store.session(read_only=True) as session:  # most rounds find nothing: no write lock
            if await session.scalar(due.with_only_columns(table.id).limit(1)) is None:
                return []
        async with self.store.session() as session:
            query = due.order_by(table.next_attempt_at, table.id).limit(self.policy.batch)
            rows = list(await session.scalars(query.with_for_update(skip_locked=True)))
            claimed: list[Any] = await self.admit(session, rows, now) if rows else []
            for row in claimed:
                row.attempts += 1
                row.next_attempt_at = now + timedelta(seconds=self.policy.lease_s)
        return [Claim(row, row.attempts) for row in claimed]

    async def attempt(self, claim: Claim[Row]) -> None:
        """Deliver one claimed row and record the outcome; an outcome that cannot be recorded (the
        database is gone, or a bug) is logged and the row is delivered again when its lease runs out."""
        try:
            result = await self.deliver(claim.row)
        except Exception as error:
            if classify(error).code == INTERNAL_ERROR:
                log.error("%s %s: delivery failed unexpectedly", self.name, _id(claim), exc_info=error)
            outcome = self.record_failure(claim, error)
        else:
            outcome = self.record_delivery(claim, result)
        try:
            await outcome
        except Exception:
            log.exception("%s %s: outcome not recorded; delivered again when its lease runs out", self.name, _id(claim))

    async def record_delivery(self, claim: Claim[Row], result: Result) -> bool:
        """Record a success if ``claim`` still holds its row; False when the fence turned it away."""
        try:
            async with self.store.session() as session:
                row = await self._fenced(session, claim)
                if row is not None:
                    await self._audit(session, row, self.audit_actions[0], await self.delivered(session, row, result))
        except Exception as error:
            if not classify(error).final:
                raise
            return await self.record_failure(claim, error)
        if row is None:
            return False
        await self.committed(row, result)
        log.info("%s %s delivered (attempt %d)", self.name, _id(claim), claim.fence)
        return True

    async def record_failure(self, claim: Claim[Row], error: BaseException) -> bool:
        """Record a failed attempt if ``claim`` still holds its row: retried after a backoff, or ended
        for good (final, or the last of ``policy.max_attempts``). False when the fence turned it away."""
        failure, policy = classify(error), self.policy
        if not failure.final and policy.max_attempts is not None and claim.fence >= policy.max_attempts:
            failure = replace(failure, final=True)
        delay = policy.delay(claim.fence, retry_after_s=failure.retry_after_s, rng=self.rng)
        async with self.store.session() as session:
            row: Any = await self._fenced(session, claim)
            if row is None:
                return False
            if not failure.final:
                row.next_attempt_at = self.clock() + timedelta(seconds=delay)
            details = await self.failed(session, row, failure)
            if failure.final:
                await self._audit(session, row, self.audit_actions[1], details)
        if failure.final:
            log.error("%s %s failed for good after %d attempts: %s", self.name, _id(claim), claim.fence, failure)
        else:
            log.info("%s %s attempt %d failed, next in %.1f s: %s", self.name, _id(claim), claim.fence, delay, failure)
        return True

    async def _fenced(self, session: AsyncSession, claim: Claim[Row]) -> Row | None:
        table = self.model
        fenced = (table.id == _id(claim), table.attempts == claim.fence, self.pending)
        row = await session.scalar(select(table).where(*fenced).with_for_update())
        if row is None:
            log.warning("%s %s: claim %d lost before its outcome was recorded", self.name, _id(claim), claim.fence)
        return row

    async def _audit(self, session: AsyncSession, row: Any, action: str, details: dict[str, Any] | None) -> None:
        if self.audit_subject is None or details is None:
            return
        await audit.append(
            session,
            actor=audit.SYSTEM_ACTOR,
            action=f"{self.audit_subject}.{action}",
            subject_type=self.audit_subject,
            subject_id=row.id,
            court_code=row.court_code,
            details=details,
        )


def _id(claim: Claim[Any]) -> Any:
    return claim.row.id
