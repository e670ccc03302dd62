"""case(caseNumber) and node(id): routed by the number to one court, shaped and guarded per viewer."""

from __future__ import annotations

import pytest

from gateway.adapters.model import Case, CaseStatus, PersonRef
from gateway.config import Settings
from gateway.schema.common import global_id
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import GraphQLClient, mint

DETAIL = """
query ($n: String!) {
  case(caseNumber: $n) {
    id caseNumber courtCode status cause publicHearing myRoles
    parties { name role idNumber }
    agents { name licenceNumber clientName }
    relatedCases { caseNumber courtCode relation case { caseNumber status } }
    caseFile { title kind materials { id title published } }
    servedDocuments { title signed }
  }
}"""


def cases_of(cluster: SimulatorCluster, world: World, login: str) -> list[Case]:
    person = world.demo[login]
    who = PersonRef(person.kind, person.number)
    return [
        c
        for b in cluster.backends.values()
        if b.config.is_court
        for c in cluster.court_state(b.config.code).cases_of(who)
    ]


def codes(body: dict) -> list[str]:  # type: ignore[type-arg]
    return [e["extensions"]["code"] for e in body.get("errors", [])]


@pytest.fixture(autouse=True)
async def fresh_cache(gateway: GraphQLClient) -> None:
    await gateway.app.state.services.cache.clear()  # type: ignore[attr-defined]


async def test_a_case_number_goes_to_its_own_court_only(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    case = next(c for c in cases_of(cluster, world, "party-wang") if c.court_code == "粤0105")
    cluster.reset_counters()
    half_width = case.case_number.replace("（", "(").replace("）", ")")
    body = await gateway.query(DETAIL, {"n": half_width}, as_="party-wang")
    assert body["data"]["case"]["caseNumber"] == case.case_number
    touched = {
        code for code, b in cluster.backends.items() if b.state.counters["find_case"] or b.state.counters["list_cases"]
    }
    assert touched == {"粤0105"}, "never fanned out"


async def test_others_id_numbers_are_masked_and_the_internal_file_never_shown(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    wang = world.demo["party-wang"].number
    case = next(c for c in cases_of(cluster, world, "party-wang") if c.public_hearing and c.court_code != "粤01")
    body = await gateway.query(DETAIL, {"n": case.case_number}, as_="party-wang")
    shown = body["data"]["case"]
    for party in shown["parties"]:
        if party["name"] == "王芳":
            assert party["idNumber"] == wang
        else:
            assert "********" in party["idNumber"], party
    assert [v["kind"] for v in shown["caseFile"]] == ["MAIN"], "副卷 is never shown to a party"
    assert all(m["published"] for v in shown["caseFile"] for m in v["materials"])
    assert shown["myRoles"]


async def test_staff_of_the_court_see_full_numbers_and_both_volumes(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    case = next(c for c in cases_of(cluster, world, "party-wang") if c.court_code == "粤0104")
    body = await gateway.query(DETAIL, {"n": case.case_number}, as_="leader-0104")
    shown = body["data"]["case"]
    assert {v["kind"] for v in shown["caseFile"]} == {"MAIN", "INTERNAL"}
    assert all("*" not in p["idNumber"] for p in shown["parties"])
    other_court = await gateway.query(DETAIL, {"n": case.case_number}, as_="leader-01")
    assert codes(other_court) == ["NOT_FOUND"], "staff see their own court only"


async def test_lineage_from_first_instance_to_appeal(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    appeal = next(c for c in cases_of(cluster, world, "party-wang") if c.type_code == "民终")
    body = await gateway.query(DETAIL, {"n": appeal.case_number}, as_="party-wang")
    related = body["data"]["case"]["relatedCases"]
    first = next(r for r in related if r["relation"] == "FIRST_INSTANCE")
    assert first["courtCode"] != "粤01"
    assert first["case"]["caseNumber"] == first["caseNumber"], "she is a party there too"


async def test_invalid_and_unknown_and_foreign_cases(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    assert codes(await gateway.query(DETAIL, {"n": "hello"}, as_="lawyer-li")) == ["INVALID_CASE_NUMBER"]
    assert codes(await gateway.query(DETAIL, {"n": "（2024）粤0104民初999999号"}, as_="lawyer-li")) == ["NOT_FOUND"]
    chens = {c.case_number for c in cases_of(cluster, world, "lawyer-chen")}
    lis = {c.case_number for c in cases_of(cluster, world, "lawyer-li")}
    foreign = sorted(chens - lis)[0]
    mine = await gateway.query(DETAIL, {"n": foreign}, as_="lawyer-chen")
    assert mine["data"]["case"]["caseNumber"] == foreign
    # the answer is cached now; it must never reach another user
    theirs = await gateway.query(DETAIL, {"n": foreign}, as_="lawyer-li")
    assert codes(theirs) == ["NOT_FOUND"] and theirs["data"]["case"] is None
    missing = await gateway.query(DETAIL, {"n": "（2024）粤0104民初999999号"}, as_="lawyer-li")
    assert theirs["errors"][0]["message"].split(" ")[0] == missing["errors"][0]["message"].split(" ")[0]


async def test_node_refetches_cases_and_courts(gateway: GraphQLClient, cluster: SimulatorCluster, world: World) -> None:
    case = cases_of(cluster, world, "lawyer-chen")[0]
    body = await gateway.query(
        "query ($id: ID!, $court: ID!) { a: node(id: $id) { id ... on Case { caseNumber } } "
        "b: node(id: $court) { ... on Court { name } } }",
        {"id": global_id("Case", case.case_number), "court": global_id("Court", "粤0104")},
        as_="lawyer-chen",
    )
    assert body["data"]["a"]["caseNumber"] == case.case_number
    assert body["data"]["b"]["name"] == "广州市越秀区人民法院"
    denied = await gateway.query(
        "query ($id: ID!) { node(id: $id) { id } }", {"id": global_id("Case", case.case_number)}, as_="party-wang"
    )
    assert codes(denied) == ["NOT_FOUND"]


async def test_a_court_that_is_down_gives_null_and_names_the_court(
    gateway: GraphQLClient, sims: SimulatorCluster, world: World
) -> None:
    case = next(c for c in cases_of(sims, world, "lawyer-chen") if c.court_code == "粤0115")
    await sims.set_outage("粤0115", True)
    body = await gateway.query(DETAIL, {"n": case.case_number}, as_="lawyer-chen")
    assert body["data"]["case"] is None
    assert [(e["extensions"]["code"], e["extensions"]["court"]) for e in body["errors"]] == [
        ("COURT_UNAVAILABLE", "粤0115")
    ]


def test_closed_cases_exist_for_the_demo(cluster: SimulatorCluster, world: World) -> None:
    assert any(
        c.status == CaseStatus.CLOSED or c.status == CaseStatus.ARCHIVED for c in cases_of(cluster, world, "party-wang")
    )


async def test_the_case_file_needs_a_verified_identity(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    case = next(c for c in cases_of(cluster, world, "party-wang") if c.public_hearing)
    phone_only = mint(world, settings, "party-wang", level="PHONE")
    body = await gateway.query(DETAIL, {"n": case.case_number}, token=phone_only)
    assert body["data"]["case"]["caseNumber"] == case.case_number, "the case itself is still shown"
    assert body["data"]["case"]["caseFile"] is None
    assert [(e["extensions"]["code"], e["path"][-1]) for e in body["errors"]] == [("FORBIDDEN", "caseFile")]
