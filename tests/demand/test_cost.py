"""The static cost of operations against the real schema: list sizes, nesting, aliases, fragments, variables.

Figures are worked out by hand from the rule in ``gateway.demand.cost``: 1 per object, ``COURT_CALL`` per
court call, lists multiply what is below them.
"""

from __future__ import annotations

import time

from graphql import parse

from gateway.demand.cost import COURT_CALL, COURTS, MAX_SIZE, WRITE, Cost, operation_cost
from gateway.schema import schema

GRAPH = schema._schema
ASSUMED = 5


def cost(query: str, variables: dict[str, object] | None = None, *, operation: str | None = None) -> Cost:
    return operation_cost(GRAPH, parse(query), operation, variables, assumed_list_size=ASSUMED)


def test_scalars_are_free_and_objects_cost_one() -> None:
    assert cost("{ viewer { name phone } }") == Cost(1, 0)
    assert cost("{ __typename }") == Cost(0, 0)


def test_a_connection_sizes_its_edges_by_first_and_a_court_list_costs_its_court_calls() -> None:
    # connection 1, edges 20 × (edge 1 + node 1), page info 1; 13 court calls
    page = "{ myCases(first: 20) { edges { node { caseNumber } } pageInfo { hasNextPage } } }"
    assert cost(page) == Cost(1 + 20 * 2 + 1 + COURT_CALL * COURTS, COURTS)
    # without first: the field's default (20)
    assert cost("{ myCases { edges { node { caseNumber } } } }") == cost(page.replace(" pageInfo { hasNextPage }", ""))


def test_first_comes_from_a_variable_its_default_or_the_field() -> None:
    query = "query ($n: Int! = 7) { courtCases(first: $n) { edges { node { caseNumber } } } }"
    per = COURT_CALL + 1  # one court call, the connection
    assert cost(query, {"n": 50}) == Cost(per + 50 * 2, 1)
    assert cost(query) == Cost(per + 7 * 2, 1)
    assert cost(query, {"n": "fifty"}) == Cost(per + 7 * 2, 1)  # not an integer: the default
    assert cost(query, {"n": 10**400}) == Cost(per + MAX_SIZE * 2, 1)  # hostile: capped, the figure stays short
    assert cost(query, {"n": -5}) == Cost(per, 1)
    assert cost("query ($n: Int) { courtCases(first: $n) { edges { node { caseNumber } } } }") == Cost(per + 20 * 2, 1)


def test_nesting_multiplies_and_per_item_court_calls_scale_with_the_list() -> None:
    # each of 100 cases: edge, node, caseFile volumes (5 assumed) each with materials (5 assumed); 1 call each
    query = "{ courtCases(first: 100) { edges { node { caseFile { kind materials { id } } } } } }"
    per_case = 2 + ASSUMED * (1 + ASSUMED)
    assert cost(query) == Cost(1 + 100 * per_case + COURT_CALL * (1 + 100), 101)


def test_aliases_add_up() -> None:
    one = "a0: myCases(first: 100) { edges { node { caseFile { kind } } } }"
    many = " ".join(one.replace("a0", f"a{i}") for i in range(30))
    assert cost("{" + many + "}") == Cost(30 * cost("{" + one + "}").total, 30 * cost("{" + one + "}").court_calls)


def test_fragments_and_inline_fragments_are_followed() -> None:
    inline = "{ myCases(first: 10) { edges { node { caseNumber caseFile { kind } } } } }"
    spread = """
    query { ...Cases }
    fragment Cases on Query { myCases(first: 10) { ...Edges } }
    fragment Edges on CaseConnection { edges { node { ... on Case { caseNumber ...File } } } }
    fragment File on Case { caseFile { kind } }
    """
    assert cost(spread) == cost(inline) == Cost(1 + 10 * (2 + ASSUMED) + COURT_CALL * (COURTS + 10), COURTS + 10)


def test_a_fragment_cycle_ends_and_a_fragment_bomb_is_costed_once_per_fragment() -> None:
    # validation refuses these before the cost is read; the walk must survive them anyway
    cyclic = "query { ...A } fragment A on Query { viewer { name } ...B } fragment B on Query { ...A }"
    assert cost(cyclic) == Cost(1, 0)
    levels = 40  # each fragment spreads the next twice: 2**40 fields if expanded naively
    bomb = ["query { ...F0 }"] + [
        f"fragment F{i} on Query {{ a: myCases {{ edges {{ node {{ caseNumber }} }} }} ...F{i + 1} ...F{i + 1} }}"
        for i in range(levels)
    ]
    started = time.perf_counter()
    found = cost("\n".join(bomb))
    assert time.perf_counter() - started < 1.0
    assert found.court_calls == COURTS * (2**levels - 1)


def test_mutations_cost_their_writes_and_the_named_operation_is_the_one_costed() -> None:
    document = """
    query Mine { viewer { name } }
    mutation Read { markNotificationsRead(all: true) }
    """
    assert cost(document, operation="Read") == Cost(WRITE, 0)
    assert cost(document, operation="Mine") == Cost(1, 0)
    assert cost(document, operation="Missing") == Cost(0, 0)


def test_nodes_costs_each_id_like_a_node_whether_listed_or_a_variable() -> None:
    """nodes(ids:) refetches every id through node's loaders: 100 ids were costed like 5 (the assumed list
    size, no court call) while they could make 100 lookups across every court."""
    one = cost('{ node(id: "x") { id } }')
    three = cost('{ nodes(ids: ["a", "b", "c"]) { id } }')
    assert three.court_calls == 3 * one.court_calls
    ids = [f"id{n}" for n in range(100)]
    hundred = cost("query ($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})
    assert hundred.court_calls == 100 * one.court_calls and hundred.total > 5000, "over the default budget"
    assert cost("query ($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids[:2]}).court_calls == 2 * one.court_calls
