"""A new, empty database of each kind for every store test: SQLite (a fresh file) and PostgreSQL (a fresh
schema) when ``GATEWAY_TEST_POSTGRES_URL`` names a server."""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gateway.store import Store
from gateway.store.migrate import upgrade_async
from gateway.store.testing import postgres_schema, sqlite_url

POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="GATEWAY_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped"
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A new, empty database of each kind."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    async with postgres_schema(str(POSTGRES_URL)) as url:
        yield url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    await upgrade_async(database_url)
    async with Store(database_url) as store:
        yield store


@pytest.fixture
def busy_cpu() -> Iterator[None]:
    """A thread burning CPU beside the event loop: it takes the GIL whenever the loop lets go of it."""
    stop = threading.Event()

    def burn() -> None:
        while not stop.is_set():
            sum(range(10_000))

    burner = threading.Thread(target=burn, name="cpu-burner", daemon=True)
    burner.start()
    yield
    stop.set()
    burner.join()
