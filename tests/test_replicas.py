"""Two gateway replicas on one PostgreSQL and one Redis, served over real HTTP, behave as one gateway.

What one replica writes (a signature delivered to the court) and what a court's feed says (a lawyer
entered by the clerk) is seen through the other within a second; each court's feed is followed by one
of them; both are ready.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from gateway.adapters.model import Agent, PersonRef
from gateway.app import create_app
from gateway.config import Settings
from gateway.services import Services
from gateway.store.migrate import upgrade_async
from gateway.store.testing import postgres_schema
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import GraphQLClient, serve_app
from tests.documents.test_signing import DOCUMENT, SIGN, delivered, doc_id, serve_fresh

POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(
    not (POSTGRES_URL and REDIS_URL),
    reason="GATEWAY_TEST_POSTGRES_URL and GATEWAY_TEST_REDIS_URL are not both set: replica tests skipped",
)
CASES = "{ myCases(first: 100) { edges { node { caseNumber } } } }"


def services_of(replica: GraphQLClient) -> Services:
    services: Services = replica.app.state.services  # type: ignore[attr-defined]
    return services


def fed_courts(replica: GraphQLClient) -> set[str]:
    """The courts with a change feed (the national service platform has none)."""
    return {a.court.code for a in services_of(replica).registry.courts()}


def following(replica: GraphQLClient) -> set[str]:
    return set(replica.app.state.changes.cursors)  # type: ignore[attr-defined]


@pytest.fixture
async def replicas(
    settings: Settings, cluster: SimulatorCluster, tokens: dict[str, str]
) -> AsyncIterator[list[GraphQLClient]]:
    async with postgres_schema(str(POSTGRES_URL)) as database:
        await upgrade_async(database)
        shared = settings.model_copy(update={"database_url": database, "cache_url": REDIS_URL, "change_poll_s": 0.2})
        served = []
        clients = []
        for _ in range(2):
            app = create_app(shared, graphiql=False)
            server, task, url = await serve_app(app)
            served.append((server, task))
            client = GraphQLClient(f"{url}/graphql", tokens)
            client.app = app  # type: ignore[attr-defined]
            clients.append(client)
        courts = fed_courts(clients[0])
        for _ in range(100):  # the replicas share the feeds between them
            if following(clients[0]) | following(clients[1]) == courts:
                break
            await asyncio.sleep(0.05)
        try:
            yield clients
        finally:
            for server, task in served:
                server.should_exit = True
                await task


async def within(seconds: float, check: Any) -> float:
    """How long the coroutine function ``check`` took to return something true (it must, in ``seconds``)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not await check():
        assert loop.time() - started < seconds, f"not seen within {seconds} s"
        await asyncio.sleep(0.05)
    return loop.time() - started


async def test_both_replicas_are_ready_and_follow_each_court_feed_once(replicas: list[GraphQLClient]) -> None:
    bodies = []
    for replica in replicas:
        url = replica.url.removesuffix("/graphql") + "/readyz"
        async with aiohttp.ClientSession() as session, session.get(url) as r:
            assert r.status == 200
            bodies.append(await r.json())
    assert all(b["database"] == "ok" and b["cache"] == "ok" for b in bodies)
    first, second = (set(b["following"]) for b in bodies)
    assert not first & second and first | second == fed_courts(replicas[0])


async def test_a_signature_recorded_through_one_replica_is_seen_through_the_other_within_a_second(
    replicas: list[GraphQLClient], cluster: SimulatorCluster, world: World
) -> None:
    writer, reader = replicas
    court = "粤0105"
    doc = serve_fresh(cluster, world, court)
    await services_of(writer).cache.bump(court)  # the court served it behind the feed's back (see serve_fresh)
    before = (await reader.query(DOCUMENT, {"id": doc_id(doc)}, as_="party-wang"))["data"]["node"]
    assert before["signed"] is False and before["deliveries"][0]["signedAt"] is None  # now cached, in Redis

    body = await writer.query(SIGN, {"id": doc_id(doc)}, as_="party-wang")
    record = await delivered(services_of(writer), body["data"]["signDocument"]["id"])

    async def reader_sees_the_courts_record() -> bool:
        node = (await reader.query(DOCUMENT, {"id": doc_id(doc)}, as_="party-wang"))["data"]["node"]
        return bool(node["signed"] and node["deliveries"][0]["signedAt"] and node["signature"]["status"] == "DELIVERED")

    await within(1.0, reader_sees_the_courts_record)
    assert record.court_signed_at is not None


async def test_a_court_event_retires_both_replicas_cached_answers(
    replicas: list[GraphQLClient], cluster: SimulatorCluster, world: World
) -> None:
    court = "粤0106"
    holder = next(r for r in replicas if court in following(r))
    other = next(r for r in replicas if r is not holder)
    chen = PersonRef.lawyer(world.demo["lawyer-chen"].number)

    async def li_cases() -> set[str]:
        body = await other.query(CASES, as_="lawyer-li")
        return {e["node"]["caseNumber"] for e in body["data"]["myCases"]["edges"]}

    listed = await li_cases()  # cached by the replica that does not follow the court
    case = next(c for c in cluster.court_state(court).cases_of(chen) if c.case_number not in listed)
    generations = [(await services_of(r).cache.generations([court]))[court] for r in replicas]

    li = world.demo["lawyer-li"]
    cluster.desk(court).add_agent(case.case_id, Agent(li.name, li.number, li.firm or "", case.parties[-1].id_number))

    async def both_bumped() -> bool:
        now = [(await services_of(r).cache.generations([court]))[court] for r in replicas]
        return all(n > g for n, g in zip(now, generations, strict=True))

    await within(1.0, both_bumped)

    async def other_lists_it() -> bool:
        return case.case_number in await li_cases()

    await within(0.5, other_lists_it)
