"""courtCases: staff see their panels', division's or court's cases, of their own court only."""

from __future__ import annotations

import pytest

from gateway.adapters.model import CaseScope
from gateway.config import Settings
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from simulators.identities import demo_claims
from tests.conftest import GraphQLClient

PAGE = """
query ($first: Int!, $after: String, $filter: CourtCaseFilter) {
  courtCases(first: $first, after: $after, filter: $filter) {
    totalCount
    edges { node { caseNumber courtCode division panel { name role } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def scope_of(world: World, settings: Settings, login: str) -> tuple[str, CaseScope]:
    claims = demo_claims(world, settings.seed_file, login)
    role = claims["roles"][0]
    if role in ("COURT_LEADER", "ARCHIVE_ADMIN"):
        return claims["court"], CaseScope()
    if role == "DIVISION_HEAD":
        return claims["court"], CaseScope(division=claims["division"])
    return claims["court"], CaseScope(staff_id=claims["staff_id"])


async def all_pages(gateway: GraphQLClient, login: str, first: int, limit_pages: int = 100) -> list[dict]:  # type: ignore[type-arg]
    nodes: list[dict] = []  # type: ignore[type-arg]
    after = None
    for _ in range(limit_pages):
        body = await gateway.query(PAGE, {"first": first, "after": after}, as_=login)
        assert "errors" not in body, body["errors"]
        page = body["data"]["courtCases"]
        nodes += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    return nodes


@pytest.fixture(autouse=True)
async def fresh_cache(gateway: GraphQLClient) -> None:
    await gateway.app.state.services.cache.clear()  # type: ignore[attr-defined]


@pytest.mark.parametrize("login", ["clerk-0104", "judge-0104", "head-0104", "clerk-01", "head-01"])
async def test_staff_see_their_scope_of_their_own_court(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, settings: Settings, login: str
) -> None:
    court, scope = scope_of(world, settings, login)
    expected = cluster.court_state(court).cases_in_scope(scope)
    assert expected, f"{login} has cases to work on"
    nodes = await all_pages(gateway, login, first=15)
    assert [n["caseNumber"] for n in nodes] == [c.case_number for c in expected]
    assert {n["courtCode"] for n in nodes} == {court}


async def test_a_court_leader_sees_the_whole_court(gateway: GraphQLClient, cluster: SimulatorCluster) -> None:
    body = await gateway.query(PAGE, {"first": 30}, as_="leader-0104")
    expected = cluster.court_state("粤0104").cases_in_scope(CaseScope())
    page = body["data"]["courtCases"]
    assert [e["node"]["caseNumber"] for e in page["edges"]] == [c.case_number for c in expected[:30]]
    assert page["totalCount"] == len(expected)


@pytest.mark.parametrize("login", ["lawyer-chen", "party-wang"])
async def test_parties_and_lawyers_have_no_court_list(gateway: GraphQLClient, login: str) -> None:
    body = await gateway.query(PAGE, {"first": 5}, as_=login)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def test_a_clerk_sees_their_panels_cases_and_no_other_case_of_the_court(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    court, scope = scope_of(world, settings, "clerk-0104")
    mine = cluster.court_state(court).cases_in_scope(scope)[0]
    other = next(
        c for c in cluster.court_state(court).all_cases() if all(s.staff_id != scope.staff_id for s in c.panel)
    )
    query = "query ($n: String!) { case(caseNumber: $n) { caseNumber } }"
    assert (await gateway.query(query, {"n": mine.case_number}, as_="clerk-0104"))["data"]["case"]
    denied = await gateway.query(query, {"n": other.case_number}, as_="clerk-0104")
    assert [e["extensions"]["code"] for e in denied["errors"]] == ["NOT_FOUND"]


async def test_a_narrow_filter_fills_every_page_of_a_court_list(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    """courtCases(first: 3, filter: {statuses: [ARCHIVED]}): full pages until the end, no empty page with
    hasNextPage, and the walk equals the court's own archived cases in the leader's scope."""
    from gateway.adapters.model import CaseStatus

    court, scope = scope_of(world, settings, "leader-0104")
    expected = {
        c.case_number for c in cluster.court_state(court).cases_in_scope(scope) if c.status == CaseStatus.ARCHIVED
    }
    assert len(expected) > 3
    seen: list[str] = []
    after = None
    for _ in range(len(expected)):
        body = await gateway.query(
            PAGE, {"first": 3, "after": after, "filter": {"statuses": ["ARCHIVED"]}}, as_="leader-0104"
        )
        assert "errors" not in body, body["errors"]
        page = body["data"]["courtCases"]
        names = [e["node"]["caseNumber"] for e in page["edges"]]
        seen += names
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert len(names) == 3 and page["pageInfo"]["endCursor"], names
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))
