"""documentsToSign: unsigned documents from every court and the national platform, each listed once."""

from __future__ import annotations

import pytest

from gateway.adapters.model import PersonRef, ServedDocument
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import GraphQLClient

TO_SIGN = """
query ($first: Int!, $after: String) {
  documentsToSign(first: $first, after: $after) {
    totalCount
    edges { cursor node { id title caseNumber courtCode signed firstServedAt
                          deliveries { channel sourceCode servedAt signedAt } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def served_to(cluster: SimulatorCluster, world: World, login: str) -> list[ServedDocument]:
    person = world.demo[login]
    who = PersonRef(person.kind, person.number)
    return [d for b in cluster.backends.values() for d in b.state.documents_of(who)]


@pytest.fixture(autouse=True)
async def fresh_cache(gateway: GraphQLClient) -> None:
    await gateway.app.state.services.cache.clear()  # type: ignore[attr-defined]


@pytest.mark.parametrize("login", ["lawyer-chen", "party-wang"])
async def test_each_unsigned_document_once_whatever_the_channels(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, login: str
) -> None:
    served = served_to(cluster, world, login)
    by_document: dict[str, list[ServedDocument]] = {}
    for doc in served:
        by_document.setdefault(doc.fingerprint, []).append(doc)
    expected = {f for f, copies in by_document.items() if all(c.signed_at is None for c in copies)}
    assert any(len(c) > 1 for c in by_document.values()), "the world has documents sent on two channels"

    nodes, after = [], None
    while True:
        body = await gateway.query(TO_SIGN, {"first": 4, "after": after}, as_=login)
        assert "errors" not in body, body["errors"]
        page = body["data"]["documentsToSign"]
        nodes += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert page["totalCount"] == len(expected) == len(nodes)
    assert len({n["id"] for n in nodes}) == len(nodes)
    assert all(not n["signed"] for n in nodes)
    served_at = [n["firstServedAt"] for n in nodes]
    assert served_at == sorted(served_at, reverse=True), "newest first"
    multi = [n for n in nodes if len(n["deliveries"]) > 1]
    for node in multi:
        channels = [d["channel"] for d in node["deliveries"]]
        assert "NATIONAL_PLATFORM" in channels and "COURT_PLATFORM" in channels


async def test_one_persons_documents_never_reach_another(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    chen = await gateway.query(TO_SIGN, {"first": 100}, as_="lawyer-chen")
    wang = await gateway.query(TO_SIGN, {"first": 100}, as_="party-wang")
    chen_titles = {(e["node"]["caseNumber"], e["node"]["title"]) for e in chen["data"]["documentsToSign"]["edges"]}
    wang_docs = {d.fingerprint for d in served_to(cluster, world, "party-wang")}
    for edge in wang["data"]["documentsToSign"]["edges"]:
        assert edge["node"]["id"] not in {e["node"]["id"] for e in chen["data"]["documentsToSign"]["edges"]}
    assert chen_titles and wang_docs


async def test_a_missing_platform_is_named_and_the_courts_still_answer(
    gateway: GraphQLClient, sims: SimulatorCluster
) -> None:
    await sims.set_outage("全国送达平台", True)
    body = await gateway.query(TO_SIGN, {"first": 50}, as_="party-wang")
    assert body["data"]["documentsToSign"]["edges"], "the courts' own documents are still listed"
    assert [(e["extensions"]["code"], e["extensions"]["court"]) for e in body["errors"]] == [
        ("COURT_UNAVAILABLE", "全国送达平台")
    ]
