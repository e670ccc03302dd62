"""Refetching by global ID: ``nodes(ids:)`` (each ID on its own, errors at their index) and the
notifications that are Nodes now (``node(id:)`` on a Notification's ID)."""

from __future__ import annotations

from gateway.config import Settings
from gateway.schema.common import global_id
from simulators.generator import World
from tests.conftest import GraphQLClient, notice_served_to

NODES = """query ($ids: [ID!]!) {
  nodes(ids: $ids) {
    __typename id
    ... on Notification { title body }
    ... on Case { caseNumber }
  }
}"""
NODE = "query ($id: ID!) { node(id: $id) { __typename id ... on Notification { title body readAt } } }"


async def _latest_notification(gateway: GraphQLClient) -> dict:  # type: ignore[type-arg]
    listed = await gateway.query("{ notifications(first: 1) { edges { node { id title body } } } }", as_="party-wang")
    return dict(listed["data"]["notifications"]["edges"][0]["node"])


async def test_a_notification_is_a_node_refetchable_by_its_owner_only(
    gateway: GraphQLClient, settings: Settings, world: World
) -> None:
    await notice_served_to(settings, world, "party-wang", "裁定书")
    notice = await _latest_notification(gateway)
    mine = await gateway.query(NODE, {"id": notice["id"]}, as_="party-wang")
    assert "errors" not in mine, mine
    assert mine["data"]["node"] == {**notice, "__typename": "Notification", "readAt": None}

    theirs = await gateway.query(NODE, {"id": notice["id"]}, as_="lawyer-chen")
    assert theirs["data"]["node"] is None
    assert [e["extensions"]["code"] for e in theirs["errors"]] == ["NOT_FOUND"]
    for key in ("999999999999", "1e3", "-1", "99999999999999999999999"):
        missing = await gateway.query(NODE, {"id": global_id("Notification", key)}, as_="party-wang")
        assert missing["data"]["node"] is None and missing["errors"][0]["extensions"]["code"] == "NOT_FOUND", key


async def test_nodes_answers_each_id_in_order_with_errors_at_their_index(
    gateway: GraphQLClient, settings: Settings, world: World
) -> None:
    await notice_served_to(settings, world, "party-wang", "裁定书")
    notice = await _latest_notification(gateway)
    case = (await gateway.query("{ myCases(first: 1) { edges { node { id caseNumber } } } }", as_="party-wang"))[
        "data"
    ]["myCases"]["edges"][0]["node"]
    ids = [case["id"], global_id("Notification", "999999999999"), notice["id"], global_id("NoSuchType", "1")]
    body = await gateway.query(NODES, {"ids": ids}, as_="party-wang")
    found = body["data"]["nodes"]
    assert found[0] == {"__typename": "Case", "id": case["id"], "caseNumber": case["caseNumber"]}
    assert found[1] is None and found[3] is None
    assert found[2] == {"__typename": "Notification", **notice}
    errors = sorted((e["path"], e["extensions"]["code"]) for e in body["errors"])
    assert errors == [(["nodes", 1], "NOT_FOUND"), (["nodes", 3], "NOT_FOUND")]

    someone_else = await gateway.query(NODES, {"ids": [notice["id"]]}, as_="lawyer-chen")
    assert someone_else["data"]["nodes"] == [None]
    assert [(e["path"], e["extensions"]["code"]) for e in someone_else["errors"]] == [(["nodes", 0], "NOT_FOUND")]


async def test_nodes_is_bounded_before_anything_is_read(gateway: GraphQLClient) -> None:
    """Over 100 ids: refused before any is read (demand control costs each id like a node(id:), so that
    refusal comes first under the default budget; with a budget that allows it, the length check refuses)."""
    body = await gateway.query(NODES, {"ids": [global_id("Notification", "1")] * 101}, as_="party-wang")
    assert body["data"] is None or body["data"]["nodes"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["COST_LIMIT_EXCEEDED"]
    settings = gateway.app.state.services.settings  # type: ignore[attr-defined]
    budget = settings.cost_budget
    settings.cost_budget = 10**9
    try:
        body = await gateway.query(NODES, {"ids": [global_id("Notification", "1")] * 101}, as_="party-wang")
    finally:
        settings.cost_budget = budget
    assert [(e["extensions"]["code"], e["extensions"].get("reason")) for e in body["errors"]] == [
        ("BAD_USER_INPUT", "IDS")
    ]
    fine = await gateway.query(NODES, {"ids": []}, as_="party-wang")
    assert fine["data"]["nodes"] == []
