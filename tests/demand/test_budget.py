"""The cost budget over real HTTP: an operation over it is refused before any resolver runs (no court
call, no audit row), one of normal size passes, and the cost is reported when the request asks for it.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from sqlalchemy import func, select

from gateway.services import Services
from gateway.store.models import AuditRecord
from simulators.cluster import SimulatorCluster
from tests.cases.test_my_cases import DETAILED
from tests.conftest import GraphQLClient, background_paused

FAN_OUT = (
    "query {"
    + " ".join(f"a{i}: myCases(first: 100) {{ edges {{ node {{ caseFile {{ kind }} }} }} }}" for i in range(30))
    + "}"
)
LEADER_FAN_OUT = (
    "query {" + " ".join(f"a{i}: courtCases {{ edges {{ node {{ caseFile {{ kind }} }} }} }}" for i in range(30)) + "}"
)


async def post(
    gateway: GraphQLClient, query: str, *, as_: str, extensions: dict[str, Any] | None = None, accept: str | None = None
) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"query": query}
    if extensions is not None:
        body["extensions"] = extensions
    headers = {"Authorization": f"Bearer {gateway.tokens[as_]}"}
    if accept:
        headers["Accept"] = accept
    async with aiohttp.ClientSession() as session, session.post(gateway.url, json=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


def services_of(gateway: GraphQLClient) -> Services:
    services: Services = gateway.app.state.services  # type: ignore[attr-defined]
    return services


async def audit_rows(services: Services) -> int:
    async with services.store.session(read_only=True) as session:
        return int(await session.scalar(select(func.count()).select_from(AuditRecord)) or 0)


def court_calls(sims: SimulatorCluster) -> int:
    return sum(sum(backend.state.counters.values()) for backend in sims.backends.values())


async def test_thirty_aliases_of_a_hundred_cases_with_their_files_are_refused_before_any_court_call(
    gateway: GraphQLClient, sims: SimulatorCluster
) -> None:
    services = services_of(gateway)
    budget = services.settings.cost_budget
    async with background_paused(gateway.app):  # type: ignore[attr-defined]
        rows = await audit_rows(services)
        sims.reset_counters()
        status, body = await post(gateway, FAN_OUT, as_="lawyer-chen")
        calls = court_calls(sims)
        assert await audit_rows(services) == rows
    assert calls == 0
    assert status == 200 and body["data"] is None
    [error] = body["errors"]
    # 30 × (13 court calls for the page + 100 cases × (edge, node, 5 volumes assumed, a court call each))
    assert error["extensions"] == {"code": "COST_LIMIT_EXCEEDED", "cost": 54930, "budget": budget, "courtCalls": 3390}
    assert str(budget) in error["message"] and "54930" in error["message"]


async def test_a_court_leaders_thirty_aliases_of_court_cases_with_files_are_refused_and_nothing_is_audited(
    gateway: GraphQLClient, sims: SimulatorCluster
) -> None:
    services = services_of(gateway)
    async with background_paused(gateway.app):  # type: ignore[attr-defined]
        rows = await audit_rows(services)
        sims.reset_counters()
        status, body = await post(
            gateway, LEADER_FAN_OUT, as_="leader-0104", accept="application/graphql-response+json"
        )
        calls = court_calls(sims)
        assert await audit_rows(services) == rows
    assert calls == 0
    # GraphQL over HTTP: an operation that never executed is a 4xx
    assert status == 400 and "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["COST_LIMIT_EXCEEDED"]
    assert body["errors"][0]["extensions"]["cost"] > services.settings.cost_budget


async def test_the_frontends_detailed_case_page_fits_the_default_budget_with_margin(gateway: GraphQLClient) -> None:
    status, body = await post(gateway, DETAILED, as_="lawyer-chen", extensions={"cost": True})
    assert status == 200 and "errors" not in body, body.get("errors")
    assert len(body["data"]["myCases"]["edges"]) == 20
    cost = body["extensions"]["cost"]
    assert cost["budget"] == 5000 and cost["estimated"] * 2 < cost["budget"]
    assert cost["courtCalls"] == 13 + 20 * 2  # the page, and each case's court and platform documents


async def test_the_cost_is_reported_only_when_asked(gateway: GraphQLClient) -> None:
    query = "{ viewer { name } }"
    _, plain = await post(gateway, query, as_="party-wang")
    _, declined = await post(gateway, query, as_="party-wang", extensions={"cost": False})
    _, asked = await post(gateway, query, as_="party-wang", extensions={"cost": True})
    assert "cost" not in (plain.get("extensions") or {}) and "cost" not in (declined.get("extensions") or {})
    assert asked["extensions"]["cost"] == {"estimated": 1, "courtCalls": 0, "budget": 5000}


async def test_costs_are_cached_and_the_validation_cache_still_hits(gateway: GraphQLClient) -> None:
    from gateway.schema import COST_CACHE, DOCUMENTS

    query = "query Costed { viewer { name } courts { code } }"
    await post(gateway, query, as_="party-wang")
    cost_hits = COST_CACHE.hits
    validate_hits = DOCUMENTS.stats.validation_hits
    for _ in range(3):
        status, body = await post(gateway, query, as_="party-wang", extensions={"cost": True})
        assert status == 200 and body["extensions"]["cost"]["estimated"] == 1 + 5
    assert COST_CACHE.hits - cost_hits == 3
    assert DOCUMENTS.stats.validation_hits - validate_hits == 3
