"""The access line: one JSON line per request, with what an operator needs and no personal data."""

from __future__ import annotations

import json
import logging
import re

import pytest

from gateway.observability.logging import json_formatter
from gateway.observability.record import principal_hash
from simulators.generator import World
from tests.conftest import GraphQLClient
from tests.observability.conftest import post

MY_CASES = "query MyCases { myCases(first: 5) { totalCount edges { node { caseNumber } } } }"


def access_lines(caplog: pytest.LogCaptureFixture, request_id: str) -> list[dict[str, object]]:
    """The access lines of ``request_id``, formatted as the gateway writes them."""
    formatter = json_formatter()
    return [
        json.loads(formatter.format(r))
        for r in caplog.records
        if r.name == "gateway.access" and getattr(r, "request_id", None) == request_id
    ]


async def test_one_access_line_per_request_with_its_fields_and_no_personal_data(
    observed: GraphQLClient, caplog: pytest.LogCaptureFixture, world: World
) -> None:
    services = observed.app.state.services  # type: ignore[attr-defined]
    await services.cache.clear()
    token = observed.tokens["lawyer-chen"]
    caplog.set_level(logging.INFO, logger="gateway.access")
    status, headers, body = await post(
        observed, {"query": MY_CASES}, {"Authorization": f"Bearer {token}", "X-Request-Id": "access-line-1"}
    )
    assert status == 200 and "errors" not in body
    [line] = access_lines(caplog, "access-line-1")
    assert line["message"] == "request" and line["level"] == "INFO" and line["logger"] == "gateway.access"
    assert line["method"] == "POST" and line["route"] == "/graphql" and line["status"] == 200
    assert line["operation"] == "MyCases" and line["operation_type"] == "query" and line["outcome"] == "ok"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert re.fullmatch(r"[0-9a-f]{32}", str(line["trace_id"])), "tracing is on for this gateway"
    assert headers["traceresponse"].split("-")[1] == line["trace_id"]
    assert line["courts"] == sorted(a.court.slug for a in services.registry.courts())
    assert line["error_codes"] == []
    key = services.settings.log_hash_key
    assert line["principal"] == principal_hash("lawyer-chen", key) and re.fullmatch(
        r"[0-9a-f]{16}", str(line["principal"])
    )

    text = json_formatter().format(next(r for r in caplog.records if getattr(r, "request_id", None) == "access-line-1"))
    person = world.demo["lawyer-chen"]
    for personal in ("lawyer-chen", person.name, person.number, person.phone, token):
        assert personal and personal not in text, personal


async def test_the_access_line_names_the_court_that_failed_and_the_anonymous_caller(
    observed: GraphQLClient, caplog: pytest.LogCaptureFixture, sims: object
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.access")
    status, _, _ = await post(observed, {"query": "query Anon { viewer { name } }"}, {"X-Request-Id": "access-line-2"})
    assert status == 200
    [line] = access_lines(caplog, "access-line-2")
    assert line["principal"] is None and line["courts"] == [] and line["operation"] == "Anon"
    assert line["outcome"] == "rejected" and line["error_codes"] == ["UNAUTHENTICATED"], line

    status, _, _ = await post(
        observed, {"query": "{ __typename }", "variables": [1]}, {"X-Request-Id": "access-line-3"}
    )
    [line] = access_lines(caplog, "access-line-3")
    assert line["status"] == status and line["status"] >= 400 and line["error_codes"], line


async def test_every_line_logged_during_a_request_carries_its_request_id(
    observed: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await post(observed, {"query": "query Bad { viewer { nope } }"}, {"X-Request-Id": "access-line-4"})
    refused = [
        r for r in caplog.records if r.name == "gateway.graphql" and getattr(r, "request_id", None) == "access-line-4"
    ]
    assert refused, "the GraphQL layer's own line about the refusal is tied to the request"
