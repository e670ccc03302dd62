"""The outbox engine on its own: leases, the fence, per-court bounds, final versus retryable failures.

A small kind of outbox (``Probe``) delivers through a function the test supplies. It borrows the SMS
outbox's table, which has every column an outbox row needs (any outbox table would do). Every test
runs on SQLite and, when ``GATEWAY_TEST_POSTGRES_URL`` names a server, on PostgreSQL, on a clock the
test moves.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.errors import (
    CourtAuthFailed,
    CourtRateLimited,
    CourtRejected,
    CourtTimeout,
    CourtUnavailable,
    CourtUnsupported,
    NotFoundAtCourt,
)
from gateway.config import CourtConfig, Settings
from gateway.core.outbox import Failure, Outbox, RetryPolicy, classify
from gateway.store import Store
from gateway.store.migrate import upgrade_async
from gateway.store.notifications import SmsMessage
from gateway.store.testing import postgres_schema, sqlite_url

POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="GATEWAY_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped"
)
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
A, B = "粤0104", "粤0105"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
        await upgrade_async(url)
        yield url
        return
    async with postgres_schema(str(POSTGRES_URL)) as url:
        await upgrade_async(url)
        yield url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with Store(database_url) as store:
        yield store


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


Send = Callable[[SmsMessage], Awaitable[str]]


async def accept(row: SmsMessage) -> str:
    return f"receipt-{row.id}"


class Probe(Outbox[SmsMessage, str]):
    """PENDING → SENT with the receipt, or FAILED; a retryable failure keeps it PENDING with its error."""

    name = "probe"
    model = SmsMessage
    pending = SmsMessage.status == "PENDING"

    def __init__(
        self, store: Store, clock: Clock, send: Send = accept, *, courts: tuple[CourtConfig, ...] = (), **policy: Any
    ) -> None:
        settings = {"base_s": 10.0, "cap_s": 1000.0, "lease_s": 60.0, **policy}
        super().__init__(store, RetryPolicy(**settings), courts=courts, clock=clock, rng=lambda: 1.0)
        self.send = send
        self.hold: asyncio.Event | None = None  # set: the claim waits for it inside its transaction
        self.claiming = asyncio.Event()

    def court_of(self, row: SmsMessage) -> str | None:
        return row.court_code

    async def admit(self, session: AsyncSession, rows: list[SmsMessage], now: datetime) -> list[SmsMessage]:
        self.claiming.set()
        if self.hold is not None:
            await self.hold.wait()
        return rows

    async def deliver(self, row: SmsMessage) -> str:
        return await self.send(row)

    async def delivered(self, session: AsyncSession, row: SmsMessage, result: str) -> None:
        row.status, row.provider_message_id, row.sent_at = "SENT", result, self.clock()

    async def failed(self, session: AsyncSession, row: SmsMessage, failure: Failure) -> None:
        row.last_error = f"{failure.code}: {failure.detail}"
        if failure.final:
            row.status = "FAILED"


async def queue(store: Store, courts: list[str | None]) -> list[int]:
    async with store.session() as session:
        rows = [
            SmsMessage(
                phone=f"1380000{n:04d}",
                kind="PROBE",
                court_code=court,
                text=f"#{n}",
                dedupe_key=f"probe:{n}",
                created_at=T0,
                status="PENDING",
                attempts=0,
                next_attempt_at=T0,
            )
            for n, court in enumerate(courts)
        ]
        session.add_all(rows)
        await session.flush()
        return [r.id for r in rows]


async def rows(store: Store) -> list[SmsMessage]:
    async with store.session(read_only=True) as session:
        return list(await session.scalars(select(SmsMessage).order_by(SmsMessage.id)))


# -- the lease and the fence -----------------------------------------------------------------------------


async def test_a_dead_workers_row_is_claimed_again_when_its_lease_runs_out(store: Store) -> None:
    await queue(store, [A])
    clock = Clock()
    dead, alive = Probe(store, clock), Probe(store, clock)
    (claim,) = await dead.claim()  # and then its process dies
    assert claim.fence == 1
    clock.advance(59)
    assert await alive.run_once() == 0, "the lease still holds"
    clock.advance(2)
    assert await alive.run_once() == 1
    ((status, attempts, receipt),) = [(r.status, r.attempts, r.provider_message_id) for r in await rows(store)]
    assert (status, attempts, receipt) == ("SENT", 2, f"receipt-{claim.row.id}")


async def test_a_stale_workers_outcome_is_not_recorded(store: Store) -> None:
    await queue(store, [A])
    clock = Clock()
    stale, fresh = Probe(store, clock), Probe(store, clock)
    (old,) = await stale.claim()
    clock.advance(61)
    (new,) = await fresh.claim()
    assert new.fence == 2

    assert not await stale.record_delivery(old, "stale receipt"), "the fence turns the stale success away"
    assert not await stale.record_failure(old, CourtRejected(A, "refused")), "and a stale final failure"
    (row,) = await rows(store)
    assert (row.status, row.provider_message_id, row.last_error) == ("PENDING", None, None)

    assert await fresh.record_delivery(new, "fresh receipt")
    (row,) = await rows(store)
    assert (row.status, row.provider_message_id) == ("SENT", "fresh receipt")
    assert not await fresh.record_delivery(new, "again"), "a settled row takes no second outcome"


@needs_postgres
async def test_two_claimers_on_postgresql_take_disjoint_rows_without_waiting(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises claimers with its write lock: the second waits for the first")
    async with Store(database_url) as store_a, Store(database_url) as store_b:
        await queue(store_a, [A] * 10)
        clock = Clock()
        first, second = Probe(store_a, clock, batch=4), Probe(store_b, clock, batch=4)
        first.hold = asyncio.Event()
        holding = asyncio.create_task(first.claim())
        await asyncio.wait_for(first.claiming.wait(), 5)  # its rows are locked, its transaction open

        taken_second = await asyncio.wait_for(second.claim(), 5)  # SKIP LOCKED: does not wait for the first
        first.hold.set()
        taken_first = await holding
        ids = [[c.row.id for c in claims] for claims in (taken_first, taken_second)]
        assert len(ids[0]) == len(ids[1]) == 4 and not set(ids[0]) & set(ids[1])


async def test_concurrent_rounds_deliver_every_row_once(database_url: str) -> None:
    """Four gateway processes (four engines on their own connections) over one outbox."""
    stores = [Store(database_url) for _ in range(4)]
    try:
        await queue(stores[0], [A, B] * 15)
        delivered: Counter[int] = Counter()

        async def send(row: SmsMessage) -> str:
            delivered[row.id] += 1
            await asyncio.sleep(0.001)
            return "ok"

        clock = Clock()
        probes = [Probe(s, clock, send, batch=3) for s in stores]

        async def drain(probe: Probe) -> None:
            idle = 0
            while idle < 3:
                idle = 0 if await probe.run_once() else idle + 1
                await asyncio.sleep(0)

        await asyncio.wait_for(asyncio.gather(*(drain(p) for p in probes)), 60)
        assert len(delivered) == 30 and set(delivered.values()) == {1}
        assert {r.status for r in await rows(stores[0])} == {"SENT"}
    finally:
        for s in stores:
            await s.dispose()


# -- the per-court bound ----------------------------------------------------------------------------------


async def test_deliveries_run_concurrently_within_each_courts_bound(store: Store) -> None:
    settings = Settings()
    courts = (
        settings.court(A).model_copy(update={"concurrency": 2}),
        settings.court(B).model_copy(update={"concurrency": 3}),
    )
    await queue(store, [A] * 6 + [B] * 6 + [None] * 2)
    in_flight: Counter[str | None] = Counter()
    peak: Counter[str | None] = Counter()

    async def send(row: SmsMessage) -> str:
        in_flight[row.court_code] += 1
        in_flight["all"] += 1
        for key in (row.court_code, "all"):
            peak[key] = max(peak[key], in_flight[key])
        await asyncio.sleep(0.05)
        in_flight[row.court_code] -= 1
        in_flight["all"] -= 1
        return "ok"

    probe = Probe(store, Clock(), send, courts=courts)
    assert await probe.run_once() == 14
    assert (peak[A], peak[B]) == (2, 3), "each court's bound is reached and never passed"
    assert peak["all"] == 2 + 3 + 2, "the courts (and unbounded rows) run side by side"
    assert {r.status for r in await rows(store)} == {"SENT"}


# -- final versus retryable -------------------------------------------------------------------------------


def _integrity_error() -> IntegrityError:
    return IntegrityError("UPDATE filings …", {}, Exception("UNIQUE constraint failed: filings.receipt_number"))


@pytest.mark.parametrize(
    ("error", "code", "final"),
    [
        (CourtUnavailable(A), "COURT_UNAVAILABLE", False),
        (CourtTimeout(A), "COURT_TIMEOUT", False),
        (CourtRateLimited(A, retry_after=30), "COURT_RATE_LIMITED", False),
        (CourtAuthFailed(A), "COURT_AUTH_FAILED", False),
        (CourtRejected(A, "文书已撤回"), "COURT_REJECTED", True),
        (NotFoundAtCourt(A), "NOT_FOUND", True),
        (CourtUnsupported(A), "COURT_UNSUPPORTED", True),
        (_integrity_error(), "LOCAL_CONFLICT", True),
        (ValueError("'XX' is not a valid FilingKind"), "INVALID_RECORD", True),
        (ConnectionResetError("reset"), "INTERNAL_ERROR", False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else None,
)
def test_which_failures_are_final(error: Exception, code: str, final: bool) -> None:
    failure = classify(error)
    assert (failure.code, failure.final) == (code, final)


def test_a_courts_retry_after_outlasts_the_backoff() -> None:
    assert classify(CourtRateLimited(A, retry_after=30)).retry_after_s == 30
    policy = RetryPolicy(base_s=2, cap_s=600)
    assert policy.delay(1, retry_after_s=30, rng=lambda: 1.0) == 30
    assert policy.delay(20, retry_after_s=30, rng=lambda: 1.0) == 600


async def test_a_retryable_failure_backs_off_and_is_tried_again(store: Store) -> None:
    await queue(store, [A])
    clock, outcomes = Clock(), [CourtUnavailable(A, "down"), CourtTimeout(A, "slow")]

    async def flaky(row: SmsMessage) -> str:
        if outcomes:
            raise outcomes.pop(0)
        return "ok"

    probe = Probe(store, clock, flaky)
    assert await probe.run_once() == 1
    (row,) = await rows(store)
    assert (row.status, row.attempts, row.last_error) == ("PENDING", 1, "COURT_UNAVAILABLE: down")
    assert row.next_attempt_at == T0 + timedelta(seconds=10)
    clock.advance(9)
    assert await probe.run_once() == 0, "not due before its backoff ends"
    clock.advance(1)
    assert await probe.run_once() == 1
    (row,) = await rows(store)
    assert (row.attempts, row.next_attempt_at) == (2, T0 + timedelta(seconds=10 + 20)), "doubled"
    clock.advance(20)
    assert await probe.run_once() == 1
    assert [(r.status, r.attempts) for r in await rows(store)] == [("SENT", 3)]


async def test_a_final_failure_ends_the_row_visibly_and_is_never_retried(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await queue(store, [A])
    calls = []

    async def refuse(row: SmsMessage) -> str:
        calls.append(row.id)
        raise CourtRejected(A, "文书已撤回")

    clock = Clock()
    probe = Probe(store, clock, refuse)
    with caplog.at_level(logging.INFO, logger="gateway.outbox"):
        assert await probe.run_once() == 1
    (row,) = await rows(store)
    assert (row.status, row.attempts, row.last_error) == ("FAILED", 1, "COURT_REJECTED: 文书已撤回")
    assert [r.levelno for r in caplog.records if "failed for good" in r.getMessage()] == [logging.ERROR]
    clock.advance(86_400 * 30)
    assert await probe.run_once() == 0 and calls == [row.id], "never tried again"


async def test_a_local_constraint_violated_while_recording_a_success_is_final(store: Store) -> None:
    """What a court's answer cannot be stored as (here: a dedupe key another row holds) ends the row."""
    await queue(store, [A, A])

    class Colliding(Probe):
        async def delivered(self, session: AsyncSession, row: SmsMessage, result: str) -> None:
            row.status, row.phone, row.dedupe_key = "SENT", "13800000000", "probe:0"  # row 0's own key

    clock = Clock()
    probe = Colliding(store, clock, batch=1)
    assert await Probe(store, clock, batch=1).run_once() == 1  # the first row delivered normally
    assert await probe.run_once() == 1
    _, row = await rows(store)
    assert (row.status, row.attempts) == ("FAILED", 1)
    assert row.last_error and row.last_error.startswith("LOCAL_CONFLICT: ")
    clock.advance(3600)
    assert await probe.run_once() == 0


