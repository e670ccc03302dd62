"""Resilience around one court's adapter: deadline, concurrency limit, retries and a circuit breaker.

Legacy court systems hang, refuse connections, throttle and fall over. The adapters only translate
protocols; this layer decides how long to wait, how often to try again and when to stop asking. Every
contract call goes through one path (``ResilientAdapter._call``):

1. the circuit breaker admits it, or it fails fast with ``CourtUnavailable`` (the court is known to be down);
2. one deadline (the court's ``deadline_ms``) covers everything that follows, waiting included, so a hung
   court costs at most its deadline and answers ``CourtTimeout``;
3. each attempt waits for one of the court's concurrency slots (protecting fragile backends);
4. retryable errors are retried with exponential backoff and full jitter, honouring a court's
   ``retry_after``, but never sleeping past the deadline.

The outcome feeds the breaker and the court's health, which ``health()`` reports without any I/O, and
is observed as a whole (``gateway.observability.courts``: a span, the call and latency series).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, TypeVar

from gateway import reads
from gateway.adapters.contract import CourtAdapter
from gateway.adapters.errors import (
    CourtAuthFailed,
    CourtError,
    CourtRateLimited,
    CourtTimeout,
    CourtUnavailable,
)
from gateway.adapters.model import (
    CHINA_TZ,
    Agent,
    AgentReceipt,
    Case,
    CaseFileVolume,
    CasePage,
    CaseScope,
    ChangePage,
    Filing,
    FilingReceipt,
    MaterialContent,
    PersonRef,
    ServedDocument,
    Signature,
    SignatureReceipt,
    Staff,
)
from gateway.config import CourtConfig
from gateway.observability.courts import court_call

log = logging.getLogger("gateway.resilience")

T = TypeVar("T")

#: errors that say the court itself is down or hung: the only ones the circuit breaker counts
OUTAGE_ERRORS: tuple[type[CourtError], ...] = (CourtUnavailable, CourtTimeout)
#: errors that say the court did not serve us (health counts these); the rest are answers about the request
UNHEALTHY_ERRORS: tuple[type[CourtError], ...] = (*OUTAGE_ERRORS, CourtRateLimited, CourtAuthFailed)

#: weight of the newest sample in the latency moving average
LATENCY_ALPHA = 0.2


@dataclass(frozen=True, slots=True)
class ResiliencePolicy:
    """How patient to be with one court. ``deadline_s=None`` takes the court's configured ``deadline_ms``."""

    deadline_s: float | None = None
    max_attempts: int = 3
    backoff_base_s: float = 0.05
    backoff_cap_s: float = 1.0
    failure_threshold: int = 5
    reset_timeout_s: float = 5.0
    #: a court with a failure this recent is reported DEGRADED, even if its last call succeeded
    degraded_window_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.failure_threshold < 1:
            raise ValueError("max_attempts and failure_threshold must be at least 1")
        if self.deadline_s is not None and self.deadline_s <= 0:
            raise ValueError("deadline_s must be positive")

    @classmethod
    def for_court(cls, court: CourtConfig, **changes: Any) -> ResiliencePolicy:
        """The default policy with the court's own deadline filled in (``changes`` override fields)."""
        return cls(**{"deadline_s": court.deadline_ms / 1000, **changes})

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base·2^(attempt-1))], so retrying callers spread out."""
        return random.uniform(0.0, min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempt - 1)))


class BreakerState(StrEnum):
    CLOSED = "CLOSED"  # calls go through
    OPEN = "OPEN"  # calls fail fast until reset_timeout has passed
    HALF_OPEN = "HALF_OPEN"  # one probe call goes through; its outcome closes or reopens the breaker


class CircuitBreaker:
    """Stops calling a court that keeps failing, and probes it now and then to notice its return.

    Callers ``admit()`` a call and report its outcome with the epoch they got. The epoch changes each
    time the breaker opens, so a slow call admitted before the breaker opened cannot close it again (or
    steal the probe's verdict) when it finally finishes.
    """

    def __init__(
        self,
        court_code: str,
        *,
        failure_threshold: int = 5,
        reset_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.court_code = court_code
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self.consecutive_failures = 0
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._epoch = 0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        """The state now: an OPEN breaker whose reset timeout has passed reads as HALF_OPEN."""
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.reset_timeout_s:
            return BreakerState.HALF_OPEN
        return self._state

    def probe_in(self) -> float | None:
        """Seconds until an OPEN breaker lets a probe through (when asking again may succeed); None otherwise."""
        if self._state is not BreakerState.OPEN:
            return None
        return max(0.0, self.reset_timeout_s - (self._clock() - self._opened_at))

    def admit(self) -> int | None:
        """The epoch of an admitted call, or None: fail fast (OPEN, or a HALF_OPEN probe is already out)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return self._epoch
        if state is BreakerState.OPEN or self._probing:
            return None
        if self._state is BreakerState.OPEN:
            log.info("%s: circuit half-open, probing", self.court_code)
            self._state = BreakerState.HALF_OPEN
        self._probing = True
        return self._epoch

    def on_success(self, epoch: int) -> None:
        """The court answered: forget past failures, close after a successful probe."""
        if epoch != self._epoch:
            return
        self.consecutive_failures = 0
        self._probing = False
        if self._state is not BreakerState.CLOSED:
            log.info("%s: circuit closed, the court answers again", self.court_code)
            self._state = BreakerState.CLOSED

    def on_failure(self, epoch: int) -> None:
        """The court is down or hung: open after enough failures in a row, or when the probe fails."""
        if epoch != self._epoch:
            return
        self.consecutive_failures += 1
        self._probing = False
        if self._state is BreakerState.HALF_OPEN or self.consecutive_failures >= self.failure_threshold:
            log.warning(
                "%s: circuit open after %d consecutive failures; failing fast for %.1f s",
                self.court_code,
                self.consecutive_failures,
                self.reset_timeout_s,
            )
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()
            self._epoch += 1

    def on_abandon(self, epoch: int) -> None:
        """The call ended without a verdict (cancelled by its caller): let another call probe."""
        if epoch == self._epoch:
            self._probing = False


HealthState = Literal["HEALTHY", "DEGRADED", "DOWN"]


@dataclass(frozen=True, slots=True)
class CourtHealth:
    """A snapshot of how one court has been answering: DOWN while its breaker is open."""

    court_code: str
    state: HealthState
    breaker_state: str  # CLOSED, OPEN, HALF_OPEN
    consecutive_failures: int  # outages in a row, as the breaker counts them
    last_error_code: str | None  # e.g. COURT_TIMEOUT
    last_error_at: datetime | None
    last_success_at: datetime | None
    latency_ms_ewma: float | None  # moving average over successful attempts
    calls: int  # calls admitted to the court (not counting those failed fast)
    failures: int  # calls that ended in an error counted by UNHEALTHY_ERRORS


class ResilientAdapter(CourtAdapter):
    """A court adapter wrapped in a deadline, a concurrency limit, retries and a circuit breaker.

    It is a ``CourtAdapter`` itself, so services cannot tell (and need not care) whether they hold a bare
    or a resilient adapter; the registry hands out only resilient ones.
    """

    def __init__(
        self,
        inner: CourtAdapter,
        *,
        policy: ResiliencePolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(inner.court)
        self.inner = inner
        self.max_page_size = inner.max_page_size
        policy = policy or ResiliencePolicy()
        if policy.deadline_s is None:
            policy = dataclasses.replace(policy, deadline_s=inner.court.deadline_ms / 1000)
        self.policy = policy
        self.breaker = CircuitBreaker(
            inner.court.code,
            failure_threshold=policy.failure_threshold,
            reset_timeout_s=policy.reset_timeout_s,
            clock=clock,
        )
        self._clock = clock
        self._slots = asyncio.Semaphore(inner.court.concurrency)
        self._calls = 0
        self._failures = 0
        self._last_failed = False
        self._last_failure_clock: float | None = None
        self._last_error_code: str | None = None
        self._last_error_at: datetime | None = None
        self._last_success_at: datetime | None = None
        self._latency_ms: float | None = None

    @property
    def supports_agent_writes(self) -> bool:  # type: ignore[override]  # the inner adapter's answer
        """Whether the wrapped adapter can enter a lawyer (no I/O)."""
        return self.inner.supports_agent_writes

    @property
    def deadline_s(self) -> float:
        assert self.policy.deadline_s is not None  # filled in by __init__
        return self.policy.deadline_s

    # -- the one path every call takes ----------------------------------------------------------

    async def _call(self, op: str, fn: Callable[[], Awaitable[T]], *, idempotent: bool) -> T:
        """Run ``fn`` under the breaker and the deadline, retrying what may be retried, and record the outcome."""
        reads.note_untracked("court")  # a court read outside the cache (gateway.reads)
        with court_call(self.court.slug, op):
            return await self._guarded(op, fn, idempotent=idempotent)

    async def _guarded(self, op: str, fn: Callable[[], Awaitable[T]], *, idempotent: bool) -> T:
        epoch = self.breaker.admit()
        if epoch is None:
            raise CourtUnavailable(self.court.code, "circuit open", retry_after=self.breaker.probe_in())
        self._calls += 1
        try:
            result = await self._attempts(op, fn, self.policy.max_attempts if idempotent else 1)
        except CourtError as error:
            self._record_error(epoch, error)
            raise
        except BaseException:
            self.breaker.on_abandon(epoch)
            raise
        self._record_success(epoch)
        return result

    async def _attempts(self, op: str, fn: Callable[[], Awaitable[T]], max_attempts: int) -> T:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.deadline_s) as scope:
                attempt = 1
                while True:
                    try:
                        return await self._attempt(fn)
                    except CourtError as error:
                        remaining = (scope.when() or 0.0) - loop.time()
                        delay = self._retry_delay(error, attempt, max_attempts, remaining)
                        if delay is None:
                            raise
                        log.info(
                            "%s %s: attempt %d/%d failed with %s, retrying in %.3f s",
                            self.court.code,
                            op,
                            attempt,
                            max_attempts,
                            error.code,
                            delay,
                        )
                        await asyncio.sleep(delay)
                        attempt += 1
        except TimeoutError:
            raise CourtTimeout(self.court.code, f"no answer within {self.deadline_s * 1000:.0f} ms") from None

    async def _attempt(self, fn: Callable[[], Awaitable[T]]) -> T:
        """One try in one of the court's slots; the adapter's own timeout is a CourtTimeout (and retryable)."""
        async with self._slots:
            started = time.perf_counter()
            try:
                result = await fn()
            except TimeoutError as exc:  # our own deadline arrives here as CancelledError, not TimeoutError
                raise CourtTimeout(self.court.code, "the adapter timed out") from exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        self._latency_ms = (
            elapsed_ms
            if self._latency_ms is None
            else LATENCY_ALPHA * elapsed_ms + (1 - LATENCY_ALPHA) * self._latency_ms
        )
        return result

    def _retry_delay(self, error: CourtError, attempt: int, max_attempts: int, remaining: float) -> float | None:
        """Seconds to wait before trying again, or None to give up with ``error`` now."""
        if not error.retryable or attempt >= max_attempts:
            return None
        if isinstance(error, CourtRateLimited) and error.retry_after is not None:
            delay = error.retry_after
        else:
            delay = self.policy.backoff(attempt)
        if delay >= remaining:
            log.info(
                "%s: not retrying %s, a %.3f s wait would outlast the deadline", self.court.code, error.code, delay
            )
            return None
        return delay

    def _record_success(self, epoch: int) -> None:
        self.breaker.on_success(epoch)
        self._last_failed = False
        self._last_success_at = datetime.now(CHINA_TZ)

    def _record_error(self, epoch: int, error: CourtError) -> None:
        """Outages count against the breaker; other errors are the court answering about the request."""
        if not isinstance(error, UNHEALTHY_ERRORS):  # a rejection or a NotFound is the court answering
            self._record_success(epoch)
            return
        if isinstance(error, OUTAGE_ERRORS):
            self.breaker.on_failure(epoch)
        else:  # throttling or refused credentials: the court is up, just not serving us
            self.breaker.on_success(epoch)
        self._failures += 1
        self._last_failed = True
        self._last_failure_clock = self._clock()
        self._last_error_code = error.code
        self._last_error_at = datetime.now(CHINA_TZ)

    # -- health ---------------------------------------------------------------------------------

    def health(self) -> CourtHealth:
        """How the court is doing, from what the gateway has seen; no I/O, cheap enough for every request."""
        breaker = self.breaker.state
        recent_failure = (
            self._last_failure_clock is not None
            and self._clock() - self._last_failure_clock < self.policy.degraded_window_s
        )
        state: HealthState
        if breaker is BreakerState.OPEN:
            state = "DOWN"
        elif breaker is BreakerState.HALF_OPEN or self._last_failed or recent_failure:
            state = "DEGRADED"
        else:
            state = "HEALTHY"
        return CourtHealth(
            court_code=self.court.code,
            state=state,
            breaker_state=breaker.value,
            consecutive_failures=self.breaker.consecutive_failures,
            last_error_code=self._last_error_code,
            last_error_at=self._last_error_at,
            last_success_at=self._last_success_at,
            latency_ms_ewma=self._latency_ms,
            calls=self._calls,
            failures=self._failures,
        )

    # -- the contract, each method one trip through _call -----------------------------------------

    async def list_cases(self, who: PersonRef, *, position: str | None = None, limit: int = 20) -> CasePage:
        return await self._call(
            "list_cases", lambda: self.inner.list_cases(who, position=position, limit=limit), idempotent=True
        )

    async def list_court_cases(self, scope: CaseScope, *, position: str | None = None, limit: int = 20) -> CasePage:
        return await self._call(
            "list_court_cases",
            lambda: self.inner.list_court_cases(scope, position=position, limit=limit),
            idempotent=True,
        )

    async def get_cases(self, case_ids: Sequence[str]) -> list[Case]:
        return await self._call("get_cases", lambda: self.inner.get_cases(case_ids), idempotent=True)

    async def find_case(self, case_number: str) -> Case | None:
        return await self._call("find_case", lambda: self.inner.find_case(case_number), idempotent=True)

    async def list_documents(self, who: PersonRef) -> list[ServedDocument]:
        return await self._call("list_documents", lambda: self.inner.list_documents(who), idempotent=True)

    async def list_volumes(self, case_id: str) -> list[CaseFileVolume]:
        return await self._call("list_volumes", lambda: self.inner.list_volumes(case_id), idempotent=True)

    async def read_material(self, case_id: str, material_id: str) -> MaterialContent:
        return await self._call(
            "read_material", lambda: self.inner.read_material(case_id, material_id), idempotent=True
        )

    async def changes(self, cursor: str | None) -> ChangePage:
        return await self._call("changes", lambda: self.inner.changes(cursor), idempotent=True)

    async def list_staff(self) -> list[Staff]:
        return await self._call("list_staff", self.inner.list_staff, idempotent=True)

    # writes are idempotent by key in our contract, so retrying them never makes a second record
    async def submit_filing(self, filing: Filing) -> FilingReceipt:
        return await self._call("submit_filing", lambda: self.inner.submit_filing(filing), idempotent=True)

    async def sign_document(self, signature: Signature) -> SignatureReceipt:
        return await self._call("sign_document", lambda: self.inner.sign_document(signature), idempotent=True)

    async def add_agent(self, case_id: str, agent: Agent, *, idempotency_key: str) -> AgentReceipt:
        return await self._call(
            "add_agent",
            lambda: self.inner.add_agent(case_id, agent, idempotency_key=idempotency_key),
            idempotent=True,
        )

    async def aclose(self) -> None:
        """Close the wrapped adapter (and with it its HTTP session)."""
        await self.inner.aclose()
