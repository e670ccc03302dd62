"""myWorkQueue: a staff member's tickets to answer and filings received, soonest deadline first.

Over real HTTP against the session's gateway and simulators. The clerk of one of lawyer-chen's cases at
越秀 gets a 12368 ticket and a filing in that case; a clerk of another panel gets neither.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from gateway.adapters.model import StaffRole
from gateway.config import Settings
from gateway.schema.common import global_id
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import GraphQLClient, mint
from tests.filings.test_filings import PDF, upload
from tests.tickets.test_escalation import YUEXIU, panel_case
from tests.tickets.test_tickets import CREATE

QUEUE = """
query ($first: Int!, $after: String) {
  myWorkQueue(first: $first, after: $after) {
    totalCount
    edges { cursor node { kind subjectId courtCode caseNumber title receivedAt dueAt workingHoursLeft overdue } }
    pageInfo { hasNextPage endCursor }
  }
}"""
FILING = "query ($n: String!) { myFilings(first: 1, caseNumber: $n) { edges { node { id status } } } }"


async def queue_of(gateway: GraphQLClient, token: str, first: int = 100) -> dict[str, Any]:
    body = await gateway.query(QUEUE, {"first": first}, token=token)
    assert "errors" not in body, body
    return body["data"]["myWorkQueue"]


async def test_a_clerk_sees_the_ticket_and_the_filing_in_their_case_and_nobody_elses(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    case = panel_case(cluster, world, "lawyer-chen", YUEXIU, skip=1)
    clerk = next(s for s in case.panel if s.role == StaffRole.CLERK)
    token = mint(world, settings, "clerk-0104", staff_id=clerk.staff_id, division=clerk.division, sub=clerk.staff_id)
    other = mint(world, settings, "clerk-0104", staff_id="0104-another-panel", sub="another-clerk")
    before = await queue_of(gateway, token)

    created = await gateway.query(
        CREATE,
        {"court": YUEXIU, "category": "URGE", "content": "请尽快安排开庭。", "n": case.case_number},
        as_="lawyer-chen",
    )
    ticket = created["data"]["createTicket"]
    filed = await upload(gateway, case.case_number, [("a.pdf", PDF, "")], title="代理词", kind="AGENT_OPINION")
    assert filed["data"]["submitFiling"]["status"] == "SUBMITTED"
    for _ in range(200):  # the outbox delivers it (and tells the clerk) in the background
        found = await gateway.query(FILING, {"n": case.case_number}, as_="lawyer-chen")
        if found["data"]["myFilings"]["edges"][0]["node"]["status"] == "DELIVERED":
            break
        await asyncio.sleep(0.05)
    filing_id = found["data"]["myFilings"]["edges"][0]["node"]["id"]

    queue = await queue_of(gateway, token)
    assert queue["totalCount"] == before["totalCount"] + 2
    items = {e["node"]["subjectId"]: e["node"] for e in queue["edges"]}
    assert items[ticket["id"]]["kind"] == "TICKET" and items[filing_id]["kind"] == "FILING"
    mine = items[ticket["id"]]
    assert mine["caseNumber"] == case.case_number and mine["dueAt"] == ticket["dueAt"]
    # two working days after today, in office hours (7 a day): at most the rest of today and two days more
    assert mine["workingHoursLeft"] is not None and 0 < mine["workingHoursLeft"] <= 3 * 7
    assert "代理词" in items[filing_id]["title"] and items[filing_id]["dueAt"] is None

    # soonest deadline first, items without one after them
    nodes = [e["node"] for e in queue["edges"]]
    dues = [datetime.fromisoformat(n["dueAt"]) for n in nodes if n["dueAt"]]
    assert dues == sorted(dues)
    assert all(n["dueAt"] is None for n in nodes[len(dues) :])

    page = (await gateway.query(QUEUE, {"first": 1}, token=token))["data"]["myWorkQueue"]
    rest = await gateway.query(QUEUE, {"first": 100, "after": page["pageInfo"]["endCursor"]}, token=token)
    paged = [page["edges"][0]["node"]["subjectId"]] + [
        e["node"]["subjectId"] for e in rest["data"]["myWorkQueue"]["edges"]
    ]
    assert paged == [n["subjectId"] for n in nodes]

    theirs = {e["node"]["subjectId"] for e in (await queue_of(gateway, other))["edges"]}
    assert not theirs & {ticket["id"], filing_id}, "another panel's clerk does not see it"
    assert global_id("Ticket", "x") not in items


async def test_only_staff_have_a_work_queue(gateway: GraphQLClient) -> None:
    for login in ("lawyer-chen", "party-wang"):
        body = await gateway.query(QUEUE, {"first": 5}, as_=login)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", login
    body = await gateway.query(QUEUE, {"first": 5}, as_="clerk-0104")
    assert "errors" not in body
    garbage = await gateway.query(QUEUE, {"first": 5, "after": "garbage"}, as_="clerk-0104")
    assert garbage["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await gateway.post(QUEUE, {"first": 5}))[1]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