async def test_the_last_allowed_attempt_makes_a_retryable_failure_final(store: Store) -> None:
    await queue(store, [A])

    async def down(row: SmsMessage) -> str:
        raise CourtUnavailable(A, "down")

    clock = Clock()
    probe = Probe(store, clock, down, max_attempts=2)
    assert await probe.run_once() == 1
    clock.advance(3600)
    assert await probe.run_once() == 1
    assert [(r.status, r.attempts) for r in await rows(store)] == [("FAILED", 2)]


async def test_an_outcome_that_cannot_be_recorded_leaves_the_row_to_its_lease(store: Store) -> None:
    """The database fails (or a bug) while recording: nothing is half written, the lease is the retry."""
    await queue(store, [A])

    class Crashing(Probe):
        async def delivered(self, session: AsyncSession, row: SmsMessage, result: str) -> None:
            row.status = "SENT"
            raise ConnectionResetError("the database went away")

    clock = Clock()
    assert await Crashing(store, clock).run_once() == 1
    assert [(r.status, r.attempts, r.last_error) for r in await rows(store)] == [("PENDING", 1, None)]
    probe = Probe(store, clock)
    assert await probe.run_once() == 0, "leased"
    clock.advance(61)
    assert await probe.run_once() == 1
    assert [(r.status, r.attempts) for r in await rows(store)] == [("SENT", 2)]
