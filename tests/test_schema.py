"""The schema is a public contract: exported from the code, checked in, and cheap to validate."""

from __future__ import annotations

from pathlib import Path

from gateway.cli import main
from gateway.schema import DOCUMENTS, schema
from tests.conftest import GraphQLClient

ROOT = Path(__file__).resolve().parent.parent


def test_checked_in_schema_is_the_exported_one(tmp_path: Path) -> None:
    exported = tmp_path / "schema.graphql"
    main(["export-schema", str(exported)])
    checked_in = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert checked_in == exported.read_text(encoding="utf-8"), (
        "schema.graphql is stale: run `court-gateway export-schema` and commit it"
    )


def test_every_type_and_field_is_documented() -> None:
    from graphql import GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

    undocumented = []
    for name, graphql_type in schema._schema.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Float", "Boolean", "ID", "Date", "DateTime"):
            continue
        if not graphql_type.description:
            undocumented.append(name)
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            undocumented += [f"{name}.{f}" for f, field in graphql_type.fields.items() if not field.description]
    assert undocumented == []


async def test_parser_and_validation_caches_really_hit(gateway: GraphQLClient) -> None:
    query = "{ viewer { name roles } courts { code name } }"
    await gateway.query(query, as_="lawyer-chen")
    parse_before = DOCUMENTS.stats.parse_hits
    validate_before = DOCUMENTS.stats.validation_hits
    for login in ("lawyer-chen", "party-wang", "lawyer-li"):
        body = await gateway.query(query, as_=login)
        assert "errors" not in body
    assert DOCUMENTS.stats.parse_hits - parse_before == 3
    assert DOCUMENTS.stats.validation_hits - validate_before == 3


async def test_too_deep_queries_are_refused(gateway: GraphQLClient) -> None:
    deep = (
        "{ myCases { edges { node { relatedCases { case { relatedCases { case { relatedCases { case { "
        "relatedCases { case { relatedCases { case { caseNumber } } } } } } } } } } } } } }"
    )
    _, body = await gateway.post(deep, as_="lawyer-chen")
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    assert "data" not in body or body["data"] is None
