"""Traces: W3C context in and out, one span per court call, the request id, and the watermark's trace id."""

from __future__ import annotations

import json
import re
import secrets
from urllib.parse import urlencode

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from gateway.observability.tracing import current_trace_id
from gateway.resolvers.archive import DOWNLOAD_PATH as MATERIAL_DOWNLOAD_PATH
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.archive.test_archive import DOWNLOAD, cases_of, fetch, main_material, page_texts
from tests.conftest import GraphQLClient
from tests.observability.conftest import get, post

MY_CASES = "query MyCases { myCases(first: 5) { totalCount edges { node { caseNumber } } } }"


def traceparent() -> tuple[str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, f"00-{trace_id}-{span_id}-01"


async def test_a_my_cases_request_is_one_trace_with_one_span_per_court_call(
    observed: GraphQLClient, spans: InMemorySpanExporter
) -> None:
    services = observed.app.state.services  # type: ignore[attr-defined]
    await services.cache.clear()  # every court is asked, not the cache
    trace_id, header = traceparent()
    status, headers, body = await post(
        observed,
        {"query": MY_CASES},
        {"Authorization": f"Bearer {observed.tokens['lawyer-chen']}", "traceparent": header},
    )
    assert status == 200 and "errors" not in body, body
    # W3C Trace Context Level 2: the answer names the trace the client started
    assert re.fullmatch(rf"00-{trace_id}-[0-9a-f]{{16}}-01", headers["traceresponse"]), headers

    mine = [s for s in spans.get_finished_spans() if format(s.context.trace_id, "032x") == trace_id]
    court_calls = [s for s in mine if s.name == "court list_cases"]
    courts = sorted(a.court.slug for a in services.registry.courts())
    assert sorted(s.attributes["gateway.court"] for s in court_calls) == courts, "one span per court call"
    assert all(s.attributes["gateway.court.code"] == "OK" for s in court_calls)
    # each court call's HTTP attempts are its children (aiohttp's instrumentation, which sends traceparent on)
    call_ids = {s.context.span_id for s in court_calls}
    http = [s for s in mine if s.kind is SpanKind.CLIENT and s.parent is not None and s.parent.span_id in call_ids]
    assert {s.parent.span_id for s in http if s.parent} == call_ids
    # and the request's own span is the court calls' ancestor, under the client's parent span
    server = [s for s in mine if s.kind is SpanKind.SERVER]
    assert (
        len(server) == 1 and server[0].parent is not None and format(server[0].parent.span_id, "016x") == header[36:52]
    )
    # the store's statements are spans of the same trace (the SQLAlchemy instrumentation)
    assert any("db.system" in (s.attributes or {}) or "db.system.name" in (s.attributes or {}) for s in mine)


async def test_spans_carry_no_personal_data_and_no_link_token(
    observed: GraphQLClient, spans: InMemorySpanExporter, world: World
) -> None:
    """Courts are asked by licence or ID number in the query string, and a GET request's variables are in
    its URL: neither reaches a span; nor does a download link's token."""
    services = observed.app.state.services  # type: ignore[attr-defined]
    await services.cache.clear()
    licence, id_number = world.demo["lawyer-chen"].number, world.demo["party-wang"].number
    trace_id, header = traceparent()
    auth = {"Authorization": f"Bearer {observed.tokens['lawyer-chen']}", "traceparent": header}
    status, _, _ = await post(observed, {"query": MY_CASES}, auth)
    assert status == 200
    query = "query($n: String!) { case(caseNumber: $n) { caseNumber } }"
    url = observed.url + "?" + urlencode({"query": query, "variables": json.dumps({"n": id_number})})
    status, _, _ = await get(url, auth)
    assert status == 200
    token = "eyJzZWNyZXQiOiJsaW5rIn0.c2lnbmF0dXJl"
    await get(observed.url.removesuffix("/graphql") + MATERIAL_DOWNLOAD_PATH + token, {"traceparent": header})
    mine = [s for s in spans.get_finished_spans() if format(s.context.trace_id, "032x") == trace_id]
    assert any(s.kind is SpanKind.CLIENT and "http.url" in (s.attributes or {}) for s in mine), "court HTTP spans"
    shown = " ".join(f"{k}={v}" for s in mine for k, v in (s.attributes or {}).items())
    for secret in (licence, id_number, token):
        assert secret not in shown, [a for a in shown.split(" ") if secret in a]


async def test_a_court_call_that_fails_is_a_span_with_its_error_code(
    observed: GraphQLClient, spans: InMemorySpanExporter, sims: SimulatorCluster
) -> None:
    services = observed.app.state.services  # type: ignore[attr-defined]
    await services.cache.clear()
    down = services.registry.courts()[1].court
    await sims.set_outage(down.code, True)
    trace_id, header = traceparent()
    _, _, body = await post(
        observed,
        {"query": MY_CASES},
        {"Authorization": f"Bearer {observed.tokens['lawyer-chen']}", "traceparent": header},
    )
    assert any(e["extensions"].get("court") == down.code for e in body["errors"]), body
    failed = [
        s
        for s in spans.get_finished_spans()
        if format(s.context.trace_id, "032x") == trace_id and s.attributes.get("gateway.court") == down.slug
    ]
    assert [s.attributes["gateway.court.code"] for s in failed] == ["COURT_UNAVAILABLE"]
    assert not failed[0].status.is_ok


async def test_every_answer_has_a_request_id_the_clients_own_when_it_is_sane(observed: GraphQLClient) -> None:
    base = observed.url.removesuffix("/graphql")
    status, headers, _ = await get(base + "/healthz", {"X-Request-Id": "lb-7f3a.2:9"})
    assert status == 200 and headers["x-request-id"] == "lb-7f3a.2:9"
    for insane in ("a" * 65, "id with spaces", "<script>", "编号"):
        _, headers, _ = await get(base + "/healthz", {"X-Request-Id": insane.encode().decode("latin-1")})
        assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"]), (insane, headers)
    _, first, _ = await get(base + "/healthz")
    _, second, _ = await get(base + "/readyz")
    assert first["x-request-id"] != second["x-request-id"]
    # a refusal before any GraphQL runs (a batch: BAD_REQUEST) carries one too
    status, headers, body = await post(observed, [{"query": "{ __typename }"}], {"X-Request-Id": "batch-1"})
    assert status == 400 and body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert headers["x-request-id"] == "batch-1"


async def test_the_watermark_carries_the_trace_id_of_the_request_that_issued_the_link(
    observed: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    licence = world.demo["lawyer-li"].number
    case = next(
        c
        for c in cases_of(cluster, world, "lawyer-li")
        if c.public_hearing and c.status.value != "ARCHIVED" and any(a.licence_number == licence for a in c.agents)
    )
    variables = {"n": case.case_number, "m": main_material(cluster, case)}
    trace_id, header = traceparent()
    auth = {"Authorization": f"Bearer {observed.tokens['lawyer-li']}", "traceparent": header}
    _, _, body = await post(observed, {"query": DOWNLOAD, "variables": variables}, auth)
    link = body["data"]["downloadMaterial"]
    assert link["traceId"] == trace_id
    status, pdf, _ = await fetch(observed, link["url"])
    assert status == 200 and all(trace_id in text for text in page_texts(pdf))
    # a second link in the same trace (a client re-sending its traceparent) gets an id of its own
    _, _, again = await post(observed, {"query": DOWNLOAD, "variables": variables}, auth)
    assert re.fullmatch(r"[0-9a-f]{32}", again["data"]["downloadMaterial"]["traceId"])
    assert again["data"]["downloadMaterial"]["traceId"] != trace_id


def test_outside_a_trace_there_is_no_trace_id() -> None:
    assert current_trace_id() is None
