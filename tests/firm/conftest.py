"""Each firm test runs on its own migrated database (and the end-to-end ones their own gateway over it):
SQLite always, and PostgreSQL too when ``GATEWAY_TEST_POSTGRES_URL`` names a server (a throwaway schema)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from gateway.config import CourtConfig, Settings
from gateway.store import Store
from gateway.store.migrate import upgrade_async
from gateway.store.testing import postgres_schema, sqlite_url
from tests.conftest import _free_port

POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="GATEWAY_TEST_POSTGRES_URL is not set")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
        await upgrade_async(url)
        yield url
        return
    async with postgres_schema(str(POSTGRES_URL)) as url:
        await upgrade_async(url)
        yield url


@pytest.fixture
async def store(database: str) -> AsyncIterator[Store]:
    """The migrated database, opened as a store (each kind)."""
    async with Store(database) as store:
        yield store


@pytest.fixture(scope="module")
def yuexiu() -> CourtConfig:
    return Settings().court("粤0104")


@asynccontextmanager
async def serving(handle: Callable[[web.Request], Awaitable[web.Response]]) -> AsyncIterator[str]:
    """A receiver on a free loopback port, answering every POST with ``handle``; yields its base URL."""
    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
