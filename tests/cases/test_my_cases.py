"""myCases: one list across all courts, paginated by opaque cursors, partial when a court fails."""

from __future__ import annotations

import time
from typing import Any

import pytest

from gateway.adapters.model import Case, CaseStatus, PersonRef
from gateway.config import Settings
from gateway.core.cursors import Positions, encode_cursor
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import GraphQLClient, background_paused

PAGE = """
query ($first: Int!, $after: String, $filter: CaseFilter, $order: CaseOrder! = FILED_DESC) {
  myCases(first: $first, after: $after, filter: $filter, orderBy: $order) {
    totalCount
    edges { cursor node { caseNumber courtCode status filedOn cause lastActivityAt } }
    pageInfo { hasNextPage endCursor }
  }
}"""

DETAILED = """
query {
  myCases(first: 20) {
    edges { node {
      caseNumber status
      parties { name role idNumber } agents { name licenceNumber firm clientName }
      panel { name role division } hearings { startsAt room kind }
      relatedCases { caseNumber courtCode relation }
      servedDocuments { title firstServedAt signed deliveries { channel sourceCode } }
    } }
  }
}"""


def truth(cluster: SimulatorCluster, world: World, login: str) -> list[Case]:
    """The merged list as the courts themselves hold it now, newest filing first."""
    person = world.demo[login]
    who = PersonRef(person.kind, person.number)
    cases = [
        c
        for b in cluster.backends.values()
        if b.config.is_court
        for c in cluster.court_state(b.config.code).cases_of(who)
    ]
    return sorted(cases, key=lambda c: (c.filed_on, c.court_code, c.case_id), reverse=True)


async def all_pages(gateway: GraphQLClient, login: str, first: int, **variables: Any) -> tuple[list[dict], dict]:  # type: ignore[type-arg]
    nodes: list[dict] = []  # type: ignore[type-arg]
    after = None
    first_page: dict = {}  # type: ignore[type-arg]
    for _ in range(100):
        body = await gateway.query(PAGE, {"first": first, "after": after, **variables}, as_=login)
        assert "errors" not in body, body["errors"]
        page = body["data"]["myCases"]
        first_page = first_page or page
        nodes += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes, first_page
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("pagination does not end")


@pytest.fixture(autouse=True)
async def fresh_cache(gateway: GraphQLClient) -> None:
    await gateway.app.state.services.cache.clear()  # type: ignore[attr-defined]


@pytest.mark.parametrize("login", ["lawyer-chen", "lawyer-li", "party-wang"])
async def test_one_merged_list_across_courts_equals_the_courts_records(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, login: str
) -> None:
    expected = truth(cluster, world, login)
    nodes, first_page = await all_pages(gateway, login, first=7)
    assert [n["caseNumber"] for n in nodes] == [c.case_number for c in expected]
    assert first_page["totalCount"] == len(expected)
    if login == "lawyer-chen":
        assert len({n["courtCode"] for n in nodes}) >= 8


