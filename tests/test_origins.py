"""Browser origins (DESIGN §8): one allowed list decides CORS on HTTP and the Origin check on WebSocket
upgrades; both over real HTTP and real WebSockets on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError

from gateway.app import create_app
from gateway.config import Settings
from tests.conftest import _free_port, serve_app

AOL = "https://aol.gzcourt.gov.cn"
VITE = "http://localhost:5173"
STRANGER = "https://evil.example"
PROTOCOL = "graphql-transport-ws"
QUERY = {"query": "{ __typename }"}


@pytest.fixture(scope="module")
async def served(settings: Settings) -> AsyncIterator[tuple[str, Settings]]:
    """A gateway on the demo's defaults, served on the port its settings name (as the demo is)."""
    port = _free_port()
    configured = settings.model_copy(update={"port": port, "change_poll_s": 0, "cors_max_age_s": 1234})
    server, task, url = await serve_app(create_app(configured), port=port)
    yield url, configured
    server.should_exit = True
    await task


@pytest.fixture(scope="module")
async def aol_only(settings: Settings) -> AsyncIterator[str]:
    """A gateway whose configuration allows the AOL frontend's origin only."""
    configured = settings.model_copy(update={"allowed_origins": (AOL,), "change_poll_s": 0})
    server, task, url = await serve_app(create_app(configured))
    yield url
    server.should_exit = True
    await task


def _vary(headers: Any) -> list[str]:
    return [v.strip().lower() for value in headers.getall("Vary", []) for v in value.split(",")]


async def _preflight(url: str, origin: str, request_headers: str = "authorization, content-type") -> Any:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": request_headers,
    }
    async with aiohttp.ClientSession() as session, session.options(url + "/graphql", headers=headers) as r:
        return r.status, r.headers


async def _post(url: str, origin: str | None, body: Any = QUERY) -> Any:
    headers = {"Origin": origin} if origin else {}
    async with aiohttp.ClientSession() as session, session.post(url + "/graphql", json=body, headers=headers) as r:
        await r.read()
        return r.status, r.headers


async def _ws_status(url: str, origin: str | None) -> int | str:
    """101 (then the connection is acknowledged), or the HTTP status the upgrade was refused with."""
    async with aiohttp.ClientSession() as session:
        try:
            ws = await session.ws_connect(
                url.replace("http://", "ws://") + "/graphql", protocols=(PROTOCOL,), origin=origin
            )
        except aiohttp.WSServerHandshakeError as e:
            return e.status
        async with ws:
            await ws.send_json({"type": "connection_init", "payload": {}})
            message = await ws.receive_json(timeout=5)
            return 101 if message["type"] == "connection_ack" else str(message)


# -- HTTP: CORS ------------------------------------------------------------------------------------------


