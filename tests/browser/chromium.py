"""What the browser tests share: Debian's chromium (tests skip with a reason without it; ``.ci/run`` installs
it), browser contexts that may reach loopback only, and where screenshots are kept (gitignored).

Two ways to cut the network: ``loopback_browser`` intercepts every request (Playwright routes), which lets a
test abort it as if offline; but while any route is installed Playwright answers every CORS preflight
itself, allowing any origin and header, so a test of CORS uses ``unrouted_loopback_browser``, whose
requests off loopback go to a proxy nobody listens on and whose preflights reach the server."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)"
)
ARTIFACTS = Path(__file__).parent / "artifacts"
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}
#: a proxy nobody listens on (the discard port): chromium never sends loopback through a proxy unless told,
#: so every request off loopback fails to connect, and none is intercepted
DEAD_PROXY = "--proxy-server=http://127.0.0.1:9"


@contextlib.asynccontextmanager
async def loopback_browser(blocked: list[str], **context_options: Any) -> AsyncIterator[Any]:
    """A chromium browser context whose every request off loopback (``data:`` URLs aside) is aborted as if
    the network were cut, and listed in ``blocked``."""
    from playwright.async_api import async_playwright

    async def loopback_only(route: Any) -> None:
        url = route.request.url
        if url.startswith("data:") or (urlsplit(url).hostname or "") in LOOPBACK:
            await route.continue_()
        else:
            blocked.append(url)
            await route.abort("internetdisconnected")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = await browser.new_context(**context_options)
            await context.route("**/*", loopback_only)
            yield context
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def unrouted_loopback_browser(off_loopback: list[str], **context_options: Any) -> AsyncIterator[Any]:
    """A chromium browser context that reaches loopback only, with no request intercepted (so CORS
    preflights are the browser's own and reach the server); every request it tried off loopback (which
    failed at the dead proxy) is listed in ``off_loopback``."""
    from playwright.async_api import async_playwright

    def note(request: Any) -> None:
        if not request.url.startswith("data:") and (urlsplit(request.url).hostname or "") not in LOOPBACK:
            off_loopback.append(request.url)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", DEAD_PROXY])
        try:
            context = await browser.new_context(**context_options)
            context.on("request", note)
            yield context
        finally:
            await browser.close()
