"""A seeded sample of ``make fuzz`` inside the suite: 200 queries and 50 mutations as six kinds of caller.

The gateway is one of its own (its own SQLite database, so the generated mutations touch no other test's
records) in front of the session's simulators. Nothing may fail: request-level errors (parse,
validation, variable coercion) are typed at the GraphQL edge like every other error.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import graphql
import pytest

from gateway.app import create_app
from gateway.config import Settings
from gateway.schema import schema
from gateway.store.migrate import upgrade_async
from gateway.store.testing import sqlite_url
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import mint, serve_app
from tests.fuzz.fuzzer import ROLES, Problem, generate, interleaved, problems_of, send_all

SEED = 20231129
QUERIES, MUTATIONS = 200, 50


@pytest.fixture
async def own_gateway(tmp_path: Path, settings: Settings, cluster: SimulatorCluster) -> AsyncIterator[str]:
    own = settings.model_copy(update={"database_url": sqlite_url(tmp_path)})
    await upgrade_async(own.database_url)
    server, task, url = await serve_app(create_app(own, graphiql=False))
    yield f"{url}/graphql"
    server.should_exit = True
    await task


def test_the_same_seed_generates_the_same_documents() -> None:
    sdl = graphql.build_schema(schema.as_str())
    assert generate(sdl, "mutation", 5, SEED) == generate(sdl, "mutation", 5, SEED)


def test_the_checks_catch_what_they_name() -> None:
    """Each failure the fuzzer looks for, as a response would show it (and input echoed back is no leak)."""
    doc = '{ case(caseNumber: "x") { id } }'
    assert problems_of(502, "{}", doc, []) == [Problem("http-5xx", "HTTP 502")]
    untyped = '{"errors": [{"message": "boom", "path": ["case"]}]}'
    assert [p.category for p in problems_of(200, untyped, doc, [])] == ["untyped-field-error"]
    internal = '{"errors": [{"message": "Unexpected error.", "path": ["case"], "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}'
    assert [p.category for p in problems_of(200, internal, doc, [])] == ["internal"]
    for text, leak in (
        ('Traceback (most recent call last):\\n  File "/x/y.py", line 3', "leak-traceback"),
        ("at /work/main/gateway/cases/service.py", "leak-source-path"),
        ("SELECT case_bindings.id FROM case_bindings", "leak-sql"),
        ("AttributeError: 'str' object has no attribute", "leak-exception-class"),
        ("cannot reach 127.0.0.1:18404", "leak-loopback"),
    ):
        body = json.dumps({"errors": [{"message": text, "extensions": {"code": "X"}}]})
        assert leak in [p.category for p in problems_of(200, body, doc, [])], text
    echoed = '{"errors": [{"message": "no case SELECT x FROM y", "extensions": {"code": "NOT_FOUND"}}]}'
    assert problems_of(200, echoed, '{ case(caseNumber: "SELECT x FROM y") { id } }', []) == []
    hidden = '{"data": {"x": "see http://court.example:8080"}}'
    assert [p.category for p in problems_of(200, hidden, doc, ["http://court.example:8080"])] == ["leak-court-host"]


async def test_a_seeded_sample_finds_nothing(
    own_gateway: str, world: World, settings: Settings, cluster: SimulatorCluster
) -> None:
    sdl = graphql.build_schema(schema.as_str())
    documents = interleaved(generate(sdl, "query", QUERIES, SEED), generate(sdl, "mutation", MUTATIONS, SEED + 1))
    tokens = {role: mint(world, settings, login) if login else None for role, login in ROLES.items()}
    report = await send_all(own_gateway, tokens, documents, [c.base_url for c in settings.courts], concurrency=4)
    assert report.requests == {"query": QUERIES, "mutation": MUTATIONS}
    assert set(report.by_role) == set(ROLES)
    failing = report.failing()
    assert not failing, "\n".join(f"{f['category']} as {f['role']}: {f['detail']}\n{f['query']}" for f in failing[:5])
