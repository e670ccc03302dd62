"""A page on another origin, in a real browser (Debian's chromium driven by Playwright), against a gateway
that allows that origin only (DESIGN §8, ``gateway.origins``).

A tiny static server (aiohttp) serves one HTML page with an inline script and no other asset, on two
ports: ``http://localhost:<allowed>`` is the gateway's one allowed origin; ``http://localhost:<other>``
(another port) and ``http://127.0.0.1:<allowed>`` (another name for the same server) are not, for an
origin is compared as the browser sends it. The page, with lawyer-chen's bearer token, ``fetch``es
``myCases`` with ``Authorization`` and ``Content-Type: application/json`` (so the browser sends a real
CORS preflight) and opens a graphql-transport-ws WebSocket (a hand-written client: ``connection_init``
with the token, ``subscribe`` to ``notificationAdded``). A notice is then written for lawyer-chen as the
gateway writes them (``notify`` in a store session). The allowed page shows his total and the notice; on
the other pages the browser fails the fetch (the preflight is refused, so the query is never even sent),
the gateway refuses the WebSocket handshake, and nothing of his reaches them. What reached the gateway
is recorded at its edge. The allowed page's screen and a refused one's are kept in
``tests/browser/artifacts/`` (gitignored).

The browser runs without Playwright routes (``unrouted_loopback_browser``): with a route installed,
Playwright answers every CORS preflight itself and allows anything.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web

from gateway.app import create_app
from gateway.config import Settings
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.browser.chromium import ARTIFACTS, needs_chromium, unrouted_loopback_browser
from tests.conftest import GraphQLClient, _free_port, notice_served_to, serve_app

pytestmark = needs_chromium
LAWYER = "lawyer-chen"
TOTAL = "{ myCases(first: 5) { totalCount } }"
#: the page's fetch has settled and its WebSocket has been acknowledged (and subscribed) or has closed
SETTLED = """() => document.getElementById("fetch").textContent !== "pending"
  && ["subscribed", "closed"].some((s) => document.getElementById("ws").textContent.includes(s))"""

#: the whole page: no external asset; the gateway and the token come in the URL's fragment
PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>another origin</title><link rel="icon" href="data:,">
<style>body { font: 16px sans-serif; margin: 2em } dt { font-weight: bold; margin-top: .6em }</style></head>
<body><h1>A page on <span id="origin"></span></h1>
<dl>
  <dt>fetch myCases</dt><dd id="fetch">pending</dd>
  <dt>totalCount</dt><dd id="total">none</dd>
  <dt>headers the page may read</dt><dd id="headers">none</dd>
  <dt>WebSocket</dt><dd id="ws">connecting</dd>
  <dt>notices</dt><dd><ul id="notices"></ul></dd>
</dl>
<script>
const hash = new URLSearchParams(location.hash.slice(1));
const gateway = hash.get("gateway"), token = hash.get("token");
const show = (id, text) => { document.getElementById(id).textContent = text; };
show("origin", location.origin);
window.seen = [];  // every message the page received from the gateway, for the test to read

async function query() {
  try {
    const response = await fetch(gateway + "/graphql", {
      method: "POST",
      headers: {"Authorization": "Bearer " + token, "Content-Type": "application/json"},
      body: JSON.stringify({query: "{ myCases(first: 5) { totalCount } "
        + "notifications(first: 1) { edges { node { id } } } }"}),
    });
    const body = await response.json();
    window.seen.push(body);
    show("fetch", "answered " + response.status);
    show("headers", ["X-Request-Id", "RateLimit-Remaining"].filter((h) => response.headers.get(h)).join(" "));
    show("total", String(body.data.myCases.totalCount));
    const latest = body.data.notifications.edges;
    return latest.length ? latest[0].node.id : null;
  } catch (error) {
    show("fetch", "failed: " + error.name);
    return null;
  }
}

function subscribe(after) {
  const socket = new WebSocket(gateway.replace(/^http/, "ws") + "/graphql", "graphql-transport-ws");
  socket.onopen = () => {
    show("ws", "open");
    socket.send(JSON.stringify({type: "connection_init", payload: {Authorization: "Bearer " + token}}));
  };
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    window.seen.push(message);
    if (message.type === "connection_ack") {
      show("ws", "subscribed");
      const query = "subscription ($after: ID) { notificationAdded(after: $after) { title body } }";
      socket.send(JSON.stringify({id: "1", type: "subscribe", payload: {query, variables: {after}}}));
    } else if (message.type === "ping") {
      socket.send(JSON.stringify({type: "pong"}));
    } else if (message.type === "next") {
      const notice = message.payload.data.notificationAdded;
      const item = document.createElement("li");
      item.className = "notice";
      item.textContent = notice.title + ": " + notice.body;
      document.getElementById("notices").append(item);
    } else {
      show("ws", message.type);
    }
  };
  socket.onerror = () => show("ws", "error");
  socket.onclose = (event) => show("ws", document.getElementById("ws").textContent + ", closed " + event.code);
}

query().then(subscribe);
</script></body></html>
"""


