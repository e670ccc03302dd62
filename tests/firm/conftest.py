"""Each firm test runs on its own migrated database (and the end-to-end ones their own gateway over it):
SQLite always, and PostgreSQL too when ``GATEWAY_TEST_POSTGRES_URL`` names a server (a throwaway schema)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.config import CourtConfig, Settings
from gateway.store import Store
from gateway.store.migrate import upgrade_async
from gateway.store.testing import postgres_schema, sqlite_url

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
