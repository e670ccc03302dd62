"""Last known answers: with a court down, what it last told this caller, marked stale with its age.

Against the session's gateway (memory cache) and simulators: a warm read, then the court goes down and its
generation is bumped (as its change feed would), so the fresh answers are gone and only the kept copies
remain; the gateway's clock is moved on to give them an age.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.adapters.errors import CourtRejected, CourtUnavailable
from gateway.cache import Cache
from gateway.cache_format import VALUE_FORMAT
from gateway.config import Settings
from gateway.last_known import LastKnown
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.cases.test_case_detail import cases_of
from tests.conftest import GraphQLClient

REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="GATEWAY_TEST_REDIS_URL is not set: Redis tests skipped")
DOWN = "粤0104"
LIST = """{ myCases(first: 100) {
  totalCount
  edges { node { caseNumber courtCode } }
  staleCourts { court { code } asOf ageSeconds }
} }"""
DETAIL = """query ($n: String!) { case(caseNumber: $n) {
  caseNumber status stale { court { code } asOf ageSeconds }
} }"""


@pytest.fixture
def services(gateway: GraphQLClient) -> Any:
    return gateway.app.state.services  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
async def fresh_cache(services: Any) -> AsyncIterator[None]:
    await services.cache.clear()
    yield
    await services.cache.clear()


@pytest.fixture
def later(services: Any) -> Iterator[Any]:
    """Moves the gateway's clock on by the given seconds (restored afterwards)."""
    before = services.clock

    def move(seconds: float) -> None:
        services.clock = lambda: datetime.now(UTC) + timedelta(seconds=seconds)

    yield move
    services.clock = before


async def court_goes_down(sims: SimulatorCluster, services: Any) -> None:
    await sims.set_faults(DOWN, outage=True)
    await services.cache.bump(DOWN)  # its change feed retired every fresh answer of it


