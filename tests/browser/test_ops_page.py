"""The operators' page (``/ops``) in a real browser: Debian's chromium driven by Playwright, the operator's
token sent as a header (as the authenticating proxy in front of the gateway would), the outside network
cut. The screen is kept in ``tests/browser/artifacts/ops.png`` (gitignored) for a person to look at.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from gateway.app import create_app
from gateway.config import Settings
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.browser.chromium import ARTIFACTS, loopback_browser, needs_chromium
from tests.conftest import mint, serve_app

pytestmark = needs_chromium


@pytest.fixture(scope="module")
async def gateway_url(settings: Settings, cluster: SimulatorCluster) -> AsyncIterator[str]:
    server, task, url = await serve_app(create_app(settings.model_copy(update={"change_poll_s": 0}), graphiql=False))
    yield url
    server.should_exit = True
    await task


async def open_page(
    url: str, headers: dict[str, str], blocked: list[str], screenshot: str | None
) -> tuple[int, list[str], str]:
    """Load ``url`` in chromium with ``headers`` on every request: the HTTP status, the text of each row
    of the courts table, and the page's text."""
    async with loopback_browser(
        blocked, viewport={"width": 1500, "height": 900}, extra_http_headers=headers
    ) as context:
        page = await context.new_page()
        response = await page.goto(url)
        assert response is not None
        rows = await page.locator("#courts tbody tr").all_inner_texts() if response.status == 200 else []
        if screenshot:
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
        return response.status, rows, await page.inner_text("body")


async def test_an_operator_sees_every_court_in_the_browser(gateway_url: str, world: World, settings: Settings) -> None:
    blocked: list[str] = []
    lawyer = mint(world, settings, "lawyer-chen")
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {lawyer}"}) as session,
        session.post(f"{gateway_url}/graphql", json={"query": "{ myCases(first: 1) { totalCount } }"}) as answer,
    ):
        assert answer.status == 200  # calls to every court she has cases at, seen in the last minutes' columns
    token = mint(world, settings, "lawyer-chen", sub="ops-anna", roles=["OPERATOR"])
    status, rows, text = await open_page(f"{gateway_url}/ops", {"Authorization": f"Bearer {token}"}, blocked, "ops.png")
    assert status == 200, text
    assert "Calls (5 min)" in text and "Latency (5 min, mean / max)" in text
    assert any(re.search(r"\d+ ms / \d+ ms", row) for row in rows), "a court called just now shows its recent latency"
    for court in settings.courts:
        assert any(court.name in row and court.code in row for row in rows), court.name
    assert rows and all(any(state in row for state in ("HEALTHY", "DEGRADED", "DOWN")) for row in rows)
    assert "court-gateway operations" in text and "Outboxes" in text
    assert blocked == [], "the page loads nothing from anywhere"

    status, rows, text = await open_page(f"{gateway_url}/ops", {}, blocked, None)
    assert status == 401 and rows == [] and "UNAUTHENTICATED" in text and settings.courts[0].name not in text
