"""``unavailableCourts`` inside ``data``: a list that lacks a court's items says so in the data itself, with
the same code as the court's error in ``errors`` and, when known, how long to wait before asking again.

Courts really fail here: the simulators' fault injection (an outage, a court that throttles), and a gateway
of the test's own whose circuit to the failing court opens (its breakers are not the session gateway's).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.adapters.model import PersonRef
from gateway.app import create_app
from gateway.config import Settings
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import GraphQLClient, serve_app

MY_CASES = """query ($first: Int!) {
  myCases(first: $first) {
    totalCount
    edges { node { courtCode } }
    unavailableCourts { court { code name } code retryAfter }
  }
}"""
TO_SIGN = """{
  documentsToSign(first: 100) {
    edges { node { courtCode deliveries { sourceCode } } }
    unavailableCourts { court { code name } code retryAfter }
  }
}"""
COURT_CASES = "{ courtCases(first: 5) { edges { node { courtCode } } unavailableCourts { court { code } code } } }"


def _errors_by_court(body: dict[str, Any]) -> dict[str, str]:
    return {e["extensions"]["court"]: e["extensions"]["code"] for e in body.get("errors", [])}


@pytest.fixture
async def own_gateway(settings: Settings, tokens: dict[str, str]) -> AsyncIterator[GraphQLClient]:
    """A gateway of the test's own: an empty cache (every court is asked) and breakers of its own."""
    server, task, url = await serve_app(create_app(settings.model_copy(update={"change_poll_s": 0}), graphiql=False))
    yield GraphQLClient(f"{url}/graphql", tokens)
    server.should_exit = True
    await task


async def test_every_court_answering_lists_none(gateway: GraphQLClient) -> None:
    body = await gateway.query(MY_CASES, {"first": 5}, as_="lawyer-chen")
    assert "errors" not in body, body["errors"]
    assert body["data"]["myCases"]["unavailableCourts"] == []


async def test_a_court_down_is_listed_in_data_with_the_code_of_its_error(
    gateway: GraphQLClient, sims: SimulatorCluster, settings: Settings
) -> None:
    await sims.set_faults("粤0104", outage=True)
    body = await gateway.query(MY_CASES, {"first": 100}, as_="lawyer-chen")
    page = body["data"]["myCases"]
    assert page["edges"], "the other courts' cases are still there"
    assert "粤0104" not in {e["node"]["courtCode"] for e in page["edges"]}
    assert page["unavailableCourts"] == [
        {
            "court": {"code": "粤0104", "name": settings.court("粤0104").name},
            "code": "COURT_UNAVAILABLE",
            "retryAfter": None,  # a refused connection says nothing about when it comes back
        }
    ]
    assert _errors_by_court(body) == {"粤0104": "COURT_UNAVAILABLE"}, "the same court and code as in errors"


async def test_a_throttling_court_gives_the_wait_it_asked_for(
    own_gateway: GraphQLClient, sims: SimulatorCluster
) -> None:
    await sims.set_faults("粤01", rate_limit_per_s=0.001)  # the simulator answers 429 with Retry-After: 1000
    body = await own_gateway.query(MY_CASES, {"first": 100}, as_="lawyer-chen")
    missing = body["data"]["myCases"]["unavailableCourts"]
    assert [(m["court"]["code"], m["code"], m["retryAfter"]) for m in missing] == [("粤01", "COURT_RATE_LIMITED", 1000)]
    [error] = body["errors"]
    assert error["extensions"] == {"code": "COURT_RATE_LIMITED", "court": "粤01", "retryAfter": 1000}


async def test_served_documents_name_the_court_they_lack(
    own_gateway: GraphQLClient, sims: SimulatorCluster, world: World
) -> None:
    wang = PersonRef.party(world.demo["party-wang"].number)
    unsigned = {code: [d for d in sims.state(code).documents_of(wang) if d.signed_at is None] for code in sims.backends}
    down = sorted(code for code, documents in unsigned.items() if documents)[0]
    assert any(documents for code, documents in unsigned.items() if code != down), "documents at other sources too"
    await sims.set_faults(down, outage=True)
    body = await own_gateway.query(TO_SIGN, as_="party-wang")  # its cache holds no list yet: every court is asked
    page = body["data"]["documentsToSign"]
    assert [(m["court"]["code"], m["code"]) for m in page["unavailableCourts"]] == [(down, "COURT_UNAVAILABLE")]
    sources = {d["sourceCode"] for e in page["edges"] for d in e["node"]["deliveries"]}
    assert page["edges"] and down not in sources, "the other sources' documents are here, none from the court down"
    assert _errors_by_court(body) == {down: "COURT_UNAVAILABLE"}


async def test_staff_court_list_names_their_court_when_it_is_down(
    gateway: GraphQLClient, sims: SimulatorCluster
) -> None:
    await sims.set_faults("粤0104", outage=True)
    body = await gateway.query(COURT_CASES, as_="clerk-0104")
    assert body["data"]["courtCases"]["edges"] == []
    assert body["data"]["courtCases"]["unavailableCourts"] == [
        {"court": {"code": "粤0104"}, "code": "COURT_UNAVAILABLE"}
    ]


async def test_an_open_circuit_says_when_the_gateway_tries_the_court_again(
    own_gateway: GraphQLClient, settings: Settings, sims: SimulatorCluster
) -> None:
    """After enough failures the gateway stops calling the court for a while: the list then says how long."""
    await sims.set_faults("粤0104", outage=True)
    missing: list[dict[str, Any]] = []
    for _ in range(12):
        body = await own_gateway.query(MY_CASES, {"first": 5}, as_="lawyer-chen")
        missing = body["data"]["myCases"]["unavailableCourts"]
        if missing and missing[0]["retryAfter"] is not None:
            break
    assert [(m["court"]["code"], m["code"]) for m in missing] == [("粤0104", "COURT_UNAVAILABLE")]
    assert missing[0]["retryAfter"] is not None, "the circuit opened and the list says when it is tried again"
    assert 1 <= missing[0]["retryAfter"] <= client_breaker_reset(settings)
    assert body["errors"][0]["extensions"]["retryAfter"] == missing[0]["retryAfter"]


def client_breaker_reset(settings: Settings) -> int:
    """The breaker's reset timeout for 粤0104, rounded up as ``retryAfter`` is."""
    from math import ceil

    from gateway.adapters.resilience import ResiliencePolicy

    return ceil(ResiliencePolicy.for_court(settings.court("粤0104")).reset_timeout_s)


pytestmark = pytest.mark.usefixtures("cluster")