def stale_errors(body: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return [
        (e["extensions"]["code"], e["extensions"]["court"], e["extensions"].get("stale", False))
        for e in body.get("errors", [])
    ]


async def test_a_court_down_after_a_warm_read_serves_its_last_known_cases_marked_with_their_age(
    gateway: GraphQLClient, sims: SimulatorCluster, services: Any, later: Any
) -> None:
    warm = await gateway.query(LIST, as_="lawyer-chen")
    before = [e["node"]["caseNumber"] for e in warm["data"]["myCases"]["edges"]]
    assert any(DOWN in n for n in before) and warm["data"]["myCases"]["staleCourts"] == []

    await court_goes_down(sims, services)
    later(600)
    body = await gateway.query(LIST, as_="lawyer-chen")
    shown = body["data"]["myCases"]
    assert [e["node"]["caseNumber"] for e in shown["edges"]] == before, "the court's cases are still listed"
    (stale,) = shown["staleCourts"]
    assert stale["court"]["code"] == DOWN and 600 <= stale["ageSeconds"] < 660
    assert datetime.fromisoformat(stale["asOf"]) < datetime.now(UTC)
    assert stale_errors(body) == [("COURT_UNAVAILABLE", DOWN, True)], "clients reading errors are told too"
    extensions = body["errors"][0]["extensions"]
    assert extensions["ageSeconds"] == stale["ageSeconds"] and extensions["asOf"]
    assert body["errors"][0]["path"] == ["myCases"]


async def test_staff_lists_are_served_stale_the_same_way(
    gateway: GraphQLClient, sims: SimulatorCluster, services: Any
) -> None:
    query = "{ courtCases(first: 10) { edges { node { caseNumber } } staleCourts { court { code } ageSeconds } } }"
    warm = await gateway.query(query, as_="judge-0104")
    await court_goes_down(sims, services)
    body = await gateway.query(query, as_="judge-0104")
    assert body["data"]["courtCases"]["edges"] == warm["data"]["courtCases"]["edges"] != []
    assert [s["court"]["code"] for s in body["data"]["courtCases"]["staleCourts"]] == [DOWN]
    other = await gateway.query(query, as_="clerk-0104")  # another panel's list was never kept
    assert other["data"]["courtCases"]["staleCourts"] == [] and stale_errors(other) == [
        ("COURT_UNAVAILABLE", DOWN, False)
    ]


async def test_another_principal_never_gets_a_copy_kept_for_someone_else(
    gateway: GraphQLClient, sims: SimulatorCluster, services: Any
) -> None:
    await gateway.query(LIST, as_="lawyer-chen")  # chen's copies are kept; li never read hers
    await court_goes_down(sims, services)
    body = await gateway.query(LIST, as_="lawyer-li")
    shown = body["data"]["myCases"]
    assert shown["staleCourts"] == [] and not any(DOWN in e["node"]["caseNumber"] for e in shown["edges"])
    assert stale_errors(body) == [("COURT_UNAVAILABLE", DOWN, False)]


async def test_a_case_record_is_kept_per_caller_and_served_stale_only_to_them(
    gateway: GraphQLClient, sims: SimulatorCluster, world: World, services: Any, later: Any
) -> None:
    case = next(c for c in cases_of(sims, world, "party-wang") if c.court_code == DOWN)
    fresh = await gateway.query(DETAIL, {"n": case.case_number}, as_="party-wang")
    assert fresh["data"]["case"]["stale"] is None and "errors" not in fresh
    # the court leader may see it too, but was never shown it
    await court_goes_down(sims, services)
    later(300)
    body = await gateway.query(DETAIL, {"n": case.case_number}, as_="party-wang")
    shown = body["data"]["case"]
    assert shown["caseNumber"] == case.case_number and shown["stale"]["court"]["code"] == DOWN
    assert 300 <= shown["stale"]["ageSeconds"] < 360
    assert stale_errors(body) == [("COURT_UNAVAILABLE", DOWN, True)]

    leader = await gateway.query(DETAIL, {"n": case.case_number}, as_="leader-0104")
    assert leader["data"]["case"] is None and stale_errors(leader) == [("COURT_UNAVAILABLE", DOWN, False)]


async def test_a_data_kind_configured_off_is_never_served_stale(
    gateway: GraphQLClient, sims: SimulatorCluster, services: Any
) -> None:
    last_known = services.cases.last_known
    kinds = last_known.kinds
    last_known.kinds = frozenset({"cases"})  # case lists off
    try:
        await gateway.query(LIST, as_="lawyer-chen")
        await court_goes_down(sims, services)
        body = await gateway.query(LIST, as_="lawyer-chen")
    finally:
        last_known.kinds = kinds
    assert body["data"]["myCases"]["staleCourts"] == [] and body["data"]["myCases"]["totalCount"] is None
    assert not any(DOWN in e["node"]["caseNumber"] for e in body["data"]["myCases"]["edges"])
    assert stale_errors(body) == [("COURT_UNAVAILABLE", DOWN, False)]


async def test_kept_copies_carry_the_cached_value_format(gateway: GraphQLClient, services: Any) -> None:
    await gateway.query(LIST, as_="lawyer-chen")
    kept = [k for k in services.cache._backend._cache if ":last:" in k]
    assert kept and all(k.startswith(f"cg:{VALUE_FORMAT}:last:case_lists:") for k in kept), kept


def test_authorisation_decisions_and_signing_state_can_never_be_configured_stale() -> None:
    for kind in ("bindings", "access", "roster", "signing", "no-such-kind"):
        with pytest.raises(ValidationError):
            Settings(stale_kinds=(kind,))
    assert Settings(stale_kinds=()).stale_kinds == ()


@pytest.mark.parametrize("url", ["memory://", pytest.param(REDIS_URL, marks=needs_redis, id="redis")])
async def test_a_copy_is_read_only_by_its_own_format_and_only_for_errors_a_retry_could_cure(url: str | None) -> None:
    namespace = f"test-last-{os.getpid()}"
    cache = Cache(str(url), namespace=namespace)
    other_version = Cache(str(url), namespace=namespace, value_format="v0.before")
    now = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
    kept = LastKnown(cache, ["case_lists"], 3600, clock=lambda: now)
    older = LastKnown(other_version, ["case_lists"], 3600, clock=lambda: now)

    async def answer() -> str:
        return "page one"

    async def down() -> str:
        raise CourtUnavailable(DOWN, "refused")

    async def refused() -> str:
        raise CourtRejected(DOWN, "bad parameters")

    try:
        await cache.clear()
        assert await kept.read("case_lists", "k", kept.keeping("case_lists", "k", answer)) == ("page one", None)
        value, mark = await kept.read("case_lists", "k", down)
        assert value == "page one" and mark is not None and (mark.court_code, mark.age_seconds) == (DOWN, 0)
        with pytest.raises(CourtUnavailable):
            await older.read("case_lists", "k", down)  # another version never unpickles it
        with pytest.raises(CourtRejected):
            await kept.read("case_lists", "k", refused)  # a refusal is an answer: no copy instead
        with pytest.raises(CourtUnavailable):
            await kept.read("cases", "k", down)  # a kind not configured
    finally:
        await cache.clear()
        await cache.close()
        await other_version.close()


@needs_redis
async def test_with_redis_every_replica_serves_the_kept_copy(
    settings: Settings, sims: SimulatorCluster, tokens: dict[str, str]
) -> None:
    """Two gateways on one Redis: one reads while the court is up, the other serves the copy once it is down."""
    from gateway.app import create_app
    from tests.conftest import serve_app

    shared = settings.model_copy(update={"cache_url": REDIS_URL, "change_poll_s": 0})
    apps = [create_app(shared, graphiql=False) for _ in range(2)]
    served = [await serve_app(app) for app in apps]
    first, second = (GraphQLClient(f"{url}/graphql", tokens) for _, _, url in served)
    try:
        await apps[0].state.services.cache.clear()
        warm = await first.query(LIST, as_="lawyer-chen")
        await court_goes_down(sims, apps[0].state.services)
        body = await second.query(LIST, as_="lawyer-chen")
        assert body["data"]["myCases"]["edges"] == warm["data"]["myCases"]["edges"]
        assert [s["court"]["code"] for s in body["data"]["myCases"]["staleCourts"]] == [DOWN]
    finally:
        await apps[0].state.services.cache.clear()
        for server, task, _ in served:
            server.should_exit = True
            await task
