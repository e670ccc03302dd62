"""Who may introspect the schema: everyone in the demo, signed-in callers in production, nobody when off."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.app import create_app
from gateway.config import Settings
from gateway.security import introspection_policy
from simulators.cluster import SimulatorCluster
from tests.conftest import GraphQLClient, serve_app

SCHEMA = "{ __schema { queryType { name } } }"
TYPE = '{ __type(name: "Case") { name } }'
HIDDEN = "query { ...F } fragment F on Query { __schema { types { name } } }"


def codes(body: dict) -> list[str]:  # type: ignore[type-arg]
    return [e["extensions"]["code"] for e in body.get("errors", [])]


@pytest.fixture(scope="module")
async def gateways(
    settings: Settings, cluster: SimulatorCluster, tokens: dict[str, str]
) -> AsyncIterator[dict[str, GraphQLClient]]:
    served = {}
    for policy in ("authenticated", "off"):
        app = create_app(settings.model_copy(update={"introspection": policy}), graphiql=False)
        served[policy] = (*await serve_app(app),)
    yield {policy: GraphQLClient(f"{url}/graphql", tokens) for policy, (_, _, url) in served.items()}
    for server, task, _ in served.values():
        server.should_exit = True
        await task


def test_the_demo_lets_everyone_introspect_and_production_only_signed_in_callers(settings: Settings) -> None:
    assert introspection_policy(settings) == "all"
    assert introspection_policy(settings.model_copy(update={"mode": "production"})) == "authenticated"
    assert introspection_policy(settings.model_copy(update={"mode": "production", "introspection": "off"})) == "off"


async def test_anyone_introspects_the_demo(gateway: GraphQLClient) -> None:
    body = await gateway.query(SCHEMA)
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_anonymous_callers_are_refused_introspection_when_it_is_for_signed_in_callers(
    gateways: dict[str, GraphQLClient],
) -> None:
    gateway = gateways["authenticated"]
    for document in (SCHEMA, TYPE, HIDDEN):
        body = await gateway.query(document)
        assert codes(body) == ["INTROSPECTION_DISABLED"] and body.get("data") is None, document
    assert (await gateway.query("{ __typename }"))["data"] == {"__typename": "Query"}, "__typename is no secret"
    body = await gateway.query(SCHEMA, as_="lawyer-chen")
    assert body["data"]["__schema"]["queryType"]["name"] == "Query", "a signed-in caller (GraphiQL with a token)"


async def test_nobody_introspects_when_it_is_off(gateways: dict[str, GraphQLClient]) -> None:
    for who in (None, "lawyer-chen", "leader-0104"):
        body = await gateways["off"].query(TYPE, as_=who)
        assert codes(body) == ["INTROSPECTION_DISABLED"], who
    body = await gateways["off"].query("{ viewer { name } }", as_="lawyer-chen")
    assert body["data"]["viewer"]["name"], "other queries run as before"
