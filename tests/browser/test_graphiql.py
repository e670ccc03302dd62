"""GraphiQL in a real browser (Debian's chromium driven by Playwright) with the outside network cut.

The page must render from the gateway's own assets, run ``myCases`` with a pasted token, and receive a
``notificationAdded`` event on the WebSocket the same token authenticated (connectionParams). The last
screen is kept in ``tests/browser/artifacts/`` (gitignored) for a person to look at.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from gateway.app import create_app
from gateway.config import Settings
from gateway.schema.common import global_id
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.browser.chromium import ARTIFACTS, loopback_browser, needs_chromium
from tests.conftest import GraphQLClient, notice_served_to, serve_app

pytestmark = needs_chromium
MY_CASES = """query MyCases {
  viewer { name }
  myCases(first: 3) { totalCount edges { node { caseNumber courtCode } } }
}"""
LATEST = "{ notifications(first: 1) { edges { node { id } } } }"


@pytest.fixture(scope="module")
async def graphiql_url(settings: Settings, cluster: SimulatorCluster) -> AsyncIterator[str]:
    configured = settings.model_copy(update={"change_poll_s": 0})
    server, task, url = await serve_app(create_app(configured, graphiql=True))
    yield url
    server.should_exit = True
    await task


@pytest.fixture
async def browser_page() -> AsyncIterator[tuple[Any, list[str]]]:
    """A chromium page whose every request off loopback is aborted (and listed)."""
    blocked: list[str] = []
    async with loopback_browser(blocked, viewport={"width": 1400, "height": 900}) as context:
        page = await context.new_page()
        try:
            yield page, blocked
        finally:
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "graphiql.png"))


async def _run(page: Any, query: str) -> None:
    await page.evaluate(
        "(q) => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(q)", query
    )
    await page.wait_for_timeout(500)  # GraphiQL reads the operation's name from the editor after a debounce
    await page.click(".graphiql-execute-button")


async def _response_when(page: Any, needle: str, timeout_s: float = 15) -> str:
    """The response pane's text once it contains ``needle``."""
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        text = await page.evaluate(
            "() => { const e = document.querySelector('.graphiql-response .CodeMirror');"
            " return e ? e.CodeMirror.getValue() : ''; }"
        )
        if needle in text:
            return str(text)
        await page.wait_for_timeout(100)
    raise AssertionError(f"the response pane never showed {needle!r}; it shows: {text[:500]}")


async def test_graphiql_works_offline_runs_my_cases_and_receives_a_subscription_event(
    graphiql_url: str,
    browser_page: tuple[Any, list[str]],
    gateway: GraphQLClient,
    settings: Settings,
    world: World,
    tokens: dict[str, str],
) -> None:
    page, blocked = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    sockets: list[Any] = []
    page.on("websocket", lambda ws: sockets.append(ws))

    await page.goto(graphiql_url + "/graphql")
    await page.wait_for_selector(".graphiql-execute-button", timeout=15_000)
    assert await page.title() == "court-gateway · GraphiQL"

    await page.fill("#token", tokens["party-wang"])
    await _run(page, MY_CASES)
    answer = json.loads(await _response_when(page, "totalCount"))
    assert "errors" not in answer, answer
    assert answer["data"]["viewer"]["name"] == "王芳", "the pasted token went with the query"
    assert answer["data"]["myCases"]["edges"], "her cases are listed"

    latest = (await gateway.query(LATEST, as_="party-wang"))["data"]["notifications"]["edges"]
    after = latest[0]["node"]["id"] if latest else global_id("Notification", "0")
    await _run(page, f'subscription Notices {{ notificationAdded(after: "{after}") {{ id title body courtCode }} }}')
    title = f"判决书{int(time.time() * 1000) % 100000}"
    await notice_served_to(settings, world, "party-wang", title)
    event = json.loads(await _response_when(page, title))
    assert f"《{title}》" in event["data"]["notificationAdded"]["body"]
    assert [urlsplit(ws.url).hostname for ws in sockets] == ["127.0.0.1"], "one WebSocket, to the gateway"

    assert blocked == [], f"the page reached for the outside: {blocked[:5]}"
    assert errors == [], f"script errors or refused by the page's Content-Security-Policy: {errors}"
