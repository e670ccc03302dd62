"""case(caseNumber): numbers of the whole type-code table, and numbers of unknown type, reach their court.

Before: （2023）粤01民辖终123号 answered INVALID_CASE_NUMBER "unknown type code 民辖终", and an error echoed
the whole input back.
"""

from __future__ import annotations

import pytest

from gateway.casenumber import TYPE_TABLE
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.cases.test_case_detail import cases_of, codes
from tests.conftest import GraphQLClient

QUERY = """
query ($n: String!) {
  case(caseNumber: $n) { caseNumber typeCode procedure category }
}"""


async def test_a_jurisdiction_appeal_is_looked_up_not_refused(gateway: GraphQLClient) -> None:
    body = await gateway.query(QUERY, {"n": "（2023）粤01民辖终123号"}, as_="lawyer-li")
    assert codes(body) == ["NOT_FOUND"], "a real number: its court is asked and has no such case"


@pytest.mark.parametrize(
    "number",
    ["（2024）粤0105司救民3号", "（2024）粤0105民诉前调7号", "〔2024〕粤0105 刑更 12"],
    ids=["known-new-code", "unknown-code", "sloppy"],
)
async def test_numbers_of_any_type_route_to_their_court(
    gateway: GraphQLClient, sims: SimulatorCluster, number: str
) -> None:
    await sims.set_outage("粤0105", True)
    body = await gateway.query(QUERY, {"n": number}, as_="lawyer-li")
    assert body["data"]["case"] is None
    assert [(e["extensions"]["code"], e["extensions"]["court"]) for e in body["errors"]] == [
        ("COURT_UNAVAILABLE", "粤0105")
    ], "routed to 粤0105 (down), not refused and not fanned out"


async def test_a_huge_case_number_gets_a_short_answer(gateway: GraphQLClient) -> None:
    huge = "（2026）粤0104民初" + "1" * 60_000 + "a号"  # as long as a GraphQL document may be
    body = await gateway.query(QUERY, {"n": huge}, as_="lawyer-li")
    assert codes(body) == ["INVALID_CASE_NUMBER"]
    assert len(body["errors"][0]["message"]) < 200
    status, body = await gateway.post(QUERY, {"n": huge + "1" * 400_000}, as_="lawyer-li")
    assert status == 413 and codes(body) == ["DOCUMENT_TOO_LARGE"], "longer: refused before it is parsed"
    assert len(body["errors"][0]["message"]) < 200


async def test_cases_carry_their_category(gateway: GraphQLClient, cluster: SimulatorCluster, world: World) -> None:
    seen = set()
    for case in cases_of(cluster, world, "lawyer-chen")[:20]:
        body = await gateway.query(QUERY, {"n": case.case_number}, as_="lawyer-chen")
        shown = body["data"]["case"]
        row = TYPE_TABLE[case.type_code]
        assert (shown["typeCode"], shown["category"], shown["procedure"]) == (case.type_code, row.category, row.stage)
        seen.add(shown["category"])
    assert "民事" in seen
