"""``/metrics``: who may read it, and the series an operator reads there."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from gateway.config import Settings
from gateway.observability import metrics
from gateway.store.migrate import upgrade_async
from gateway.store.notifications import SmsMessage
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import GraphQLClient, background_paused, following_every_feed, mint, serve_app
from tests.observability.conftest import SCRAPE_TOKEN, get, operator_token, post

MY_CASES = "query MyCases { myCases(first: 5) { totalCount edges { node { caseNumber } } } }"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(client: GraphQLClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, headers, text = await get(
        client.url.removesuffix("/graphql") + "/metrics", {"Authorization": f"Bearer {SCRAPE_TOKEN}"}
    )
    assert status == 200 and headers["content-type"].startswith("text/plain"), text
    return samples(text)


async def test_only_operators_and_the_scrape_token_may_read_the_metrics(
    observed: GraphQLClient, world: World, settings: Settings
) -> None:
    url = observed.url.removesuffix("/graphql") + "/metrics"
    status, headers, body = await get(url)
    assert status == 401 and headers["www-authenticate"] == "Bearer" and '"UNAUTHENTICATED"' in body
    assert "gateway_" not in body
    for bad in ("Bearer not-a-token", f"Bearer {SCRAPE_TOKEN[:-1]}", f"Basic {SCRAPE_TOKEN}"):
        status, _, body = await get(url, {"Authorization": bad})
        assert status == 401 and "gateway_" not in body, bad
    for login in ("lawyer-chen", "judge-0104"):  # a party's lawyer, a judge: staff, but not operators
        status, _, body = await get(url, {"Authorization": f"Bearer {observed.tokens[login]}"})
        assert status == 403 and '"FORBIDDEN"' in body and "gateway_" not in body, login
    status, _, body = await get(url, {"Authorization": f"Bearer {operator_token(world, settings)}"})
    assert status == 200 and "gateway_court_breaker_state" in body
    status, _, body = await get(url, {"Authorization": f"Bearer {SCRAPE_TOKEN}"})
    assert status == 200 and "gateway_court_breaker_state" in body


def test_a_short_scrape_token_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="metrics_token"):
        Settings(metrics_token="short")


async def test_operations_and_court_calls_are_counted_by_name_and_outcome(observed: GraphQLClient) -> None:
    services = observed.app.state.services  # type: ignore[attr-defined]
    await services.cache.clear()
    before = await scrape(observed)
    body = await observed.query(MY_CASES, as_="lawyer-chen")
    assert "errors" not in body
    await observed.query("{ viewer { name } }", as_="lawyer-chen")  # unnamed
    await observed.query("query Nope { viewer { nope } }", as_="lawyer-chen")  # fails validation
    after = await scrape(observed)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("gateway_graphql_operations_total", operation="MyCases", type="query", outcome="ok") == 1
    assert grew("gateway_graphql_operations_total", operation="__unnamed__", type="query", outcome="ok") == 1
    assert grew("gateway_graphql_operations_total", operation="Nope", type="query", outcome="rejected") == 1
    assert grew("gateway_graphql_operation_duration_seconds_count", operation="MyCases") == 1
    for adapter in services.registry.courts():
        slug = adapter.court.slug
        assert grew("gateway_court_calls_total", court=slug, operation="list_cases", code="OK") == 1, slug
        assert grew("gateway_court_call_duration_seconds_count", court=slug, operation="list_cases") == 1, slug
        assert after[("gateway_court_breaker_state", (("court", slug), ("state", "CLOSED")))] in (0.0, 1.0)
        states = [
            after[("gateway_court_breaker_state", (("court", slug), ("state", s)))]
            for s in ("CLOSED", "OPEN", "HALF_OPEN")
        ]
        assert sorted(states) == [0.0, 0.0, 1.0], slug
    # the cache: the same question again is answered from it
    await observed.query(MY_CASES, as_="lawyer-chen")
    again = await scrape(observed)
    assert (
        again[("gateway_cache_lookups_total", (("result", "hit"),))]
        > after[("gateway_cache_lookups_total", (("result", "hit"),))]
    )
    assert 0.0 < again[("gateway_cache_hit_ratio", ())] <= 1.0


async def test_a_court_that_is_down_is_counted_under_its_error_code_with_its_latency(
    observed: GraphQLClient, sims: SimulatorCluster
) -> None:
    services = observed.app.state.services  # type: ignore[attr-defined]
    await services.cache.clear()
    down = services.registry.courts()[3].court
    before = await scrape(observed)
    await sims.set_outage(down.code, True)
    try:
        body = await observed.query(MY_CASES, as_="lawyer-chen")
    finally:
        await sims.set_outage(down.code, False)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["COURT_UNAVAILABLE"]
    after = await scrape(observed)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("gateway_court_calls_total", court=down.slug, operation="list_cases", code="COURT_UNAVAILABLE") == 1
    assert grew("gateway_court_calls_total", court=down.slug, operation="list_cases", code="OK") == 0
    assert grew("gateway_court_call_duration_seconds_count", court=down.slug, operation="list_cases") == 1
    assert grew("gateway_graphql_operations_total", operation="MyCases", type="query", outcome="partial") == 1


async def test_an_open_breaker_and_the_feed_lag_are_seen_per_court(
    observed: GraphQLClient, sims: SimulatorCluster
) -> None:
    services = observed.app.state.services  # type: ignore[attr-defined]
    await following_every_feed(observed.app)  # type: ignore[attr-defined]
    found = await scrape(observed)
    for adapter in services.registry.courts():
        assert found[("gateway_feed_lag_seconds", (("court", adapter.court.slug),))] >= 0.0
    adapter = services.registry.courts()[2]
    for _ in range(adapter.policy.failure_threshold):
        adapter.breaker.on_failure(adapter.breaker.admit() or 0)
    found = await scrape(observed)
    assert found[("gateway_court_breaker_state", (("court", adapter.court.slug), ("state", "OPEN")))] == 1.0
    adapter.breaker.on_success(adapter.breaker._epoch)


async def test_each_outbox_reports_its_backlog_and_the_age_of_its_oldest_row(observed: GraphQLClient) -> None:
    app = observed.app  # type: ignore[attr-defined]
    store = app.state.services.store
    async with background_paused(app):
        found = await scrape(observed)
        assert {k[1][0][1] for k in found if k[0] == "gateway_outbox_backlog"} == {
            "sms",
            "filings",
            "signatures",
            "bindings",
            "webhooks",
        }
        assert found[("gateway_outbox_scrape_ok", ())] == 1.0
        base = found[("gateway_outbox_backlog", (("kind", "sms"),))]
        now = datetime.now(UTC)
        async with store.session() as session:
            session.add_all(
                SmsMessage(
                    phone=f"1380000{n:04d}",
                    kind="PROBE",
                    court_code=None,
                    text=f"#{n}",
                    dedupe_key=f"metrics-probe:{n}:{now.timestamp()}",
                    created_at=now - timedelta(hours=n + 1),
                    status="PENDING",
                    attempts=0,
                    next_attempt_at=now + timedelta(hours=1),
                )
                for n in range(3)
            )
        found = await scrape(observed)
        assert found[("gateway_outbox_backlog", (("kind", "sms"),))] == base + 3
        assert found[("gateway_outbox_oldest_age_seconds", (("kind", "sms"),))] >= 3 * 3600


async def test_rate_limit_and_cost_refusals_are_counted(
    settings: Settings, cluster: SimulatorCluster, world: World
) -> None:
    from gateway.app import create_app

    database = Path(tempfile.mkdtemp(prefix="court-gateway-obs-")) / "gateway.db"
    strict = settings.model_copy(
        update={
            "rate_limit_per_s": 0.001,
            "rate_limit_burst": 2,
            "cost_budget": 50,
            "metrics_token": SCRAPE_TOKEN,
            "database_url": f"sqlite+aiosqlite:///{database}",
        }
    )
    await upgrade_async(strict.database_url)
    server, task, url = await serve_app(create_app(strict))
    client = GraphQLClient(f"{url}/graphql", {})
    try:
        before = await scrape(client)
        token = mint(world, settings, "lawyer-chen", sub="metrics-rate-limit")
        status, _, body = await post(client, {"query": MY_CASES}, {"Authorization": f"Bearer {token}"})
        assert status == 200 and body["errors"][0]["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
        await post(client, {"query": "{ __typename }"}, {"Authorization": f"Bearer {token}"})
        status, _, body = await post(client, {"query": "{ __typename }"}, {"Authorization": f"Bearer {token}"})
        assert status == 429
        after = await scrape(client)
    finally:
        server.should_exit = True
        await task
    assert (
        after[("gateway_rate_limited_total", (("principal", "token"),))]
        - before.get(("gateway_rate_limited_total", (("principal", "token"),)), 0.0)
        == 1
    )
    assert after[("gateway_cost_refused_total", ())] - before[("gateway_cost_refused_total", ())] == 1


def test_operation_names_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_names", set())
    monkeypatch.setattr(metrics, "MAX_OPERATION_NAMES", 2)
    assert metrics.operation_label(None) == metrics.operation_label("") == "__unnamed__"
    assert metrics.operation_label("A") == "A" and metrics.operation_label("B") == "B"
    assert metrics.operation_label("C") == "__other__", "a third name is grouped"
    assert metrics.operation_label("A") == "A", "names already seen keep their label"
    assert metrics.operation_label("x" * 65) == metrics.operation_label("a b") == "__invalid__"
