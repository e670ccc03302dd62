"""One follower per court feed across replicas (PostgreSQL): leases, takeover, fencing, notices once.

The followers here poll simulators of their own (one court of each family), so the simulators' request
counters count only these followers' requests.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from datetime import datetime

import pytest
from sqlalchemy import func, select

from gateway.adapters.model import CHINA_TZ, PersonRef
from gateway.adapters.registry import AdapterRegistry
from gateway.cache import Cache
from gateway.config import CourtConfig
from gateway.feeds.effects import FeedSync
from gateway.feeds.follower import ChangeFollower
from gateway.feeds.lease import FeedLeases, LeaseLost
from gateway.notifications.service import person_key
from gateway.store import Store
from gateway.store.feeds import FeedCursor, FeedLease, save_cursor, saved_cursor
from gateway.store.migrate import upgrade_async
from gateway.store.notifications import InAppNotification, SmsMessage
from gateway.store.testing import postgres_schema
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import loopback_settings

POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="GATEWAY_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped"
)

#: v2-rest, jsonrpc-sign, soap-gbk, csv-export
COURTS = ("粤01", "粤0104", "粤0105", "粤0115")
POLL_S = 0.1
#: csv-export reads its feed as six journal files, conditionally; the other families ask once per read
REQUESTS_PER_READ = {"粤0115": 6}


@pytest.fixture
async def database() -> AsyncIterator[str]:
    async with postgres_schema(str(POSTGRES_URL)) as url:
        await upgrade_async(url)
        yield url


@pytest.fixture(scope="module")
def own_courts() -> tuple[CourtConfig, ...]:
    return tuple(c for c in loopback_settings().courts if c.code in COURTS)


@pytest.fixture(scope="module")
async def own_sims(own_courts: tuple[CourtConfig, ...], world: World) -> AsyncIterator[SimulatorCluster]:
    sims = SimulatorCluster(own_courts, world)
    await sims.start()
    yield sims
    await sims.stop()


@pytest.fixture
async def followers(database: str, own_courts: tuple[CourtConfig, ...]) -> AsyncIterator[Callable[..., ChangeFollower]]:
    """Makes followers on the test's database, each with its own adapters, cache and store (a replica)."""
    made: list[ChangeFollower] = []

    def make(*, lease_s: float = 2.0, cache: Cache | None = None) -> ChangeFollower:
        follower = ChangeFollower(
            AdapterRegistry(own_courts),
            cache or Cache(),
            interval_s=POLL_S,
            store=Store(database),
            sync=FeedSync({c.code: c for c in own_courts}),
            lease_s=lease_s,
        )
        made.append(follower)
        return follower

    yield make
    for follower in made:
        await follower.stop()
        await follower.registry.aclose()
        assert follower.store is not None
        await follower.store.dispose()


