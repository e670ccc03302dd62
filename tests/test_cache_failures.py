"""A cache that fails is a miss, never a lost answer: Redis down, or its pool exhausted by a fan-out."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.app import create_app
from gateway.cache import Cache
from gateway.config import Settings
from simulators.cluster import SimulatorCluster
from tests.conftest import GraphQLClient, serve_app

REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="GATEWAY_TEST_REDIS_URL is not set: Redis tests skipped")

MY_CASES = "{ myCases(first: 100) { totalCount edges { node { caseNumber courtCode status } } } }"
CASE = "query ($n: String!) { case(caseNumber: $n) { caseNumber courtCode parties { name } } }"


def closed_port() -> int:
    """A loopback port nobody listens on: connecting is refused, as with a Redis that is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_cache_that_is_down_loads_every_time_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    cache = Cache(f"redis://127.0.0.1:{closed_port()}/0", namespace=f"test-down-{os.getpid()}")
    calls = 0

    async def load() -> dict[str, int]:
        nonlocal calls
        calls += 1
        return {"cases": calls}

    with caplog.at_level(logging.WARNING, logger="gateway.cache"):
        assert await cache.get_or_load("k", load) == {"cases": 1}
        assert await cache.get_or_load("k", load) == {"cases": 2}
        first, second = await cache.generations(["粤01"]), await cache.generations(["粤01"])
    # an unreadable generation is never one an older answer was stored under
    assert first["粤01"] < 0 and second["粤01"] < 0 and first != second
    assert cache.failures >= 4
    warnings = [r for r in caplog.records if r.name == "gateway.cache"]
    assert len(warnings) == 1 and "read as a miss" in warnings[0].getMessage()
    with pytest.raises(Exception):  # noqa: B017 - an invalidation that did not happen must not look done
        await cache.bump("粤01")
    await cache.close()


async def settled(client: GraphQLClient, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """lawyer-chen's answer, asked again while a court only missed the suite's short deadline (a loaded
    machine): a timeout is the court's, not the cache's; any other error is returned as it is."""
    for _ in range(5):
        answer = await client.query(query, variables, as_="lawyer-chen")
        codes = {e["extensions"]["code"] for e in answer.get("errors", [])}
        if codes != {"COURT_TIMEOUT"}:
            return answer
    return answer


async def reference(gateway: GraphQLClient, number: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """lawyer-chen's cases and one case, from the session's gateway (memory cache): the full answers."""
    cases = await settled(gateway, MY_CASES)
    one = await settled(gateway, CASE, {"n": number})
    assert "errors" not in cases and "errors" not in one
    return cases, one


@pytest.fixture
async def gateway_on(settings: Settings, cluster: SimulatorCluster, tokens: dict[str, str]) -> AsyncIterator[Any]:
    """Start gateways on a given cache URL (feeds not followed: the test's requests are all it does)."""
    running: list[tuple[Any, asyncio.Task[None]]] = []

    async def start(cache_url: str) -> tuple[GraphQLClient, Cache]:
        app = create_app(settings.model_copy(update={"cache_url": cache_url, "change_poll_s": 0}), graphiql=False)
        server, task, url = await serve_app(app)
        running.append((server, task))
        return GraphQLClient(f"{url}/graphql", tokens), app.state.services.cache

    yield start
    for server, task in running:
        server.should_exit = True
        await task


async def test_redis_down_gives_full_answers(gateway: GraphQLClient, gateway_on: Any) -> None:
    cases = await gateway.query(MY_CASES, as_="lawyer-chen")
    number = cases["data"]["myCases"]["edges"][0]["node"]["caseNumber"]
    full_cases, full_case = await reference(gateway, number)
    client, cache = await gateway_on(f"redis://127.0.0.1:{closed_port()}/0")
    for _ in range(2):
        assert await settled(client, MY_CASES) == full_cases
        assert await settled(client, CASE, {"n": number}) == full_case
    assert cache.failures > 0


@needs_redis
async def test_a_pool_of_one_connection_gives_full_answers_to_concurrent_fan_outs(
    gateway: GraphQLClient, gateway_on: Any
) -> None:
    """Fan-outs to 13 courts at once read far more values at a time than the pool has connections: each
    read waits its turn (or, past the wait, reads as a miss) and no answer is lost."""
    cases = await gateway.query(MY_CASES, as_="lawyer-chen")
    number = cases["data"]["myCases"]["edges"][0]["node"]["caseNumber"]
    full_cases, full_case = await reference(gateway, number)
    courts = {e["node"]["courtCode"] for e in full_cases["data"]["myCases"]["edges"]}
    assert len(courts) >= 5, "lawyer-chen's list must come from many courts for this to be a fan-out"
    client, cache = await gateway_on(f"{REDIS_URL}?max_connections=1")
    await cache.clear()
    for _ in range(2):  # cold, then from the cache
        answers = await asyncio.gather(
            *(client.query(MY_CASES, as_="lawyer-chen") for _ in range(8)),
            *(client.query(CASE, {"n": number}, as_="lawyer-chen") for _ in range(8)),
        )
        # a court that only missed the suite's short deadline on a loaded machine is the court's timeout,
        # not the pool's: such an answer is left out; every other answer is the full one, none lost
        kept = [
            (got, want)
            for got, want in zip(answers, [full_cases] * 8 + [full_case] * 8, strict=True)
            if {e["extensions"]["code"] for e in got.get("errors", [])} != {"COURT_TIMEOUT"}
        ]
        assert kept and all(got == want for got, want in kept)
    assert cache.hits > 0
    await cache.clear()
