"""The HTTP surface: GraphQL over HTTP (POST and GET, media types), health and readiness, GraphiQL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from gateway.app import GRAPHQL_RESPONSE, create_app
from gateway.config import Settings
from gateway.store.migrate import head_revision, upgrade_async
from gateway.store.testing import postgres_schema, sqlite_url
from simulators.cluster import SimulatorCluster
from tests.conftest import GraphQLClient, serve_app


async def _get(url: str, **kwargs: object) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url, **kwargs) as r:  # type: ignore[arg-type]
        return r.status, r.headers.get("content-type", ""), await r.text()


def _base(gateway: GraphQLClient) -> str:
    return gateway.url.removesuffix("/graphql")


async def test_healthz_and_readyz(gateway: GraphQLClient) -> None:
    status, _, body = await _get(_base(gateway) + "/healthz")
    assert status == 200 and '"ok"' in body
    status, _, body = await _get(_base(gateway) + "/readyz")
    assert status == 200 and "粤0104" in body and '"ready"' in body


async def test_post_answers_json_and_negotiates_graphql_response_media_type(gateway: GraphQLClient) -> None:
    status, body = await gateway.post("{ viewer { name } }", as_="lawyer-chen")
    assert status == 200 and body["data"]["viewer"]["name"] == "陈志明"
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            gateway.url,
            json={"query": "{ viewer { name } }"},
            headers={"Accept": GRAPHQL_RESPONSE, "Authorization": f"Bearer {gateway.tokens['lawyer-chen']}"},
        ) as r,
    ):
        assert r.status == 200
        assert r.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    async with (
        aiohttp.ClientSession() as session,
        session.post(gateway.url, json={"query": "{ viewer { nope } }"}, headers={"Accept": GRAPHQL_RESPONSE}) as r,
    ):
        assert r.status == 400, "a document that fails validation never executes: a client error"
        body = await r.json(content_type=None)
        assert "data" not in body and body["errors"]


async def test_get_runs_queries(gateway: GraphQLClient) -> None:
    status, _, body = await _get(
        gateway.url,
        params={"query": "{ viewer { name } }"},
        headers={"Authorization": f"Bearer {gateway.tokens['party-wang']}"},
    )
    assert status == 200 and "王芳" in body


async def test_mutations_are_not_accepted_over_get(gateway: GraphQLClient) -> None:
    status, _, _ = await _get(gateway.url, params={"query": "mutation { x }"})
    assert status in (400, 405)


async def test_graphiql_only_when_enabled(
    gateway: GraphQLClient, settings: Settings, cluster: SimulatorCluster
) -> None:
    status, _, _ = await _get(gateway.url, headers={"Accept": "text/html"})
    assert status == 404, "production: no GraphiQL"
    server, task, url = await serve_app(create_app(settings, graphiql=True))
    try:
        status, content_type, body = await _get(url + "/graphql", headers={"Accept": "text/html"})
        assert status == 200 and "text/html" in content_type and "graphiql" in body.lower()
    finally:
        server.should_exit = True
        await task


async def test_errors_never_leak_internals(gateway: GraphQLClient) -> None:
    body = await gateway.query('{ case(caseNumber: "（2023）粤0104民初1号") { caseNumber } }', token="not.a.jwt")
    text = str(body)
    assert "Traceback" not in text and 'File "' not in text
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL")


async def _readyz_of(settings: Settings, database_url: str, **overrides: Any) -> tuple[int, dict[str, Any]]:
    app = create_app(settings.model_copy(update={"database_url": database_url, "change_poll_s": 0, **overrides}))
    server, task, url = await serve_app(app)
    try:
        async with aiohttp.ClientSession() as session, session.get(url + "/readyz") as r:
            return r.status, await r.json()
    finally:
        server.should_exit = True
        await task


@pytest.mark.skipif(not POSTGRES_URL, reason="GATEWAY_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
async def test_readyz_on_postgresql(settings: Settings, cluster: SimulatorCluster) -> None:
    async with postgres_schema(str(POSTGRES_URL)) as url:
        await upgrade_async(url)
        status, body = await _readyz_of(settings, url)
        assert status == 200 and body["database"] == "ok"
    async with postgres_schema(str(POSTGRES_URL)) as url:
        await upgrade_async(url, "0008")
        status, body = await _readyz_of(settings, url)
        assert status == 503 and body["database"].startswith("migrations pending: at 0008")


async def test_readyz_is_503_until_the_database_is_migrated_to_the_codes_head(
    settings: Settings, cluster: SimulatorCluster, tmp_path: Path
) -> None:
    url = sqlite_url(tmp_path)
    status, body = await _readyz_of(settings, url)
    assert status == 503 and body["database"].startswith("not migrated")
    await upgrade_async(url, "0008")
    status, body = await _readyz_of(settings, url)
    assert status == 503 and body["database"] == (
        f"migrations pending: at 0008, this code needs {head_revision()} (run `court-gateway migrate`)"
    )
    await upgrade_async(url)
    status, body = await _readyz_of(settings, url)
    assert status == 200 and body["status"] == "ready" and body["database"] == "ok"


async def test_readyz_is_503_when_the_database_is_unreachable(settings: Settings, cluster: SimulatorCluster) -> None:
    status, body = await _readyz_of(settings, "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    assert status == 503 and body["status"] == "not ready" and body["database"].startswith("error")
    assert body["cache"] == "ok" and "粤0104" in body["courts"]


@pytest.mark.skipif(not REDIS_URL, reason="GATEWAY_TEST_REDIS_URL is not set: Redis tests skipped")
async def test_readyz_with_redis_as_the_cache(settings: Settings, cluster: SimulatorCluster) -> None:
    status, body = await _readyz_of(settings, settings.database_url, cache_url=REDIS_URL)
    assert status == 200 and body["status"] == "ready" and body["cache"] == "ok"


async def test_readyz_is_503_when_redis_is_unreachable(settings: Settings, cluster: SimulatorCluster) -> None:
    status, body = await _readyz_of(settings, settings.database_url, cache_url="redis://127.0.0.1:1/0")
    assert status == 503 and body["database"] == "ok" and body["cache"].startswith("error")


async def test_readyz_names_a_court_that_is_down_and_stays_ready(
    gateway: GraphQLClient, sims: SimulatorCluster
) -> None:
    await sims.set_outage("粤0104", True)
    body = await gateway.query("{ myCases(first: 5) { edges { node { caseNumber } } } }", as_="lawyer-chen")
    assert [e["extensions"]["court"] for e in body["errors"]] == ["粤0104"]
    status, _, text = await _get(_base(gateway) + "/readyz")
    ready = orjson.loads(text)
    assert status == 200 and ready["status"] == "ready"
    assert "粤0104" in ready["degraded"] and ready["courts"]["粤0104"] != "HEALTHY"


async def test_bodies_over_the_limit_are_refused_before_parsing(settings: Settings, cluster: SimulatorCluster) -> None:
    limit = 4096
    server, task, url = await serve_app(create_app(settings.model_copy(update={"max_request_bytes": limit})))
    small = {"query": "{ __typename }"}
    big = {"query": "{ __typename }", "variables": {"pad": "x" * (limit * 2)}}

    async def chunked(payload: bytes) -> Any:
        for i in range(0, len(payload), 1024):
            yield payload[i : i + 1024]

    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{url}/graphql", json=small) as r:
                assert r.status == 200, "a request under the limit is served"
            async with session.post(f"{url}/graphql", json=big) as r:
                body = await r.json()
                assert r.status == 413
                assert body["errors"][0]["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "maxBytes": limit}
            headers = {"content-type": "application/json"}
            async with session.post(f"{url}/graphql", data=chunked(orjson.dumps(big)), headers=headers) as r:
                assert "content-length" not in r.request_info.headers, "sent without a declared length"
                assert r.status == 413, "a streamed body is cut off once it passes the limit"
                assert (await r.json())["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    finally:
        server.should_exit = True
        await task


async def test_a_variable_that_does_not_coerce_is_bad_user_input_naming_the_value(gateway: GraphQLClient) -> None:
    query = "query ($s: [CaseStatus!]) { myCases(first: 1, filter: {statuses: $s}) { totalCount } }"
    _, body = await gateway.post(query, {"s": ["GOSSIP"]}, as_="lawyer-chen")
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "GOSSIP" in error["message"] and "CaseStatus" in error["message"], "not masked as an unexpected error"
    assert body.get("data") is None
