"""Stopping the background workers at shutdown (a rolling update, a scale-down): nothing half-done.

A round under way is let finish and record its outcome; no new round starts, so a row that became due
meanwhile is left, untouched, to the next gateway process. A round that outlasts the grace is cancelled
and its claim waits out its lease, after which another process delivers it. The outbox is the engine's
test kind (``Probe``) on a real store, SQLite and (when configured) PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time

from gateway.store import Store
from gateway.store.notifications import SmsMessage
from gateway.workers import WorkerRunner
from tests.core import test_outbox
from tests.core.test_outbox import A, Clock, Probe, queue, rows

#: the engine tests' fixtures: a migrated SQLite database and, when configured, a PostgreSQL schema
database_url, store = test_outbox.database_url, test_outbox.store


class Gate:
    """A court call that starts, then waits until the test lets it answer (or forever)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, row: object) -> str:
        self.started.set()
        await self.release.wait()
        return f"receipt-{row.id}"  # type: ignore[attr-defined]


async def test_stopping_lets_the_delivery_under_way_finish_and_claims_nothing_more(store: Store) -> None:
    (first,) = await queue(store, [A])
    gate, clock = Gate(), Clock()
    runner = WorkerRunner(interval_s=0.05)
    runner.add(Probe(store, clock, gate.send))
    runner.start()
    await asyncio.wait_for(gate.started.wait(), 5)

    stopping = asyncio.create_task(runner.stop(grace_s=10))
    await asyncio.sleep(0.2)
    assert not stopping.done(), "stop waits for the delivery under way"
    async with store.session() as session:  # a row that falls due while the process is stopping
        late_row = SmsMessage(
            phone="13800009999",
            kind="PROBE",
            court_code=A,
            text="late",
            dedupe_key="probe:late",
            created_at=clock(),
            status="PENDING",
            attempts=0,
            next_attempt_at=clock(),
        )
        session.add(late_row)
        await session.flush()
        late = late_row.id
    gate.release.set()
    await asyncio.wait_for(stopping, 5)

    by_id = {r.id: r for r in await rows(store)}
    assert (by_id[first].status, by_id[first].provider_message_id) == ("SENT", f"receipt-{first}")
    assert (by_id[late].status, by_id[late].attempts) == ("PENDING", 0), "a stopping runner claims nothing new"


async def test_a_delivery_that_outlasts_the_grace_is_cancelled_and_retried_after_its_lease(store: Store) -> None:
    (row_id,) = await queue(store, [A])
    hung, clock = Gate(), Clock()
    runner = WorkerRunner(interval_s=0.05)
    runner.add(Probe(store, clock, hung.send, lease_s=60.0))
    runner.start()
    await asyncio.wait_for(hung.started.wait(), 5)

    started = time.monotonic()
    await runner.stop(grace_s=0.3)
    assert time.monotonic() - started < 3, "stop returns soon after the grace, whatever the court does"
    (row,) = await rows(store)
    assert (row.status, row.attempts, row.provider_message_id) == ("PENDING", 1, None), "nothing was recorded"

    successor = Probe(store, clock)  # another gateway process
    clock.advance(59)
    assert await successor.run_once() == 0, "the cancelled claim's lease still holds"
    clock.advance(2)
    assert await successor.run_once() == 1
    (row,) = await rows(store)
    assert (row.status, row.attempts, row.provider_message_id) == ("SENT", 2, f"receipt-{row_id}")


async def test_an_idle_runner_stops_at_once() -> None:
    class Idle:
        name = "idle"

        async def run_once(self) -> int:
            return 0

    runner = WorkerRunner(interval_s=30)
    runner.add(Idle())
    runner.start()
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await runner.stop(grace_s=10)
    assert time.monotonic() - started < 1, "a runner waiting for its next tick does not wait it out"