async def test_every_page_knows_the_whole_lists_count_and_its_cursors_are_short(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    expected = truth(cluster, world, "lawyer-chen")
    totals: list[int | None] = []
    lengths: list[int] = []
    after = None
    for _ in range(100):
        page = (await gateway.query(PAGE, {"first": 7, "after": after}, as_="lawyer-chen"))["data"]["myCases"]
        totals.append(page["totalCount"])
        lengths += [len(e["cursor"]) for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(totals) > 3 and set(totals) == {len(expected)}, totals
    assert max(lengths) <= 200, "13 courts' positions: 110-159 characters (320-391 in the earlier JSON form)"

    narrowed = {"first": 3, "filter": {"statuses": ["CLOSED", "ARCHIVED"]}}
    first = (await gateway.query(PAGE, narrowed, as_="lawyer-chen"))["data"]["myCases"]
    second = await gateway.query(PAGE, {**narrowed, "after": first["pageInfo"]["endCursor"]}, as_="lawyer-chen")
    assert (first["totalCount"], second["data"]["myCases"]["totalCount"]) == (None, None), "no page can know it"


async def test_a_cursor_of_the_earlier_form_still_resumes_the_list(gateway: GraphQLClient) -> None:
    first = (await gateway.query(PAGE, {"first": 5}, as_="lawyer-chen"))["data"]["myCases"]
    cursor = first["pageInfo"]["endCursor"]
    resumed = Positions.decode("myCases", cursor).positions
    earlier = encode_cursor("myCases", {"s": {k: None if v is None else list(v) for k, v in resumed.items()}})
    now = (await gateway.query(PAGE, {"first": 5, "after": cursor}, as_="lawyer-chen"))["data"]["myCases"]
    then = (await gateway.query(PAGE, {"first": 5, "after": earlier}, as_="lawyer-chen"))["data"]["myCases"]
    assert [e["node"] for e in then["edges"]] == [e["node"] for e in now["edges"]] != []
    assert then["totalCount"] is None, "the earlier form carries no totals of the courts already finished"


async def test_filters_narrow_the_merged_list(gateway: GraphQLClient, cluster: SimulatorCluster, world: World) -> None:
    expected = [
        c
        for c in truth(cluster, world, "lawyer-chen")
        if c.court_code in ("粤0104", "粤01") and c.status in (CaseStatus.CLOSED, CaseStatus.ARCHIVED)
    ]
    nodes, first_page = await all_pages(
        gateway, "lawyer-chen", first=3, filter={"courts": ["粤0104", "粤01"], "statuses": ["CLOSED", "ARCHIVED"]}
    )
    assert [n["caseNumber"] for n in nodes] == [c.case_number for c in expected]
    assert first_page["totalCount"] is None, "a narrowing filter makes the courts' counts meaningless"
    cause = expected[0].cause
    nodes, _ = await all_pages(gateway, "lawyer-chen", first=20, filter={"text": cause})
    assert nodes and all(cause in n["cause"] for n in nodes)


async def test_order_by_last_activity(gateway: GraphQLClient, cluster: SimulatorCluster, world: World) -> None:
    expected = sorted(
        truth(cluster, world, "party-wang"), key=lambda c: (c.last_activity_at, c.court_code, c.case_id), reverse=True
    )
    nodes, _ = await all_pages(gateway, "party-wang", first=2, order="LAST_ACTIVITY_DESC")
    assert [n["caseNumber"] for n in nodes] == [c.case_number for c in expected]


async def test_bad_input_is_typed(gateway: GraphQLClient) -> None:
    for variables, code in (
        ({"first": 0}, "BAD_USER_INPUT"),
        ({"first": 500}, "BAD_USER_INPUT"),
        ({"first": 5, "after": "bm90LWEtY3Vyc29y"}, "BAD_USER_INPUT"),
        ({"first": 5, "filter": {"courts": ["粤9999"]}}, "BAD_USER_INPUT"),
    ):
        body = await gateway.query(PAGE, variables, as_="lawyer-chen")
        assert [e["extensions"]["code"] for e in body["errors"]] == [code], variables


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ({"outage": True}, "COURT_UNAVAILABLE"),
        ({"hang": True}, "COURT_TIMEOUT"),
        ({"rate_limit_per_s": 0.001}, "COURT_RATE_LIMITED"),
    ],
)
async def test_a_failing_court_is_named_and_the_others_answer(
    gateway: GraphQLClient,
    sims: SimulatorCluster,
    world: World,
    settings: Settings,
    fault: dict,
    code: str,  # type: ignore[type-arg]
) -> None:
    await sims.set_faults("粤0104", **fault)
    expected = [c for c in truth(sims, world, "lawyer-chen") if c.court_code != "粤0104"]
    started = time.monotonic()
    body = await gateway.query(PAGE, {"first": 100}, as_="lawyer-chen")
    elapsed = time.monotonic() - started
    assert [n["node"]["caseNumber"] for n in body["data"]["myCases"]["edges"]] == [c.case_number for c in expected]
    assert [(e["extensions"]["code"], e["extensions"]["court"]) for e in body["errors"]] == [(code, "粤0104")]
    assert body["errors"][0]["path"] == ["myCases"]
    assert body["data"]["myCases"]["totalCount"] is None, "the failed court's cases cannot be counted"
    message = body["errors"][0]["message"]
    assert message.startswith("粤0104 ") and "127.0.0.1" not in message and "Error" not in message, message
    assert elapsed < settings.request_deadline_s + 0.5, "the answer comes within the request deadline"


async def test_a_page_with_nested_detail_costs_one_call_per_court_per_kind(
    gateway: GraphQLClient, sims: SimulatorCluster
) -> None:
    async with background_paused(gateway.app):  # type: ignore[attr-defined]
        sims.reset_counters()
        body = await gateway.query(DETAILED, as_="lawyer-chen")
        counters = {code: backend.state.counters.copy() for code, backend in sims.backends.items()}
    assert "errors" not in body, body.get("errors")
    assert len(body["data"]["myCases"]["edges"]) == 20
    for code, counted in counters.items():
        for kind in ("list_cases", "list_documents"):
            assert counted[kind] <= 1, f"{code} {kind}: {counted[kind]} calls"
        assert counted["get_cases"] == counted["find_case"] == 0, code


@pytest.mark.parametrize("login", ["lawyer-chen", "party-wang"])
async def test_a_narrow_filter_never_gives_an_empty_page_while_more_exists(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, login: str
) -> None:
    """first: 2 with a filter most cases fail: every page is full until the list ends, and following
    endCursor walks the whole filtered list once (it used to give empty pages with hasNextPage and a null
    endCursor, which restarts the list forever)."""
    expected = [c.case_number for c in truth(cluster, world, login) if c.status == CaseStatus.ARCHIVED]
    assert len(expected) >= 3, "the seeded world gives this person several archived cases"
    seen: list[str] = []
    after = None
    for _ in range(len(expected) + 2):
        body = await gateway.query(PAGE, {"first": 2, "after": after, "filter": {"statuses": ["ARCHIVED"]}}, as_=login)
        assert "errors" not in body, body["errors"]
        page = body["data"]["myCases"]
        names = [e["node"]["caseNumber"] for e in page["edges"]]
        seen += names
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert len(names) == 2, f"a short page while more exists: {names}"
        assert page["pageInfo"]["endCursor"], "hasNextPage without a cursor to follow"
        after = page["pageInfo"]["endCursor"]
    assert seen == expected
