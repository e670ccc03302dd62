"""What the browser tests share: Debian's chromium (tests skip with a reason without it; ``.ci/run`` installs
it), browser contexts that may reach loopback only, and where screenshots are kept (gitignored)."""

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