async def test_a_preflight_from_an_allowed_origin_is_answered_and_cached(served: tuple[str, Settings]) -> None:
    url, _ = served
    status, headers = await _preflight(url, VITE)
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == VITE
    assert headers["Access-Control-Max-Age"] == "1234"
    allowed = {h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert {"GET", "POST"} <= {m.strip() for m in headers["Access-Control-Allow-Methods"].split(",")}
    assert _vary(headers).count("origin") == 1
    assert "Access-Control-Allow-Credentials" not in headers, "no cookies: credentials mode is never allowed"


async def test_a_traced_frontend_may_send_trace_context_and_read_the_trace_and_quota_headers(aol_only: str) -> None:
    status, headers = await _preflight(aol_only, AOL, "authorization, content-type, traceparent, tracestate")
    assert status == 200 and headers["Access-Control-Allow-Origin"] == AOL
    allowed = {h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert {"traceparent", "tracestate"} <= allowed
    status, answer = await _post(aol_only, AOL)
    exposed = {h.strip().lower() for h in answer["Access-Control-Expose-Headers"].split(",")}
    assert {"traceresponse", "ratelimit", "ratelimit-policy", "x-request-id"} <= exposed


async def test_a_preflight_from_another_origin_is_refused(aol_only: str) -> None:
    status, headers = await _preflight(aol_only, VITE)
    assert status == 400 and "Access-Control-Allow-Origin" not in headers
    status, headers = await _preflight(aol_only, AOL, request_headers="authorization, x-forged")
    assert status == 400, "a header outside the allowed list is refused"


async def test_an_allowed_page_reads_the_answer_and_its_rate_limit_and_request_id_headers(aol_only: str) -> None:
    status, headers = await _post(aol_only, AOL)
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == AOL
    exposed = {h.strip().lower() for h in headers["Access-Control-Expose-Headers"].split(",")}
    assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "x-request-id"} <= exposed
    assert "RateLimit-Remaining" in headers, "the rate limit headers the page is allowed to read are there"
    assert _vary(headers).count("origin") == 1
    assert "Access-Control-Allow-Credentials" not in headers


async def test_another_page_gets_no_allow_origin_so_its_browser_withholds_the_answer(aol_only: str) -> None:
    for origin in (STRANGER, VITE, "null"):
        status, headers = await _post(aol_only, origin)
        assert status == 200, "CORS is the browser's to enforce: the answer is sent, without the allow header"
        assert "Access-Control-Allow-Origin" not in headers, origin
        assert _vary(headers).count("origin") == 1


async def test_every_answer_varies_by_origin_even_without_one(aol_only: str) -> None:
    """A shared cache must not give a GET answer stored for a request without Origin to a page."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(aol_only + "/graphql", params={"query": "{ __typename }"}) as r,
    ):
        assert r.status == 200 and _vary(r.headers).count("origin") == 1, r.headers.getall("Vary")
        assert "Access-Control-Allow-Origin" not in r.headers


async def test_refusals_before_graphql_reach_the_page_with_their_cors_headers(aol_only: str) -> None:
    """The body limit answers before the GraphQL view: the page must still be able to read why."""
    status, headers = await _post(aol_only, AOL, body={"query": "{ __typename }", "pad": "x" * 70_000})
    assert status == 413 and headers["Access-Control-Allow-Origin"] == AOL


# -- WebSocket upgrades ------------------------------------------------------------------------------------


async def test_the_demo_page_under_either_loopback_name_and_vite_may_open_a_websocket(
    served: tuple[str, Settings],
) -> None:
    url, configured = served
    assert await _ws_status(url, f"http://localhost:{configured.port}") == 101, "localhost against 127.0.0.1"
    assert await _ws_status(url, f"http://127.0.0.1:{configured.port}") == 101
    assert await _ws_status(url, VITE) == 101


async def test_a_websocket_from_a_page_outside_the_list_is_refused(served: tuple[str, Settings], aol_only: str) -> None:
    url, _ = served
    assert await _ws_status(url, STRANGER) == 403
    assert await _ws_status(url, "http://localhost:5174") == 403, "another port is another origin"
    assert await _ws_status(aol_only, VITE) == 403, "Vite is the demo's default, not a configured list's"
    assert await _ws_status(aol_only, AOL) == 101


async def test_a_websocket_without_an_origin_is_a_non_browser_client_and_is_let_in(aol_only: str) -> None:
    assert await _ws_status(aol_only, None) == 101


# -- configuration -----------------------------------------------------------------------------------------


def test_origins_are_kept_as_browsers_send_them() -> None:
    configured = Settings(allowed_origins=["HTTPS://AOL.gzcourt.gov.cn:443", "http://localhost:5173/"])
    assert configured.browser_origins == ("http://localhost:5173", AOL)


@pytest.mark.parametrize("bad", ["*", "https://aol.gzcourt.gov.cn/app", "aol.gzcourt.gov.cn", "null"])
def test_anything_but_an_explicit_origin_is_refused_at_start(bad: str) -> None:
    with pytest.raises(ValidationError, match="origin"):
        Settings(allowed_origins=[bad])


def test_the_demo_allows_its_own_pages_and_vite_and_production_none_unless_listed() -> None:
    assert Settings(port=18000).browser_origins == (
        "http://127.0.0.1:18000",
        "http://localhost:18000",
        "http://localhost:5173",
    )
    assert Settings(mode="production").browser_origins == ()
    assert Settings(mode="production", allowed_origins=[AOL]).browser_origins == (AOL,)
