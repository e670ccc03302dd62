"""Each firm test runs on its own migrated database (and the end-to-end ones their own gateway over it):
SQLite always, and PostgreSQL too when ``GATEWAY_TEST_POSTGRES_URL`` names a server (a throwaway schema)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from gateway.config import CourtConfig, Settings
from gateway.oauth.store import BY_PERSON, revoke_grant
from gateway.store import Store
from gateway.store.migrate import upgrade_async
from gateway.store.oauth import OAuthClientRecord, OAuthGrantRecord
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


async def consent(store: Store, login: str, scope: str, client: str = "firm-a") -> str:
    """``login`` authorises ``client`` for ``scope``: the OAuth client and grant rows the consent flow writes
    (tests/oauth walks the flow itself), so webhooks and calendar feeds ask the real grant store. The grant id."""
    now = datetime.now(UTC)
    grant = secrets.token_hex(16)
    async with store.session() as session:
        if await session.get(OAuthClientRecord, client) is None:
            session.add(
                OAuthClientRecord(
                    id=client,
                    name=f"{client} practice software",
                    secret_hash=None,
                    redirect_uris="http://127.0.0.1/callback",
                    scopes=scope,
                    rate_per_s=None,
                    burst=None,
                    may_introspect=False,
                    created_at=now,
                    revoked_at=None,
                )
            )
            await session.flush()
        session.add(
            OAuthGrantRecord(
                id=grant,
                client_id=client,
                subject=login,
                claims={"sub": login},
                scope=scope,
                created_at=now,
                last_used_at=now,
                revoked_at=None,
                revoked_by=None,
            )
        )
    return grant


async def withdraw(store: Store, grant: str) -> None:
    """The person revokes the grant (as ``revokeAuthorizedApp`` does)."""
    assert await revoke_grant(store, grant, BY_PERSON, now=datetime.now(UTC))
