"""The HTTP base of the family adapters, alone, against real HTTP servers on loopback.

What a user would notice if it went wrong: a court that is down reported as a timeout (or the other way
round, or as a crash), a hung court holding a request far past the court's deadline, a court's "come
back in 30 s" ignored, calls left running at a court after their answer was already a failure, and a
new connection pool (or a leaked one) for every call.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, NoReturn

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.adapters.errors import CourtError, CourtTimeout, CourtUnavailable, NotFoundAtCourt
from gateway.adapters.http_base import HttpCourtAdapter, gather_or_cancel, retry_after_seconds
from gateway.config import CourtConfig
from tests.adapters.test_resilience import CODE
from tests.adapters.test_resilience import court as court_config


def court_at(port: int, *, deadline_ms: int = 5000, concurrency: int = 4) -> CourtConfig:
    """A court at this loopback port (a trailing slash, as configurations often have it)."""
    return court_config(deadline_ms, concurrency).model_copy(update={"base_url": f"http://127.0.0.1:{port}/"})


async def _no_family(*args: object, **kwargs: object) -> NoReturn:
    raise AssertionError("the HTTP base alone speaks no family")


class Probe(HttpCourtAdapter):
    """The base with no family on top: the tests send through it directly; the contract goes unused."""

    list_cases = list_court_cases = get_cases = find_case = list_documents = list_volumes = _no_family
    read_material = list_staff = changes = submit_filing = sign_document = add_agent = _no_family

    def _default_headers(self) -> dict[str, str]:
        return {"X-Family": "probe"}


# -- the court: a real aiohttp server -----------------------------------------------------------------------


class Court:
    """What the test court saw: hung requests waiting, items asked for, requests in flight at once."""

    def __init__(self) -> None:
        self.release = asyncio.Event()  # set at teardown, so no handler outlives the test
        self.hanging = 0
        self._hung = asyncio.Condition()
        self.items: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def hang(self) -> None:
        async with self._hung:
            self.hanging += 1
            self._hung.notify_all()
        await self.release.wait()

    async def until_hanging(self, count: int) -> None:
        async with self._hung:
            await self._hung.wait_for(lambda: self.hanging >= count)


def court_app(state: Court) -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        return web.json_response({"port": peer[1] if peer else None, "family": request.headers.get("X-Family")})

    async def hang(request: web.Request) -> web.Response:
        await state.hang()
        return web.Response(text="too late")

    async def busy(request: web.Request) -> web.Response:
        form = request.match_info["form"]
        value = "7" if form == "seconds" else format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
        return web.Response(status=429 if form == "seconds" else 503, headers={"Retry-After": value})

    async def down(request: web.Request) -> web.Response:
        return web.Response(status=503, text="系统异常")

    async def item(request: web.Request) -> web.Response:
        item_id = request.match_info["id"]
        state.items.append(item_id)
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            await asyncio.sleep(0.05)
        finally:
            state.in_flight -= 1
        if item_id.startswith("missing"):
            return web.Response(status=404)
        return web.Response(text=f"item {item_id}")

    app = web.Application()
    app.router.add_get("/echo", echo)
    app.router.add_get("/hang", hang)
    app.router.add_get("/busy/{form}", busy)
    app.router.add_get("/down", down)
    app.router.add_get("/item/{id}", item)
    return app


@pytest.fixture
async def court() -> AsyncIterator[tuple[Court, int]]:
    state = Court()
    server = TestServer(court_app(state), host="127.0.0.1")
    await server.start_server()
    try:
        yield state, server.port  # type: ignore[misc]
    finally:
        state.release.set()
        await server.close()


async def raw_court(answer: Callable[[asyncio.StreamWriter], Awaitable[None]]) -> asyncio.Server:
    """A loopback server that reads one request head and answers with raw bytes (what aiohttp would not send)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await answer(writer)
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def closed_port() -> int:
    """A loopback port nobody listens on: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def failure(call: Awaitable[Any]) -> CourtError:
    with pytest.raises(CourtError) as error:
        await call
    return error.value


async def hung_call(probe: Probe, n: int, cancelled: list[int]) -> None:
    """A call to a court that never answers; records ``n`` in ``cancelled`` when it is cancelled."""
    try:
        await probe._exchange("GET", "/hang")
    except asyncio.CancelledError:
        cancelled.append(n)
        raise


# -- transport failures as court errors -----------------------------------------------------------------------


async def test_a_refused_connection_is_court_unavailable_at_once() -> None:
    async with Probe(court_at(closed_port())) as probe:
        started = time.monotonic()
        error = await failure(probe._exchange("GET", "/echo", label="GetAjxx"))
    assert type(error) is CourtUnavailable and error.code == "COURT_UNAVAILABLE" and error.retryable
    assert error.court_code == CODE
    assert error.message.startswith("GetAjxx: cannot connect")
    assert "127.0.0.1" not in error.message, "no addresses or OS text passed on"
    assert time.monotonic() - started < 1.0


async def test_a_hang_is_court_timeout_at_four_deadlines(court: tuple[Court, int]) -> None:
    state, port = court
    async with Probe(court_at(port, deadline_ms=100)) as probe:
        started = time.monotonic()
        error = await failure(probe._exchange("GET", "/hang"))
    elapsed = time.monotonic() - started
    assert type(error) is CourtTimeout and error.code == "COURT_TIMEOUT" and error.retryable
    assert error.court_code == CODE and error.message.startswith("GET /hang: no answer in time")
    assert state.hanging == 1, "the court really had the request"
    assert 0.4 * 0.9 <= elapsed < 0.4 + 0.5, "the net is 4 × the 100 ms deadline"


async def test_a_court_hanging_up_without_an_answer_is_unavailable() -> None:
    async def hang_up(writer: asyncio.StreamWriter) -> None:
        pass  # close without a byte

    server = await raw_court(hang_up)
    try:
        async with Probe(court_at(server.sockets[0].getsockname()[1])) as probe:
            error = await failure(probe._exchange("POST", "/gateway.do", data=b"x"))
    finally:
        server.close()
        await server.wait_closed()
    assert type(error) is CourtUnavailable
    assert (
        error.message == "POST /gateway.do: the court closed the connection without an answer (ServerDisconnectedError)"
    )


async def test_an_answer_cut_short_is_unavailable() -> None:
    async def cut_short(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/csv\r\n\r\n\xb0\xb8\xba\xc5,")
        await writer.drain()

    server = await raw_court(cut_short)
    try:
        async with Probe(court_at(server.sockets[0].getsockname()[1])) as probe:
            error = await failure(probe._exchange("GET", "/export/fy/ajlb.csv"))
    finally:
        server.close()
        await server.wait_closed()
    assert type(error) is CourtUnavailable
    assert error.message == "GET /export/fy/ajlb.csv: the answer was cut short (ClientPayloadError)"


async def test_any_status_is_a_reply_for_the_family_to_judge(court: tuple[Court, int]) -> None:
    _, port = court
    async with Probe(court_at(port)) as probe:
        reply = await probe._exchange("GET", "/down")
    assert (reply.status, reply.body.decode()) == (503, "系统异常")


# -- Retry-After ---------------------------------------------------------------------------------------------


async def test_retry_after_in_seconds_and_as_an_http_date(court: tuple[Court, int]) -> None:
    _, port = court
    async with Probe(court_at(port)) as probe:
        seconds = await probe._exchange("GET", "/busy/seconds")
        dated = await probe._exchange("GET", "/busy/date")
        plain = await probe._exchange("GET", "/down")
    assert (seconds.status, seconds.retry_after) == (429, 7.0)
    assert dated.status == 503 and dated.retry_after is not None
    assert 28.0 < dated.retry_after <= 30.0, "30 s ahead, less the second the date format drops"
    assert plain.retry_after is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("-5", 0.0),  # never a negative wait
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date already past: go now
        ("Wed, 21 Oct 2015 07:28:00 -0000", None),  # a date without a zone cannot be compared
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_that_is_odd_or_absent(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value) == seconds


# -- gather or cancel -------------------------------------------------------------------------------------------


async def test_gather_returns_the_answers_in_the_order_asked(court: tuple[Court, int]) -> None:
    _, port = court
    async with Probe(court_at(port)) as probe:
        replies = await gather_or_cancel(probe._exchange("GET", f"/item/{n}") for n in (3, 1, 2))
    assert [r.body.decode() for r in replies] == ["item 3", "item 1", "item 2"]
    assert await gather_or_cancel([]) == []


async def test_gather_cancels_the_others_on_the_first_failure(court: tuple[Court, int]) -> None:
    state, port = court
    cancelled: list[int] = []

    async def fails_once_the_others_wait() -> None:
        await state.until_hanging(3)
        reply = await probe._exchange("GET", "/down")
        raise CourtUnavailable(CODE, f"HTTP {reply.status}")

    async with Probe(court_at(port, deadline_ms=10_000)) as probe:
        started = time.monotonic()
        calls = [hung_call(probe, 0, cancelled), hung_call(probe, 1, cancelled), fails_once_the_others_wait()]
        with pytest.raises(CourtUnavailable) as error:
            await gather_or_cancel([*calls, hung_call(probe, 2, cancelled)])
        # no sleep: gather_or_cancel returns only once the others have stopped
        assert sorted(cancelled) == [0, 1, 2], "every other call was cancelled, and had finished cancelling"
    assert error.value.message == "HTTP 503"
    assert time.monotonic() - started < 2.0, "not left to run into their 40 s safety net"


async def test_a_deadline_around_gather_cancels_every_call(court: tuple[Court, int]) -> None:
    """What ResilientAdapter's deadline does to a family's parallel calls."""
    state, port = court
    cancelled: list[int] = []
    async with Probe(court_at(port, deadline_ms=10_000)) as probe:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await gather_or_cancel(hung_call(probe, n, cancelled) for n in range(3))
        assert sorted(cancelled) == [0, 1, 2]
    assert state.hanging == 3


# -- bounded single gets ------------------------------------------------------------------------------------------


async def test_single_gets_in_the_order_asked_at_most_concurrency_at_once(court: tuple[Court, int]) -> None:
    state, port = court

    async def get(item_id: str) -> str:
        reply = await probe._exchange("GET", f"/item/{item_id}")
        if reply.status == 404:
            raise NotFoundAtCourt(CODE, item_id)
        return reply.body.decode()

    async with Probe(court_at(port, concurrency=2)) as probe:
        found = await probe._each_found(["a", "missing-1", "b", "a", "c", "d", "e"], get)
    assert found == ["item a", "item b", "item a", "item c", "item d", "item e"], "unknown ids left out"
    assert sorted(state.items) == ["a", "b", "c", "d", "e", "missing-1"], "each distinct id asked once"
    assert state.max_in_flight == 2, "in parallel, but never more than the court's concurrency"


# -- the session's lifetime ---------------------------------------------------------------------------------------


async def test_one_session_per_backend_reused_across_calls_and_closed_by_aclose(court: tuple[Court, int]) -> None:
    _, port = court
    probe = Probe(court_at(port, deadline_ms=1500, concurrency=3))
    assert probe._session is None, "nothing is opened before the first call"
    first = await probe._exchange("GET", "/echo")
    session = probe._session
    second = await probe._exchange("GET", "/echo")
    assert session is not None and probe._session is session
    assert first.body == second.body, "the same pooled connection (same client port) served both calls"
    assert b'"family": "probe"' in first.body, "the family's default headers go with every call"
    assert isinstance(session.connector, aiohttp.TCPConnector)
    assert session.connector.limit_per_host == 3
    assert session.timeout == aiohttp.ClientTimeout(total=6.0, sock_connect=1.5)

    await probe.aclose()
    assert session.closed and probe._session is None
    await probe.aclose()  # closing twice is harmless

    await probe._exchange("GET", "/echo")
    assert probe._session is not None and probe._session is not session, "a call after aclose opens a new one"
    await probe.aclose()
