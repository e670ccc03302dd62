"""The resilience layer's mechanics, against a scripted inner adapter (no simulators, no network).

Breaker timing runs on a fake clock; only deadlines use real asyncio time, and those are kept short.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from gateway.adapters.contract import CourtAdapter
from gateway.adapters.errors import (
    CourtAuthFailed,
    CourtError,
    CourtRateLimited,
    CourtRejected,
    CourtTimeout,
    CourtUnavailable,
    CourtUnsupported,
    NotFoundAtCourt,
    NotSupported,
)
from gateway.adapters.model import Agent, CaseScope, PersonRef, Tier
from gateway.adapters.resilience import (
    BreakerState,
    CircuitBreaker,
    ResiliencePolicy,
    ResilientAdapter,
)
from gateway.config import CourtConfig

CODE = "粤0104"
WHO = PersonRef.party("440104199001011234")
#: a script step that never answers
HANG = object()


def court(deadline_ms: int = 300, concurrency: int = 8) -> CourtConfig:
    return CourtConfig(
        code=CODE,
        slug="yuexiu",
        name="广州市越秀区人民法院",
        short_name="越秀法院",
        tier=Tier.BASIC,
        family="jsonrpc-sign",
        base_url="http://127.0.0.1:1",
        deadline_ms=deadline_ms,
        concurrency=concurrency,
    )


class ScriptedAdapter(CourtAdapter):
    """Answers each call with the next script step: a value, an exception to raise, HANG, or an Event to wait on.

    When the script runs out every call returns ``default``. Records the operations called and the
    largest number of calls in flight at once.
    """

    max_page_size = 42

    def __init__(self, config: CourtConfig, *steps: object, default: object = "ok", delay_s: float = 0.0) -> None:
        super().__init__(config)
        self.steps: deque[object] = deque(steps)
        self.default = default
        self.delay_s = delay_s
        self.calls: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.closed = False
        self.entered = asyncio.Event()  # set once a call has reached this adapter

    async def _step(self, op: str) -> Any:
        self.calls.append(op)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.entered.set()
        try:
            step = self.steps.popleft() if self.steps else self.default
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if step is HANG:
                await asyncio.Event().wait()
            if isinstance(step, asyncio.Event):
                await step.wait()
                return "ok"
            if isinstance(step, BaseException):
                raise step
            return step
        finally:
            self.in_flight -= 1

    async def list_cases(self, who: PersonRef, *, position: str | None = None, limit: int = 20) -> Any:
        return await self._step("list_cases")

    async def list_court_cases(self, scope: CaseScope, *, position: str | None = None, limit: int = 20) -> Any:
        return await self._step("list_court_cases")

    async def get_cases(self, case_ids: Sequence[str]) -> Any:
        return await self._step("get_cases")

    async def find_case(self, case_number: str) -> Any:
        return await self._step("find_case")

    async def list_documents(self, who: PersonRef) -> Any:
        return await self._step("list_documents")

    async def list_volumes(self, case_id: str) -> Any:
        return await self._step("list_volumes")

    async def read_material(self, case_id: str, material_id: str) -> Any:
        return await self._step("read_material")

    async def changes(self, cursor: str | None) -> Any:
        return await self._step("changes")

    async def submit_filing(self, filing: Any) -> Any:
        return await self._step("submit_filing")

    async def sign_document(self, signature: Any) -> Any:
        return await self._step("sign_document")

    async def list_staff(self) -> Any:
        return await self._step("list_staff")

    async def add_agent(self, case_id: str, agent: Any, *, idempotency_key: str) -> Any:
        return await self._step("add_agent")

    async def aclose(self) -> None:
        self.closed = True


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def resilient(
    *steps: object,
    deadline_ms: int = 300,
    concurrency: int = 8,
    clock: Callable[[], float] = time.monotonic,
    delay_s: float = 0.0,
    **policy: Any,
) -> tuple[ResilientAdapter, ScriptedAdapter]:
    inner = ScriptedAdapter(court(deadline_ms, concurrency), *steps, delay_s=delay_s)
    defaults: dict[str, Any] = {"backoff_base_s": 0.01, "backoff_cap_s": 0.05}
    return ResilientAdapter(inner, policy=ResiliencePolicy(**{**defaults, **policy}), clock=clock), inner


async def fail(adapter: ResilientAdapter, error: type[CourtError]) -> CourtError:
    with pytest.raises(error) as caught:
        await adapter.list_cases(WHO)
    return caught.value


# -- the contract passes through -----------------------------------------------------------------

CALLS: dict[str, Callable[[CourtAdapter], Awaitable[object]]] = {
    "list_cases": lambda a: a.list_cases(WHO, position="p", limit=5),
    "list_court_cases": lambda a: a.list_court_cases(CaseScope(division="民一庭"), position="p", limit=5),
    "get_cases": lambda a: a.get_cases(["1", "2"]),
    "find_case": lambda a: a.find_case("（2023）粤0104民初123号"),
    "list_documents": lambda a: a.list_documents(WHO),
    "list_volumes": lambda a: a.list_volumes("1"),
    "read_material": lambda a: a.read_material("1", "m1"),
    "changes": lambda a: a.changes(None),
    "submit_filing": lambda a: a.submit_filing(object()),  # type: ignore[arg-type]
    "sign_document": lambda a: a.sign_document(object()),  # type: ignore[arg-type]
    "list_staff": lambda a: a.list_staff(),
    "add_agent": lambda a: a.add_agent(
        "1", Agent("周律师", "14401202010300999", "广东越秀律师事务所", "440104199001011234"), idempotency_key="k"
    ),
}


def test_every_abstract_method_of_the_contract_is_covered() -> None:
    """A method added to the contract must be wrapped (and listed here), or the wrapper would not compile."""
    assert set(CALLS) == set(CourtAdapter.__abstractmethods__)


@pytest.mark.parametrize("op", CALLS)
async def test_every_contract_method_delegates_and_retries(op: str) -> None:
    adapter, inner = resilient(CourtUnavailable(CODE), "answer")
    assert await CALLS[op](adapter) == "answer"
    assert inner.calls == [op, op]


async def test_wrapper_mirrors_the_inner_adapter_and_closes_it() -> None:
    inner = ScriptedAdapter(court(deadline_ms=1234, concurrency=3))
    async with ResilientAdapter(inner) as adapter:
        assert adapter.inner is inner
        assert adapter.court is inner.court
        assert adapter.max_page_size == 42
        assert adapter.deadline_s == pytest.approx(1.234)
    assert inner.closed


@pytest.mark.parametrize("supports", [True, False])
def test_wrapper_tells_whether_the_inner_adapter_can_enter_lawyers(supports: bool) -> None:
    inner = ScriptedAdapter(court())
    inner.supports_agent_writes = supports
    assert ResilientAdapter(inner).supports_agent_writes is supports


async def test_unsupported_is_final_and_not_an_outage() -> None:
    """A family without the operation answers at once; retrying it or opening the breaker would be wrong."""
    adapter, inner = resilient(*(CourtUnsupported(CODE) for _ in range(10)), failure_threshold=2)
    for _ in range(3):
        with pytest.raises(CourtUnsupported) as caught:
            await CALLS["add_agent"](adapter)
        assert isinstance(caught.value, NotSupported) and caught.value.code == "COURT_UNSUPPORTED"
    assert inner.calls == ["add_agent"] * 3, "never retried"
    health = adapter.health()
    assert (health.state, health.breaker_state, health.failures) == ("HEALTHY", "CLOSED", 0)


def test_policy_from_court_config() -> None:
    policy = ResiliencePolicy.for_court(court(deadline_ms=2500), max_attempts=5)
    assert policy.deadline_s == 2.5
    assert policy.max_attempts == 5
    assert policy.failure_threshold == 5
    with pytest.raises(ValueError):
        ResiliencePolicy(max_attempts=0)


# -- deadline ------------------------------------------------------------------------------------


async def test_hang_is_a_court_timeout_at_the_deadline() -> None:
    adapter, inner = resilient(HANG, deadline_ms=200)
    started = time.monotonic()
    error = await fail(adapter, CourtTimeout)
    elapsed = time.monotonic() - started
    assert error.court_code == CODE
    assert 0.19 <= elapsed < 0.2 + 0.3
    assert inner.calls == ["list_cases"]


async def test_the_deadline_covers_retries() -> None:
    """A first attempt that fails slowly leaves the retry only what is left of the deadline."""
    adapter, inner = resilient(CourtUnavailable(CODE), HANG, deadline_ms=200, delay_s=0.1)
    started = time.monotonic()
    await fail(adapter, CourtTimeout)
    assert time.monotonic() - started < 0.2 + 0.3
    assert len(inner.calls) == 2


async def test_the_adapters_own_timeout_is_a_retryable_court_timeout() -> None:
    adapter, inner = resilient(TimeoutError(), TimeoutError(), TimeoutError())
    error = await fail(adapter, CourtTimeout)
    assert error.court_code == CODE
    assert len(inner.calls) == 3


async def test_waiting_for_a_slot_counts_against_the_deadline() -> None:
    """Each call needs only 0.1 s of a 0.15 s deadline, but the second waits 0.1 s for the single slot first."""
    adapter, inner = resilient(deadline_ms=150, concurrency=1, delay_s=0.1)
    started = time.monotonic()
    first, second = await asyncio.gather(adapter.list_cases(WHO), adapter.list_cases(WHO), return_exceptions=True)
    assert first == "ok"
    assert isinstance(second, CourtTimeout)
    assert time.monotonic() - started < 0.15 + 0.1
    assert len(inner.calls) == 2


# -- retries -------------------------------------------------------------------------------------


async def test_retryable_errors_are_retried_until_success() -> None:
    adapter, inner = resilient(CourtUnavailable(CODE), CourtTimeout(CODE), "done")
    assert await adapter.list_cases(WHO) == "done"
    assert len(inner.calls) == 3


async def test_retries_stop_at_max_attempts_with_the_last_error() -> None:
    adapter, inner = resilient(*(CourtUnavailable(CODE, f"try {i}") for i in range(5)), max_attempts=3)
    error = await fail(adapter, CourtUnavailable)
    assert error.message == "try 2"
    assert len(inner.calls) == 3


@pytest.mark.parametrize(
    "error", [CourtRejected(CODE), CourtAuthFailed(CODE), NotFoundAtCourt(CODE), NotSupported(CODE)]
)
async def test_non_retryable_errors_are_raised_at_once(error: CourtError) -> None:
    adapter, inner = resilient(error, "never reached")
    started = time.monotonic()
    assert await fail(adapter, type(error)) is error
    assert time.monotonic() - started < 0.05
    assert len(inner.calls) == 1


async def test_rate_limited_waits_retry_after_then_succeeds() -> None:
    adapter, inner = resilient(CourtRateLimited(CODE, retry_after=0.05), "done", backoff_base_s=0.0)
    started = time.monotonic()
    assert await adapter.list_cases(WHO) == "done"
    assert time.monotonic() - started >= 0.05
    assert len(inner.calls) == 2


async def test_retry_after_beyond_the_deadline_gives_up_without_sleeping() -> None:
    adapter, inner = resilient(CourtRateLimited(CODE, retry_after=5.0), "never reached", deadline_ms=300)
    started = time.monotonic()
    error = await fail(adapter, CourtRateLimited)
    assert time.monotonic() - started < 0.1
    assert isinstance(error, CourtRateLimited) and error.retry_after == 5.0
    assert len(inner.calls) == 1


async def test_retries_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    adapter, _ = resilient(CourtUnavailable(CODE), "done")
    with caplog.at_level(logging.INFO, logger="gateway.resilience"):
        await adapter.list_cases(WHO)
    assert any(CODE in r.getMessage() and "retrying" in r.getMessage() for r in caplog.records)


# -- circuit breaker -----------------------------------------------------------------------------


async def open_breaker(adapter: ResilientAdapter, inner: ScriptedAdapter, threshold: int) -> None:
    inner.steps.extend(CourtUnavailable(CODE) for _ in range(threshold))
    for _ in range(threshold):
        await fail(adapter, CourtUnavailable)
    assert adapter.breaker.state is BreakerState.OPEN


async def test_breaker_opens_after_consecutive_outages_then_fails_fast(caplog: pytest.LogCaptureFixture) -> None:
    adapter, inner = resilient(max_attempts=1, failure_threshold=3, clock=FakeClock())
    with caplog.at_level(logging.WARNING, logger="gateway.resilience"):
        await open_breaker(adapter, inner, 3)
    assert any(r.levelno == logging.WARNING and CODE in r.getMessage() for r in caplog.records)
    called = len(inner.calls)
    error = await fail(adapter, CourtUnavailable)
    assert "circuit open" in error.message
    assert len(inner.calls) == called, "the inner adapter was not touched"


async def test_timeouts_count_and_other_errors_do_not() -> None:
    adapter, _ = resilient(
        CourtTimeout(CODE),
        CourtTimeout(CODE),
        CourtRejected(CODE),  # the court answered: the run of failures is broken
        CourtTimeout(CODE),
        CourtRateLimited(CODE),
        NotFoundAtCourt(CODE),
        NotSupported(CODE),
        max_attempts=1,
        failure_threshold=3,
        clock=FakeClock(),
    )
    for error in (CourtTimeout, CourtTimeout, CourtRejected, CourtTimeout, CourtRateLimited, NotFoundAtCourt):
        await fail(adapter, error)
    await fail(adapter, NotSupported)
    assert adapter.breaker.state is BreakerState.CLOSED
    assert adapter.breaker.consecutive_failures == 0


async def test_half_open_lets_exactly_one_probe_through_and_success_closes() -> None:
    clock = FakeClock()
    adapter, inner = resilient(max_attempts=1, failure_threshold=2, reset_timeout_s=5.0, clock=clock)
    await open_breaker(adapter, inner, 2)
    clock.advance(4.9)
    await fail(adapter, CourtUnavailable)  # still open
    clock.advance(0.2)
    assert adapter.breaker.state is BreakerState.HALF_OPEN

    release = asyncio.Event()
    inner.steps.append(release)
    before = len(inner.calls)
    inner.entered.clear()
    probe = asyncio.ensure_future(adapter.list_cases(WHO))
    await inner.entered.wait()  # the probe is inside the inner adapter
    others = await asyncio.gather(*(adapter.list_cases(WHO) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(e, CourtUnavailable) for e in others)
    assert len(inner.calls) == before + 1, "exactly one probe reached the court"

    release.set()
    assert await probe == "ok"
    assert adapter.breaker.state is BreakerState.CLOSED
    assert await adapter.list_cases(WHO) == "ok"


async def test_probe_failure_reopens_and_restarts_the_timer() -> None:
    clock = FakeClock()
    adapter, inner = resilient(max_attempts=1, failure_threshold=2, reset_timeout_s=5.0, clock=clock)
    await open_breaker(adapter, inner, 2)
    clock.advance(5.0)
    inner.steps.append(CourtTimeout(CODE))
    await fail(adapter, CourtTimeout)  # the probe
    assert adapter.breaker.state is BreakerState.OPEN
    clock.advance(4.0)
    assert adapter.breaker.state is BreakerState.OPEN, "the reset timer started again at the probe's failure"
    clock.advance(1.0)
    assert adapter.breaker.state is BreakerState.HALF_OPEN
    assert await adapter.list_cases(WHO) == "ok"
    assert adapter.breaker.state is BreakerState.CLOSED


async def test_a_cancelled_probe_lets_the_next_call_probe() -> None:
    clock = FakeClock()
    adapter, inner = resilient(max_attempts=1, failure_threshold=1, clock=clock)
    await open_breaker(adapter, inner, 1)
    clock.advance(5.0)
    inner.steps.append(HANG)
    inner.entered.clear()
    probe = asyncio.ensure_future(adapter.list_cases(WHO))
    await inner.entered.wait()
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert await adapter.list_cases(WHO) == "ok"
    assert adapter.breaker.state is BreakerState.CLOSED


def test_a_call_admitted_before_the_breaker_opened_cannot_close_it() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(CODE, failure_threshold=1, clock=clock)
    slow = breaker.admit()
    failing = breaker.admit()
    assert slow is not None and failing is not None
    breaker.on_failure(failing)
    breaker.on_success(slow)  # answered late, from before the breaker opened
    assert breaker.state is BreakerState.OPEN


# -- concurrency ---------------------------------------------------------------------------------


async def test_concurrency_is_bounded_per_court() -> None:
    adapter, inner = resilient(concurrency=2, delay_s=0.02)
    results = await asyncio.gather(*(adapter.list_cases(WHO) for _ in range(8)))
    assert results == ["ok"] * 8
    assert inner.max_in_flight == 2


# -- health --------------------------------------------------------------------------------------


async def test_health_goes_healthy_degraded_down_and_back() -> None:
    clock = FakeClock()
    adapter, inner = resilient(
        max_attempts=1, failure_threshold=3, reset_timeout_s=5.0, degraded_window_s=30.0, clock=clock
    )
    fresh = adapter.health()
    assert (fresh.state, fresh.breaker_state, fresh.calls, fresh.last_error_code) == ("HEALTHY", "CLOSED", 0, None)

    assert await adapter.list_cases(WHO) == "ok"
    healthy = adapter.health()
    assert healthy.state == "HEALTHY"
    assert healthy.last_success_at is not None and healthy.latency_ms_ewma is not None

    inner.steps.append(CourtTimeout(CODE))
    await fail(adapter, CourtTimeout)
    degraded = adapter.health()
    assert degraded.state == "DEGRADED"
    assert degraded.last_error_code == "COURT_TIMEOUT" and degraded.last_error_at is not None
    assert degraded.consecutive_failures == 1

    await open_breaker(adapter, inner, 2)
    down = adapter.health()
    assert (down.state, down.breaker_state, down.consecutive_failures) == ("DOWN", "OPEN", 3)
    assert down.last_error_code == "COURT_UNAVAILABLE"

    clock.advance(5.0)
    assert (adapter.health().state, adapter.health().breaker_state) == ("DEGRADED", "HALF_OPEN")
    assert await adapter.list_cases(WHO) == "ok"
    recovering = adapter.health()
    assert (recovering.state, recovering.breaker_state) == ("DEGRADED", "CLOSED"), "failures are still recent"

    clock.advance(30.0)
    recovered = adapter.health()
    assert (recovered.state, recovered.consecutive_failures) == ("HEALTHY", 0)
    assert (recovered.calls, recovered.failures) == (5, 3)


async def test_answers_about_the_request_do_not_degrade_health() -> None:
    adapter, _ = resilient(NotFoundAtCourt(CODE), CourtRejected(CODE))
    await fail(adapter, NotFoundAtCourt)
    await fail(adapter, CourtRejected)
    health = adapter.health()
    assert (health.state, health.failures, health.last_error_code) == ("HEALTHY", 0, None)
