"""The API guide's Python example (``docs/examples/gql_partial_results.py``, the ``gql`` client) keeps the
other courts' cases when one court is down: a real gateway on loopback, the real simulators, one court's
simulator stopped. gql on its own settings raises and the partial data is only on the exception.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest
from gql import Client, GraphQLRequest
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportQueryError

from gateway.adapters.model import PersonRef
from gateway.app import create_app
from gateway.config import Settings
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import serve_app

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "gql_partial_results.py"


def _example() -> ModuleType:
    """The example file as a module (it lives in docs/, outside any package)."""
    name = "gql_partial_results"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLE)
        assert spec and spec.loader
        module = sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
async def url(settings: Settings, cluster: SimulatorCluster) -> AsyncIterator[str]:
    """A gateway of the test's own (an empty cache: every court is asked)."""
    server, task, base = await serve_app(create_app(settings.model_copy(update={"change_poll_s": 0}), graphiql=False))
    yield f"{base}/graphql"
    server.should_exit = True
    await task


async def test_gql_with_the_documented_settings_keeps_the_other_courts_cases(
    url: str, sims: SimulatorCluster, world: World, tokens: dict[str, str]
) -> None:
    example = _example()
    chen = PersonRef.lawyer(world.demo["lawyer-chen"].number)
    courts = {
        b.config.code: len(sims.court_state(b.config.code).cases_of(chen))
        for b in sims.backends.values()
        if b.config.is_court
    }
    down = "粤0104"
    assert courts[down] and sum(n for code, n in courts.items() if code != down), (
        "cases at the court down and elsewhere"
    )
    await sims.set_faults(down, outage=True)

    with pytest.raises(TransportQueryError) as raised:  # gql's default: any error raises
        transport = AIOHTTPTransport(url=url, headers={"Authorization": f"Bearer {tokens['lawyer-chen']}"})
        async with Client(transport=transport, fetch_schema_from_transport=False) as session:
            await session.execute(GraphQLRequest(example.MY_CASES, variable_values={"first": 100}))
    assert raised.value.data is not None, "the partial data came with the error"

    result = await example.my_cases(url, tokens["lawyer-chen"], first=100)
    listed = [e["node"]["courtCode"] for e in result.data["myCases"]["edges"]]
    assert len(listed) == sum(n for code, n in courts.items() if code != down), "every other court's cases are kept"
    assert down not in listed
    assert result.missing_courts == {down: "COURT_UNAVAILABLE"}
    assert [(u["court"]["code"], u["code"]) for u in result.data["myCases"]["unavailableCourts"]] == [
        (down, "COURT_UNAVAILABLE")
    ]


async def test_a_request_that_got_no_answer_still_raises(url: str) -> None:
    """Nothing to keep: an anonymous caller's myCases has no data, and the example re-raises."""
    with pytest.raises(TransportQueryError) as raised:
        await _example().my_cases(url, token="not-a-token")
    assert raised.value.data is None
    assert raised.value.errors and raised.value.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
