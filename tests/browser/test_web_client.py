"""The reference web client (``clients/web``, served at ``/app/``) in a real browser against a demo-like gateway.

Debian's chromium, driven by Playwright, with every request off loopback aborted: a lawyer signs in through
the demo identity provider, sees her cases from several courts, pages forward (page x of N from
``totalCount``), sees a "court unavailable" banner when one court's simulator is down (from
``unavailableCourts``), receives a live notification when a court serves her a document (a real court event,
found by the gateway's change follower and pushed over graphql-ws), opens that case and signs the document.
Screens are kept in ``tests/browser/artifacts/`` (gitignored): ``web-client-court-down.png`` (the banner),
``web-client-signed.png`` (the case page after signing, the notice beside it) and ``web-client.png`` (the last).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from gateway.adapters.model import PersonRef
from gateway.app import create_app
from gateway.config import Settings
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.browser.chromium import ARTIFACTS, loopback_browser, needs_chromium
from tests.conftest import GraphQLClient, following_every_feed, serve_app

pytestmark = needs_chromium
PAGE_SIZE = 5  # the client's page size (clients/web/src/main.ts)
CACHE_TTL_S = 0.3


@pytest.fixture(scope="module")
async def demo_url(settings: Settings, cluster: SimulatorCluster) -> AsyncIterator[str]:
    """The gateway as the demo runs it (demo mode, the change follower polling the courts), with a short
    cache so that a court going down shows on the next page asked for, and no last known answers (so the
    court's cases are missing, named by ``unavailableCourts``, rather than shown stale). First-party callers
    may run only trusted documents, as in production: the client names its operations by hash."""
    configured = settings.model_copy(
        update={
            "change_poll_s": 0.1,
            "cache_ttl_s": CACHE_TTL_S,
            "stale_kinds": (),
            "first_party_documents": "trusted",
        }
    )
    app = create_app(configured, graphiql=True)
    server, task, url = await serve_app(app)
    await following_every_feed(app)
    yield url
    server.should_exit = True
    await task


@pytest.fixture
async def page() -> AsyncIterator[Any]:
    """A chromium page that may reach loopback only; its script errors fail the test."""
    blocked: list[str] = []
    errors: list[str] = []
    async with loopback_browser(blocked, viewport={"width": 1400, "height": 900}) as context:
        opened = await context.new_page()
        opened.on("pageerror", lambda error: errors.append(str(error)))
        opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        try:
            yield opened
        finally:
            await _keep(opened, "web-client.png")
    assert blocked == [], f"the page reached for the outside: {blocked[:5]}"
    assert errors == [], f"script errors, or requests its Content-Security-Policy refused: {errors}"


async def _keep(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / name), full_page=True)


async def _rows(page: Any) -> list[tuple[str, str]]:
    """(case number, court) of the cases listed now."""
    return [
        (await row.locator(".case-link").inner_text(), str(await row.get_attribute("data-court")))
        for row in await page.locator("tr.case-row").all()
    ]


async def test_a_lawyer_pages_her_cases_sees_a_court_down_gets_a_live_notice_and_signs(
    demo_url: str, page: Any, sims: SimulatorCluster, world: World
) -> None:
    from playwright.async_api import expect

    chen = PersonRef.lawyer(world.demo["lawyer-chen"].number)
    cases = [
        c for b in sims.backends.values() if b.config.is_court for c in sims.court_state(b.config.code).cases_of(chen)
    ]
    courts = sorted({c.court_code for c in cases})
    assert len(courts) >= 3, "the seeded world gives lawyer-chen cases at several courts"
    pages = math.ceil(len(cases) / PAGE_SIZE)
    sockets: list[Any] = []
    page.on("websocket", lambda ws: sockets.append(ws))

    # sign in through the demo identity provider
    await page.goto(demo_url + "/app/")
    await page.select_option("#login", "lawyer-chen")
    await page.click("#signin")
    await page.wait_for_selector("tr.case-row")
    assert await page.inner_text("#who") == world.demo["lawyer-chen"].name
    assert await page.inner_text("#page-status") == f"Page 1 of {pages} · {len(cases)} cases"
    first = await _rows(page)
    assert len(first) == PAGE_SIZE
    await page.wait_for_selector('#live-state[data-state="live"]')
    token = await page.evaluate("() => sessionStorage.getItem('court-gateway.token')")
    _, refused = await GraphQLClient(f"{demo_url}/graphql", {}).post("{ viewer { name } }", token=token)
    assert refused["errors"][0]["extensions"]["code"] == "DOCUMENT_NOT_TRUSTED", "only its registered operations run"

    # page forward: the next cases, and the same total
    await page.click("#next-page")
    await expect(page.locator("#page-status")).to_have_text(f"Page 2 of {pages} · {len(cases)} cases")
    second = await _rows(page)
    assert second and not set(second) & set(first)
    seen = {court for _, court in first + second}
    while await page.locator("#next-page").count() and len(seen) < 2:
        await page.click("#next-page")
        await page.wait_for_timeout(300)
        seen |= {court for _, court in await _rows(page)}
    assert len(seen) >= 2, f"cases from several courts were listed: {seen}"

    # one court down: the banner names it, the other courts' cases stay
    counted = await page.inner_text("#page-status")
    down = courts[0]
    await sims.set_faults(down, outage=True)
    await asyncio.sleep(CACHE_TTL_S)  # the court's page cached a moment ago expires: it is asked again
    await page.click("#refresh")
    banner = page.locator(f'#banner .court-unavailable[data-court="{down}"]')
    await banner.wait_for()
    text = await banner.inner_text()
    assert sims.backend(down).config.name in text and "unavailable" in text and "COURT_UNAVAILABLE" in text, text
    assert await page.is_visible("#banner")
    assert down not in {court for _, court in await _rows(page)}
    assert "total is unknown" in await page.inner_text("#page-status")
    await _keep(page, "web-client-court-down.png")
    await sims.clear_faults(down)
    # back: once the gateway tries the court again (at once, or when its circuit, opened by the change
    # follower's failed polls, lets a probe through), a refresh lists it and the banner goes
    for _ in range(40):
        await asyncio.sleep(CACHE_TTL_S)
        await page.click("#refresh")
        await page.wait_for_timeout(100)
        if not await page.is_visible("#banner"):
            break
    assert not await page.is_visible("#banner"), await page.inner_text("#banner")
    assert await page.inner_text("#page-status") == counted, "every court counted again"

    # a court serves her a document: the notice arrives live, over the gateway's own WebSocket
    served_in = next(c for c in cases if c.court_code != down)
    title = "举证通知书"
    document = sims.desk(served_in.court_code).serve_document(served_in.case_id, chen, title)
    notice = page.locator("#notifications-list .notice", has_text=served_in.case_number)
    await notice.first.wait_for(timeout=15_000)
    assert title in await notice.first.inner_text()
    assert [urlsplit(ws.url).hostname for ws in sockets] == ["127.0.0.1"], "one WebSocket, to the gateway"

    # open the case from the notice and sign the document
    await notice.first.locator("a").click()
    await page.wait_for_selector("#case-number")
    assert await page.inner_text("#case-number") == served_in.case_number
    row = page.locator("li.document", has_text=document.title)
    await row.locator("button.sign").click()
    await expect(page.locator("#sign-status")).to_have_text(f"Signed: {document.title} (PENDING)")
    await expect(row.locator(".signed")).to_have_count(1)  # the document now shows as signed
    await _keep(page, "web-client-signed.png")
    court = sims.state(served_in.court_code)
    for _ in range(100):  # the gateway's outbox delivers the stored signature to the court
        if document.document_id in court.signatures:
            break
        await asyncio.sleep(0.1)
    assert document.document_id in court.signatures, "the court recorded her signature"

    # a token the gateway no longer accepts sends her back to the sign-in form, showing nothing of hers
    await page.evaluate("() => sessionStorage.setItem('court-gateway.token', 'expired')")
    await page.goto(demo_url + "/app/#/cases")
    await page.reload()
    await page.wait_for_selector("#signin")
    assert await page.locator("tr.case-row").count() == 0
