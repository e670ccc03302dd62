"""The GraphQL edge under hostile input: no request freezes the gateway, every refusal is typed.

Over real HTTP. Sizes are asserted (answers stay small); times only as generous guards (process
time of this process, which serves the gateway too), never as a benchmark: ``make edge-bench`` measures.
"""

from __future__ import annotations

import base64
import logging
import time
from typing import Any

import aiohttp
import orjson
import pytest

from gateway.config import Settings
from gateway.schema import DOCUMENTS
from gateway.schema.document_cache import DocumentCache
from gateway.schema.limits import MAX_TOKENS
from tests.conftest import GraphQLClient

#: CPU seconds a refusal may take at most here (a guard: it takes milliseconds)
GUARD_S = 1.0
#: bytes an error answer may take at most
SMALL = 2048


def viewer_names(n: int, name: str = "") -> str:
    return f"query {name} {{ viewer {{ " + "name " * n + "} }"


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


async def send(
    url: str, body: bytes, headers: dict[str, str] | None = None, token: str | None = None
) -> tuple[int, bytes, float]:
    """Status, raw answer and the process time it took."""
    sent = {"content-type": "application/json", **(headers or {})}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    started = time.process_time()
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=sent) as r:
        return r.status, await r.read(), time.process_time() - started


def first_error(answer: bytes) -> dict[str, Any]:
    error: dict[str, Any] = orjson.loads(answer)["errors"][0]
    return error


# -- limits before any work ------------------------------------------------------------------------------


@pytest.mark.parametrize("names", [200_000, 2_000_000], ids=["1MB", "10MB"])
async def test_a_huge_document_is_refused_before_it_is_parsed(gateway: GraphQLClient, names: int) -> None:
    status, answer, cpu = await send(gateway.url, orjson.dumps({"query": viewer_names(names)}))
    assert status == 413
    assert first_error(answer)["extensions"] == {"code": "DOCUMENT_TOO_LARGE", "maxBytes": 64 * 1024}
    assert len(answer) < SMALL and cpu < GUARD_S


async def test_a_streamed_document_is_cut_off_at_the_document_ceiling(gateway: GraphQLClient) -> None:
    payload = orjson.dumps({"query": viewer_names(200_000)})

    async def chunked() -> Any:
        for i in range(0, len(payload), 16 * 1024):
            yield payload[i : i + 16 * 1024]

    async with (
        aiohttp.ClientSession() as session,
        session.post(gateway.url, data=chunked(), headers={"content-type": "application/json"}) as r,
    ):
        assert r.status == 413
        assert (await r.json())["errors"][0]["extensions"]["code"] == "DOCUMENT_TOO_LARGE"


async def test_a_document_over_the_token_limit_is_refused_while_parsing(gateway: GraphQLClient) -> None:
    query = viewer_names(MAX_TOKENS)
    assert len(query) < 64 * 1024, "under the byte ceiling: the token limit refuses it"
    _, answer, cpu = await send(gateway.url, orjson.dumps({"query": query}))
    assert first_error(answer)["extensions"]["code"] == "MAX_TOKENS_EXCEEDED"
    assert len(answer) < SMALL and cpu < GUARD_S


@pytest.mark.parametrize(
    "query",
    [
        "{ " + "courts { code } " * 400 + "}",
        "{ "
        + " ".join(f"...F{i}" for i in range(100))
        + " } "
        + " ".join(f"fragment F{i} on Query {{ courts {{ code }} }}" for i in range(100)),
    ],
    ids=["one-field-400-times", "100-spreads"],
)
async def test_a_document_shaped_to_make_validation_quadratic_is_refused_fast(
    gateway: GraphQLClient, query: str
) -> None:
    _, answer, cpu = await send(gateway.url, orjson.dumps({"query": query}))
    assert first_error(answer)["extensions"]["code"] == "SELECTION_TOO_LARGE"
    assert len(answer) < SMALL and cpu < GUARD_S


async def test_the_operations_part_of_a_multipart_request_has_the_document_ceiling(
    gateway: GraphQLClient,
) -> None:
    def form(operations: dict[str, Any], file: bytes) -> aiohttp.FormData:
        data = aiohttp.FormData()
        data.add_field("operations", orjson.dumps(operations).decode())
        data.add_field("map", '{"0": ["variables.file"]}')
        data.add_field("0", file, filename="a.pdf", content_type="application/pdf")
        return data

    check = "mutation ($file: Upload!) { verifyDocumentSeal(file: $file) { valid } }"
    headers = {"Authorization": f"Bearer {gateway.tokens['lawyer-chen']}"}
    async with aiohttp.ClientSession() as session:
        big_file = form({"query": check, "variables": {"file": None}}, b"%PDF" + b"x" * 200_000)
        async with session.post(gateway.url, data=big_file, headers=headers) as r:
            body = await r.json()
            assert r.status == 200 and body["data"]["verifyDocumentSeal"]["valid"] is False, "files keep their ceiling"
        padded = {"query": check, "variables": {"file": None, "pad": "x" * 70_000}}
        async with session.post(gateway.url, data=form(padded, b"%PDF"), headers=headers) as r:
            assert r.status == 413
            assert (await r.json())["errors"][0]["extensions"]["code"] == "DOCUMENT_TOO_LARGE"