async def eventually(check: Callable[[], bool], seconds: float) -> float:
    """How long ``check`` took to hold (it must, within ``seconds``)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not check():
        assert loop.time() - started < seconds, "not within the time allowed"
        await asyncio.sleep(0.02)
    return loop.time() - started


def calls(follower: ChangeFollower, code: str) -> int:
    return follower.registry.health()[code].calls


async def test_three_replicas_starting_together_follow_each_court_once_and_a_dead_holder_is_replaced(
    followers: Callable[..., ChangeFollower], own_sims: SimulatorCluster, caplog: pytest.LogCaptureFixture
) -> None:
    replicas = [followers(), followers(), followers()]
    with caplog.at_level(logging.INFO, logger="gateway.changes"):
        for replica in replicas:
            replica.start()
        await eventually(lambda: set().union(*(r.cursors for r in replicas)) == set(COURTS), 5)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "three replicas started: nothing raised"
    holders = {code: [r for r in replicas if code in r.cursors] for code in COURTS}
    assert all(len(h) == 1 for h in holders.values()), holders

    # only the holder asks the court: the simulator's count is the holder's, the others never call
    own_sims.reset_counters()
    before = {code: calls(holders[code][0], code) for code in COURTS}
    await asyncio.sleep(1.0)
    for code in COURTS:
        others = [r for r in replicas if r is not holders[code][0]]
        assert all(calls(r, code) == 0 for r in others), f"a second replica polled {code}"
        polled = calls(holders[code][0], code) - before[code]
        assert 1 <= polled <= 1.0 / POLL_S + 1
        per_read = REQUESTS_PER_READ.get(code, 1)  # a read in flight at either end of the window: one off
        assert abs(own_sims.state(code).counters["changes"] - polled * per_read) <= per_read

    # the holder of the first court dies (no release): another replica follows its feeds within seconds
    dead = holders[COURTS[0]][0]
    orphaned = set(dead.cursors)
    await dead.stop(release=False)
    survivors = [r for r in replicas if r is not dead]
    took = await eventually(lambda: orphaned <= set().union(*(r.cursors for r in survivors)), 6)
    assert took < 2.0 + 2.0, "taken over once the lease (2 s) expired, at the next poll"
    for code in orphaned:
        assert len([r for r in survivors if code in r.cursors]) == 1


async def test_a_replica_that_stops_cleanly_hands_its_feeds_over_at_once(
    followers: Callable[..., ChangeFollower],
) -> None:
    first, second = followers(lease_s=30), followers(lease_s=30)
    first.start()
    await eventually(lambda: set(first.cursors) == set(COURTS), 5)
    second.start()
    await asyncio.sleep(3 * POLL_S)
    assert second.cursors == {}, "the feeds are leased for 30 s"
    await first.stop()
    took = await eventually(lambda: set(second.cursors) == set(COURTS), 5)
    assert took < 2.0, "at the next polls, not when the 30 s lease would have run out"


async def test_a_holder_whose_lease_was_taken_over_can_neither_renew_nor_move_the_cursor(database: str) -> None:
    code = "粤0104"
    async with Store(database) as store:
        stale, fresh = FeedLeases(store, ttl_s=0.3), FeedLeases(store, ttl_s=0.3)
        first = await stale.take(code)
        assert first is not None and await fresh.take(code) is None
        async with store.session() as session:
            await stale.renew(session, code, first)
            assert await save_cursor(session, code, "100", epoch=first, now=datetime.now(CHINA_TZ))
        await asyncio.sleep(0.4)  # the stale holder stalls past its lease
        second = await fresh.take(code)
        assert second == first + 1
        async with store.session() as session:
            await fresh.renew(session, code, second)
            assert await save_cursor(session, code, "120", epoch=second, now=datetime.now(CHINA_TZ))

        with pytest.raises(LeaseLost):
            async with store.session() as session:
                await stale.renew(session, code, first)
        async with store.session() as session:  # even without the lease check, the cursor refuses it
            assert not await save_cursor(session, code, "101", epoch=first, now=datetime.now(CHINA_TZ))
        async with store.session(read_only=True) as session:
            assert await saved_cursor(session, code) == "120"
            lease = await session.get(FeedLease, code)
            assert lease is not None and (lease.holder, lease.epoch) == (fresh.holder, second)


async def test_three_replicas_notify_a_served_document_once(
    followers: Callable[..., ChangeFollower], own_sims: SimulatorCluster, world: World, database: str
) -> None:
    replicas = [followers(), followers(), followers()]
    for replica in replicas:
        replica.start()
    await eventually(lambda: set().union(*(r.cursors for r in replicas)) == set(COURTS), 5)
    wang = PersonRef.party(world.demo["party-wang"].number)
    case = own_sims.court_state("粤0104").cases_of(wang)[0]
    doc = own_sims.desk("粤0104").serve_document(case.case_id, wang, "举证通知书")

    async with Store(database) as store:

        async def notices() -> list[InAppNotification]:
            async with store.session(read_only=True) as session:
                rows = await session.scalars(
                    select(InAppNotification).where(
                        InAppNotification.recipient_key == person_key(wang),
                        InAppNotification.kind == "DOCUMENT_SERVED",
                        InAppNotification.case_number == doc.case_number,
                    )
                )
                return list(rows)

        for _ in range(50):
            if await notices():
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(5 * POLL_S)  # every replica has had time to poll again
        found = await notices()
        assert len(found) == 1 and "举证通知书" in found[0].body
        async with store.session(read_only=True) as session:
            sms = await session.scalar(
                select(func.count()).select_from(SmsMessage).where(SmsMessage.dedupe_key == found[0].dedupe_key)
            )
            cursors = await session.scalar(select(func.count()).select_from(FeedCursor))
        assert sms == 1 and cursors == len(COURTS)


async def test_a_memory_cache_sharing_the_database_with_another_replica_is_warned_of(
    followers: Callable[..., ChangeFollower], caplog: pytest.LogCaptureFixture
) -> None:
    first, second = followers(), followers()

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]

    with caplog.at_level(logging.WARNING, logger="gateway.changes"):
        first.start()
        await eventually(lambda: set(first.cursors) == set(COURTS), 5)
        second.start()
        await eventually(lambda: any("is followed by another gateway process" in w for w in warnings()), 5)
    assert any("memory cache serves one gateway process only" in w for w in warnings())
    assert any("is followed by another gateway process" in w and "Redis" in w for w in warnings())
    assert second.cursors == {}
