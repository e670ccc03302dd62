"""The cache, in memory and on Redis: copies not references, single flight, generations, isolation."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from gateway.adapters.model import Agent, PersonRef
from gateway.app import create_app
from gateway.cache import Cache
from gateway.config import Settings
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import GraphQLClient, following_every_feed, serve_app

REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="GATEWAY_TEST_REDIS_URL is not set: Redis tests skipped")


@pytest.fixture(params=["memory", pytest.param("redis", marks=needs_redis)])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    url = "memory://" if request.param == "memory" else str(REDIS_URL)
    store = Cache(url, namespace=f"test-{os.getpid()}")
    await store.clear()
    yield store
    await store.clear()
    await store.close()


async def test_concurrent_misses_load_once(cache: Cache) -> None:
    calls = 0

    async def load() -> dict[str, list[int]]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return {"cases": [1, 2]}

    results = await asyncio.gather(*(cache.get_or_load("k", load) for _ in range(10)))
    assert calls == 1 and all(r == {"cases": [1, 2]} for r in results)


async def test_values_are_copies_and_none_is_an_answer(cache: Cache) -> None:
    async def load() -> dict[str, list[int]]:
        return {"cases": [1]}

    first = await cache.get_or_load("k", load)
    first["cases"].append(99)  # a caller mutating its answer must not change the cache
    assert await cache.get_or_load("k", load) == {"cases": [1]}

    calls = 0

    async def nothing() -> None:
        nonlocal calls
        calls += 1

    assert await cache.get_or_load("none", nothing) is None
    assert await cache.get_or_load("none", nothing) is None
    assert calls == 1, "a cached None is not a miss"


async def test_a_failed_load_is_not_cached(cache: Cache) -> None:
    async def boom() -> int:
        raise RuntimeError("court down")

    with pytest.raises(RuntimeError):
        await cache.get_or_load("k", boom)

    async def ok() -> int:
        return 7

    assert await cache.get_or_load("k", ok) == 7


async def test_generations_bump_per_court(cache: Cache) -> None:
    assert await cache.generations(["粤0104", "粤01"]) == {"粤0104": 0, "粤01": 0}
    await cache.bump("粤0104")
    await cache.bump("粤0104")
    assert await cache.generations(["粤0104", "粤01"]) == {"粤0104": 2, "粤01": 0}


@pytest.fixture
async def redis_gateway(
    settings: Settings, cluster: SimulatorCluster, tokens: dict[str, str]
) -> AsyncIterator[GraphQLClient]:
    if not REDIS_URL:
        pytest.skip("GATEWAY_TEST_REDIS_URL is not set: Redis tests skipped")
    app = create_app(settings.model_copy(update={"cache_url": REDIS_URL, "change_poll_s": 0.2}), graphiql=False)
    server, task, url = await serve_app(app)
    await app.state.services.cache.clear()
    await following_every_feed(app)
    yield GraphQLClient(f"{url}/graphql", tokens)
    server.should_exit = True
    await task


CASES = "{ myCases(first: 100) { edges { node { caseNumber } } } }"


async def test_redis_cached_lists_stay_with_their_user_and_the_change_feed_refreshes_them(
    redis_gateway: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    chen = await redis_gateway.query(CASES, as_="lawyer-chen")
    li = await redis_gateway.query(CASES, as_="lawyer-li")
    chen_numbers = {e["node"]["caseNumber"] for e in chen["data"]["myCases"]["edges"]}
    li_numbers = {e["node"]["caseNumber"] for e in li["data"]["myCases"]["edges"]}
    assert chen_numbers and li_numbers and chen_numbers != li_numbers

    # the clerk enters lawyer-li on one of chen's cases in the court's own system
    li_person = world.demo["lawyer-li"]
    state = cluster.court_state("粤0106")
    case = next(
        c for c in state.cases_of(PersonRef.lawyer(world.demo["lawyer-chen"].number)) if c.case_number not in li_numbers
    )
    cluster.desk("粤0106").add_agent(
        case.case_id, Agent(li_person.name, li_person.number, li_person.firm or "", case.parties[-1].id_number)
    )
    for _ in range(50):
        await asyncio.sleep(0.1)
        li = await redis_gateway.query(CASES, as_="lawyer-li")
        if case.case_number in {e["node"]["caseNumber"] for e in li["data"]["myCases"]["edges"]}:
            break
    else:
        raise AssertionError("the change feed did not refresh lawyer-li's cached list")


@pytest.fixture
async def fast_feed_gateway(
    settings: Settings, cluster: SimulatorCluster, tokens: dict[str, str]
) -> AsyncIterator[GraphQLClient]:
    # no last known answers here: this is about the fresh cache (tests/cases/test_stale.py serves them)
    app = create_app(settings.model_copy(update={"change_poll_s": 0.2, "stale_kinds": ()}), graphiql=False)
    server, task, url = await serve_app(app)
    yield GraphQLClient(f"{url}/graphql", tokens)
    server.should_exit = True
    await task


async def test_an_outage_is_not_hidden_behind_cached_answers(
    fast_feed_gateway: GraphQLClient, sims: SimulatorCluster
) -> None:
    first = await fast_feed_gateway.query(CASES, as_="lawyer-chen")
    assert "errors" not in first and any("粤0104" in e["node"]["caseNumber"] for e in first["data"]["myCases"]["edges"])
    await asyncio.sleep(0.5)  # the follower has read every feed once
    await sims.set_outage("粤0104", True)
    for _ in range(30):
        await asyncio.sleep(0.1)
        body = await fast_feed_gateway.query(CASES, as_="lawyer-chen")
        if body.get("errors"):
            break
    assert [(e["extensions"]["code"], e["extensions"]["court"]) for e in body["errors"]] == [
        ("COURT_UNAVAILABLE", "粤0104")
    ]
    assert not any("粤0104" in e["node"]["caseNumber"] for e in body["data"]["myCases"]["edges"])


async def test_no_courts_have_no_generations_and_the_backend_answers_a_ping(cache: Cache) -> None:
    """Redis refuses an MGET without keys: asking for no generations once made /readyz fail on Redis."""
    assert await cache.generations([]) == {}
    await cache.ping()


@needs_redis
async def test_values_of_another_format_are_never_read_but_generations_are_shared() -> None:
    """A rolling upgrade: old and new replicas on one Redis never unpickle each other's values, and a
    bump by either retires the answers of both."""
    namespace = f"test-format-{os.getpid()}"
    new = Cache(str(REDIS_URL), namespace=namespace)
    old = Cache(str(REDIS_URL), namespace=namespace, value_format="v0.before")
    await new.clear()

    async def old_value() -> str:
        return "old shape"

    async def new_value() -> str:
        return "new shape"

    try:
        assert await old.get_or_load("case:1", old_value) == "old shape"
        assert await new.get_or_load("case:1", new_value) == "new shape"
        assert await old.get_or_load("case:1", new_value) == "old shape"
        await old.bump("粤0104")
        assert await new.generations(["粤0104"]) == {"粤0104": 1}
    finally:
        await new.clear()
        await new.close()
        await old.close()


def test_the_value_format_follows_the_canonical_models_shape() -> None:
    import dataclasses
    import types

    from gateway.cache_format import VALUE_FORMAT, fingerprint

    def module_with(*fields: str) -> types.ModuleType:
        module = types.ModuleType("shapes")
        cls = dataclasses.make_dataclass("Case", [(f, str) for f in fields])
        cls.__module__ = "shapes"
        module.Case = cls  # type: ignore[attr-defined]
        return module

    assert fingerprint(module_with("number")) == fingerprint(module_with("number"))
    assert fingerprint(module_with("number")) != fingerprint(module_with("number", "judge"))
    assert VALUE_FORMAT.startswith("v") and len(VALUE_FORMAT.split(".")[1]) == 10