async def test_the_document_ceiling_is_a_setting(settings: Settings) -> None:
    assert Settings().max_document_bytes == 64 * 1024
    assert Settings(max_document_bytes=4096).max_document_bytes == 4096


async def test_large_and_many_distinct_documents_never_grow_the_document_cache(gateway: GraphQLClient) -> None:
    large = [viewer_names(2000, f"Q{i}") for i in range(20)]
    for query in large:
        status, answer, _ = await send(gateway.url, orjson.dumps({"query": query}))
        assert status == 200 and len(answer) < SMALL
    assert not any(q in DOCUMENTS for q in large), "a document over the cacheable size is not kept"
    assert len(DOCUMENTS) <= DOCUMENTS.max_entries and DOCUMENTS.total_chars <= DOCUMENTS.max_total_chars

    cache = DocumentCache(max_entries=50, max_chars=1000, max_total_chars=10_000)
    from graphql import parse

    for i in range(1000):
        query = f"query Q{i} {{ viewer {{ name }} }}" + " " * (i % 900)
        cache.put(query, parse(query))
        assert len(cache) <= 50 and cache.total_chars <= 10_000
    assert cache.get("query Q999 { viewer { name } }" + " " * (999 % 900)) is not None, "the newest is kept"
    assert cache.get("query Q0 { viewer { name } }") is None, "the oldest went first"


# -- every error typed -----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b'"hello"', b"1", b"null", b"true", b"[]", b'[{"query": "{ __typename }"}]'])
async def test_a_body_that_is_not_one_json_object_is_bad_request(
    gateway: GraphQLClient, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="gateway"):
        status, answer, _ = await send(gateway.url, body)
    assert status == 400 and first_error(answer)["extensions"]["code"] == "BAD_REQUEST"
    refused = [r for r in caplog.records if "refused BAD_REQUEST" in r.getMessage()]
    assert refused and all(r.exc_info is None for r in refused), "one line, no traceback"
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)


async def test_a_body_that_is_not_json_is_bad_request(gateway: GraphQLClient) -> None:
    status, answer, _ = await send(gateway.url, b"{not json")
    assert status == 400 and first_error(answer)["extensions"]["code"] == "BAD_REQUEST"


DEEP = (
    "{ myCases { edges { node { relatedCases { case { relatedCases { case { relatedCases { case { "
    "relatedCases { case { relatedCases { case { caseNumber } } } } } } } } } } } } } }"
)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ viewer { name ", "GRAPHQL_PARSE_FAILED"),
        ("{ viewer { nope } }", "GRAPHQL_VALIDATION_FAILED"),
        (DEEP, "MAX_DEPTH_EXCEEDED"),
        ("{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }", "MAX_ALIASES_EXCEEDED"),
        ("{ myCases(orderBy: NOPE) { totalCount } }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ myCases(first: 99999999999) { totalCount } }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }", "GRAPHQL_VALIDATION_FAILED"),
    ],
    ids=["syntax", "unknown-field", "depth", "aliases", "enum-literal", "int-overflow-literal", "fragment-cycle"],
)
async def test_parse_and_validation_errors_are_typed(gateway: GraphQLClient, query: str, code: str) -> None:
    _, body = await gateway.post(query, as_="lawyer-chen")
    assert body.get("data") is None
    assert body["errors"] and {e["extensions"]["code"] for e in body["errors"]} == {code}


