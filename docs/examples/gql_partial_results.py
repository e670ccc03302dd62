"""Keep the other courts' data when one court is down, with the Python ``gql`` client.

``pip install "gql[aiohttp]==4.4.0"``. gql raises ``TransportQueryError`` whenever an answer has ``errors``,
even when ``data`` came with them; the data is on the exception. ``execute_keeping_partial`` keeps it, and
re-raises only when nothing ran (``data`` is null: a refused or invalid request has no partial result).
This file is the API guide's worked example (docs/api-guide.md, "Partial results") and is run by
``tests/cases/test_partial_results_gql.py`` against a real gateway with one court down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportQueryError

MY_CASES = """
query MyCases($first: Int!, $after: String) {
  myCases(first: $first, after: $after) {
    totalCount
    edges { node { caseNumber courtCode cause } }
    pageInfo { hasNextPage endCursor }
    unavailableCourts { court { code name } code retryAfter }
  }
}"""


@dataclass
class Partial:
    """An answer's data, and its errors (empty when every court answered)."""

    data: dict[str, Any]
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def missing_courts(self) -> dict[str, str]:
        """Court code → error code, for every court that did not answer."""
        return {
            e["extensions"]["court"]: e["extensions"]["code"] for e in self.errors if "court" in e.get("extensions", {})
        }


async def execute_keeping_partial(session: AsyncClientSession, request: GraphQLRequest) -> Partial:
    try:
        return Partial(await session.execute(request))
    except TransportQueryError as e:
        if e.data is None:  # nothing was answered: UNAUTHENTICATED, BAD_USER_INPUT … is an error to handle
            raise
        return Partial(e.data, list(e.errors or []))


async def my_cases(url: str, token: str, first: int = 20, after: str | None = None) -> Partial:
    transport = AIOHTTPTransport(url=url, headers={"Authorization": f"Bearer {token}"})
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        request = GraphQLRequest(MY_CASES, variable_values={"first": first, "after": after})
        return await execute_keeping_partial(session, request)