@dataclass
class Edge:
    """What reached the gateway from a browser: (scope type, method, path, Origin) per request."""

    seen: list[tuple[str, str, str, str | None]] = field(default_factory=list)

    def wrap(self, app: Any) -> Any:
        async def recorded(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] in ("http", "websocket"):
                headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
                self.seen.append((scope["type"], scope.get("method", "GET"), scope["path"], headers.get("origin")))
            await app(scope, receive, send)

        return recorded

    def from_(self, origin: str) -> list[tuple[str, str]]:
        return [(kind, method) for kind, method, path, o in self.seen if o == origin and path == "/graphql"]


@dataclass(frozen=True)
class Served:
    gateway: str
    allowed: str
    #: the page on another port, and on the allowed port under another name: each another origin
    refused: tuple[str, ...]
    edge: Edge


@pytest.fixture(scope="module")
async def served(settings: Settings, cluster: SimulatorCluster) -> AsyncIterator[Served]:
    """The gateway allowing one page origin, and the page on that origin and on others."""
    allowed_port, other_port = _free_port(), _free_port()
    allowed = f"http://localhost:{allowed_port}"
    refused = (f"http://localhost:{other_port}", f"http://127.0.0.1:{allowed_port}")
    # the page's documents are its own, as the demo lets first-party pages send theirs (not trusted-only)
    update = {"allowed_origins": (allowed,), "first_party_documents": "any", "change_poll_s": 0}
    configured = settings.model_copy(update=update)
    edge = Edge()
    server, task, url = await serve_app(edge.wrap(create_app(configured)))

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    pages = web.Application()
    pages.router.add_get("/", page)
    runner = web.AppRunner(pages)
    await runner.setup()
    for port in (allowed_port, other_port):
        await web.TCPSite(runner, "localhost", port).start()
    try:
        yield Served(url, allowed, refused, edge)
    finally:
        await runner.cleanup()
        server.should_exit = True
        await task


async def _text(page: Any, selector: str) -> str:
    return str(await page.text_content(selector))


async def test_a_page_on_an_allowed_origin_reads_my_cases_and_live_notices_and_another_origin_gets_nothing(
    served: Served, gateway: GraphQLClient, settings: Settings, world: World, tokens: dict[str, str]
) -> None:
    expected = (await gateway.query(TOTAL, as_=LAWYER))["data"]["myCases"]["totalCount"]
    assert expected > 0, "lawyer-chen has cases to show"
    fragment = f"#gateway={quote(served.gateway, safe='')}&token={quote(tokens[LAWYER], safe='')}"
    blocked: list[str] = []
    async with unrouted_loopback_browser(blocked, viewport={"width": 900, "height": 600}) as context:
        origins = (served.allowed, *served.refused)
        console: dict[str, list[str]] = {origin: [] for origin in origins}
        pages: dict[str, Any] = {}
        for origin in origins:
            page = pages[origin] = await context.new_page()
            page.on("console", lambda m, o=origin: console[o].append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e, o=origin: console[o].append(f"script error: {e}"))
            await page.goto(origin + "/" + fragment)
        allowed, refused = pages[served.allowed], [pages[origin] for origin in served.refused]
        try:
            # the allowed page: its preflight answered, the query answered, the socket acknowledged
            await allowed.wait_for_function(SETTLED, timeout=10_000)
            assert await _text(allowed, "#ws") == "subscribed"
            assert await _text(allowed, "#fetch") == "answered 200"
            assert await _text(allowed, "#total") == str(expected), "the same total a non-browser client reads"
            assert await _text(allowed, "#headers") == "X-Request-Id RateLimit-Remaining", "exposed to the page"
            # the other pages: the browser failed their fetch and the gateway refused their handshake
            for other in refused:
                await other.wait_for_function(SETTLED, timeout=10_000)
                assert await _text(other, "#fetch") == "failed: TypeError", f"withheld from {other.url[:30]}"
                assert await _text(other, "#ws") == "error, closed 1006", f"refused, never open: {other.url[:30]}"

            title = f"代理词回执{time.time_ns() % 1_000_000}"
            await notice_served_to(settings, world, LAWYER, title)
            await allowed.wait_for_selector(f"li.notice:has-text('{title}')", timeout=15_000)
            notice = await _text(allowed, "li.notice")
            assert f"《{title}》" in notice, notice
            await allowed.wait_for_timeout(500)  # time enough for a notice to arrive where it must not
        finally:
            ARTIFACTS.mkdir(exist_ok=True)
            await allowed.screenshot(path=str(ARTIFACTS / "cross_origin_allowed.png"))
            await refused[0].screenshot(path=str(ARTIFACTS / "cross_origin_refused.png"))

        for origin, other in zip(served.refused, refused, strict=True):
            assert (await _text(other, "#total"), await _text(other, "#notices")) == ("none", ""), origin
            leaked = await other.evaluate("JSON.stringify(window.seen)")
            assert json.loads(leaked) == [], f"the page on {origin} received: {leaked[:300]}"
            assert any("CORS" in line for line in console[origin]), console[origin]
        assert console[served.allowed] == [], console[served.allowed]

    # what the gateway saw: a real preflight, then the query, then the upgrade; from the other origins a
    # preflight it refused (so the query was never sent) and an upgrade it refused
    assert served.edge.from_(served.allowed) == [("http", "OPTIONS"), ("http", "POST"), ("websocket", "GET")]
    for origin in served.refused:
        assert served.edge.from_(origin) == [("http", "OPTIONS"), ("websocket", "GET")], origin
    assert blocked == [], f"the pages reached for the outside: {blocked[:5]}"