async def test_the_validation_cache_serves_typed_errors_every_time(gateway: GraphQLClient) -> None:
    for _ in range(3):
        _, body = await gateway.post(DEEP, as_="lawyer-chen")
        assert body["errors"][0]["extensions"]["code"] == "MAX_DEPTH_EXCEEDED"
        assert "exceeds maximum operation depth" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("variables", "query"),
    [
        ({"n": 2**40}, "query ($n: Int!) { myCases(first: $n) { totalCount } }"),
        ({"s": ["GOSSIP"]}, "query ($s: [CaseStatus!]) { myCases(first: 1, filter: {statuses: $s}) { totalCount } }"),
    ],
    ids=["int-overflow", "enum"],
)
async def test_variables_that_do_not_coerce_are_bad_user_input(
    gateway: GraphQLClient, variables: dict[str, Any], query: str
) -> None:
    _, body = await gateway.post(query, variables, as_="lawyer-chen")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_errors_quote_only_a_short_prefix_of_what_was_sent(gateway: GraphQLClient) -> None:
    query = "query ($s: [CaseStatus!]) { myCases(first: 1, filter: {statuses: $s}) { totalCount } }"
    _, answer, _ = await send(gateway.url, orjson.dumps({"query": query, "variables": {"s": ["X" * 60_000]}}))
    error = first_error(answer)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "XXXX…" in error["message"] and "X" * 41 not in error["message"], "a prefix of 40 characters at most"
    assert len(answer) < SMALL
    _, body = await gateway.post(
        '{ ticketReport(court: "%s", from: "2024-01-01", to: "2024-01-31") { courtCode } }' % ("粤" * 5000),
        as_="head-0104",
    )
    assert body["errors"][0]["extensions"]["reason"] == "UNKNOWN_COURT"
    assert len(body["errors"][0]["message"]) < 200, "a resolver's message is cut as well"


NOTIFICATION = "mutation ($ids: [ID!]) { markNotificationsRead(ids: $ids) }"


@pytest.mark.parametrize(
    ("login", "query", "variables", "reason"),
    [
        ("lawyer-chen", 'mutation { verifyDocumentSeal(file: "x") { valid } }', {}, "NOT_A_FILE"),
        ("lawyer-chen", "{ myCases(first: 1, after: $a) { totalCount } }", {"a": "garbage!!"}, "CURSOR"),
        (
            "lawyer-chen",
            "{ myCases(first: 1, after: $a) { totalCount } }",
            {"a": b64('{"k":"myCases","s":5}')},
            "CURSOR",
        ),
        ("lawyer-chen", "{ myCases(first: 1, after: $a) { totalCount } }", {"a": b64('{"k":"myCases"}')}, "CURSOR"),
        (
            "party-wang",
            "{ documentsToSign(first: 1, after: $a) { totalCount } }",
            {"a": b64('{"k":"documentsToSign"}')},
            "CURSOR",
        ),
        (
            "party-wang",
            "{ notifications(first: 1, after: $a) { totalCount } }",
            {"a": b64(f'{{"k":"notifications","id":{2**70}}}')},
            "CURSOR",
        ),
        (
            "clerk-0104",
            "{ myWorkQueue(first: 1, after: $a) { totalCount } }",
            {"a": b64('{"k":"workQueue","i":-5}')},
            "CURSOR",
        ),
        ("party-wang", NOTIFICATION, {"ids": ["²"]}, "GLOBAL_ID"),
        ("party-wang", NOTIFICATION, {"ids": [b64("Notification:²")]}, "GLOBAL_ID"),
        ("party-wang", NOTIFICATION, {"ids": [b64(f"Notification:{2**70}")]}, "GLOBAL_ID"),
        ("party-wang", "{ node(id: $a) { id } }", {"a": "!!!"}, "GLOBAL_ID"),
        ("lawyer-chen", "{ myCases(first: 1000) { totalCount } }", {}, "FIRST"),
        (
            "head-0104",
            '{ ticketReport(court: "粤0104", from: "1000-01-01", to: "9999-12-31") { courtCode } }',
            {},
            "PERIOD",
        ),
    ],
    ids=[
        "upload-literal",
        "cursor-garbage",
        "cursor-shape",
        "cursor-empty",
        "cursor-documents",
        "cursor-2^70",
        "cursor-negative",
        "id-not-base64",
        "id-superscript-digit",
        "id-2^70",
        "node-id",
        "first",
        "report-period",
    ],
)
async def test_bad_input_is_bad_user_input_with_a_reason(
    gateway: GraphQLClient, login: str, query: str, variables: dict[str, Any], reason: str
) -> None:
    if "$a" in query:
        query = "query ($a: " + ("ID!" if "node(" in query else "String") + ") " + query
    _, body = await gateway.post(query, variables, as_=login)
    error = body["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "reason": reason}, error


# -- subscriptions over HTTP -----------------------------------------------------------------------------


@pytest.mark.parametrize("accept", ["multipart/mixed", "text/event-stream", "application/json"])
async def test_a_subscription_over_http_is_refused_naming_the_websocket(
    gateway: GraphQLClient, accept: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = orjson.dumps({"query": "subscription { notificationAdded { id } }"})
    with caplog.at_level(logging.INFO):
        status, answer, _ = await send(gateway.url, body, {"accept": accept}, token=gateway.tokens["party-wang"])
    error = first_error(answer)
    assert status == 400 and error["extensions"]["code"] == "SUBSCRIPTION_OVER_HTTP_UNSUPPORTED"
    assert "WebSocket" in error["message"] and "/graphql" in error["message"]
    assert not any(r.exc_info or r.levelno >= logging.ERROR for r in caplog.records), "no traceback"
