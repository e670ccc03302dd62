"""Shared fixtures: the seeded world and all simulators, started once per test session on free ports.

Tests that inject faults use ``sims``, which lifts every fault afterwards so tests stay independent.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import uvicorn

from gateway.config import CourtConfig, Settings
from gateway.identity import mint_hs256, viewer_from_claims
from simulators.cluster import SimulatorCluster
from simulators.generator import SeedConfig, World, generate_world
from simulators.identities import demo_claims, demo_logins

#: short deadlines keep fault tests fast; the production defaults live in the court files
TEST_DEADLINE_MS = 800


_taken: set[int] = set()


def _free_port() -> int:
    """A free loopback port below the kernel's ephemeral range, so client sockets never take it first."""
    low, _ = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    while True:
        port = random.randrange(20000, min(low, 32768) - 1)
        if port in _taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _taken.add(port)
        return port


def loopback_settings() -> Settings:
    """The configured courts, re-pointed at free loopback ports (so tests never meet a running demo)."""
    base = Settings()
    overrides = {
        c.slug: {"base_url": f"http://127.0.0.1:{_free_port()}", "deadline_ms": TEST_DEADLINE_MS} for c in base.courts
    }
    database = Path(tempfile.mkdtemp(prefix="court-gateway-test-")) / "gateway.db"
    return Settings(court_overrides=overrides, database_url=f"sqlite+aiosqlite:///{database}")


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Test courts on free ports and a migrated SQLite database of the session's own."""
    from gateway.store.migrate import upgrade

    configured = loopback_settings()
    upgrade(configured.database_url)
    return configured


@pytest.fixture(scope="session")
def world(settings: Settings) -> World:
    return generate_world(settings.courts, SeedConfig.load(settings.seed_file))


@pytest.fixture(scope="session")
async def cluster(settings: Settings, world: World) -> AsyncIterator[SimulatorCluster]:
    sims = SimulatorCluster(settings.courts, world)
    await sims.start()
    yield sims
    await sims.stop()


@pytest.fixture
async def sims(cluster: SimulatorCluster) -> AsyncIterator[SimulatorCluster]:
    """The running cluster; faults injected by the test are cleared afterwards."""
    yield cluster
    await cluster.clear_faults()


@pytest.fixture(scope="session")
def courts(settings: Settings) -> Iterator[tuple[CourtConfig, ...]]:
    yield settings.courts


# -- the gateway, served for real on loopback ----------------------------------------------------------


class GraphQLClient:
    """Posts GraphQL over real HTTP; ``token`` picks the caller."""

    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url = url
        self.tokens = tokens

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        as_: str | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        sent = dict(headers or {})
        bearer = token if token is not None else (self.tokens[as_] if as_ else None)
        if bearer is not None:
            sent["Authorization"] = f"Bearer {bearer}"
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.url, json={"query": query, "variables": variables or {}}, headers=sent) as response,
        ):
            return response.status, await response.json(content_type=None)

    async def query(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The response body of a request that must have reached execution (HTTP 200)."""
        status, body = await self.post(query, variables, as_=as_, token=token)
        assert status == 200, body
        return body


def mint(world: World, settings: Settings, login: str, **overrides: Any) -> str:
    claims = {**demo_claims(world, settings.seed_file, login), **overrides}
    return mint_hs256(claims, settings.jwt_hs256_secret)


async def notice_served_to(settings: Settings, world: World, login: str, title: str) -> None:
    """A document called ``title`` served to ``login`` at 越秀法院, noticed as the gateway notices it (``notify``
    in a store session), through a ``Store`` of its own, as another gateway process would."""
    from gateway.notifications.service import NotificationKind, Recipient, notify, viewer_keys
    from gateway.store import Store

    claims = demo_claims(world, settings.seed_file, login)
    async with Store(settings.database_url) as store, store.session() as session:
        await notify(
            session,
            kind=NotificationKind.DOCUMENT_SERVED,
            court=settings.court("粤0104"),
            case_number="（2023）粤0104民初123号",
            recipients=[Recipient(claims["name"], None, viewer_keys(viewer_from_claims(claims))[0])],
            params={"title": title},
            dedupe_key=f"test:{secrets.token_hex(6)}",
            now=datetime.now(UTC),
        )


@pytest.fixture(scope="session")
def tokens(world: World, settings: Settings) -> dict[str, str]:
    return {login: mint(world, settings, login) for login in demo_logins(world, settings.seed_file)}


async def following_every_feed(app: Any, seconds: float = 5.0) -> None:
    """Wait until the app's change follower knows where every court's feed ends (events after that count)."""
    courts = {a.court.code for a in app.state.services.registry.courts()}
    for _ in range(int(seconds / 0.05)):
        if courts <= set(app.state.changes.cursors):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the change follower did not reach every court's feed")


@contextlib.asynccontextmanager
async def background_paused(app: Any) -> AsyncIterator[None]:
    """The app's outbox workers and change follower stopped meanwhile, so a court's request counters
    count only what the test's own requests cause (deliveries resume afterwards: their work is stored)."""
    services = app.state.services
    await services.workers.stop()
    following = app.state.changes.running
    await app.state.changes.stop()
    try:
        yield
    finally:
        services.workers.start()
        if following:
            app.state.changes.start()


async def serve_app(app: Any, port: int | None = None) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    port = port or _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    return server, task, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
async def gateway(
    settings: Settings, cluster: SimulatorCluster, tokens: dict[str, str]
) -> AsyncIterator[GraphQLClient]:
    """The gateway on the embedded defaults (memory cache), in front of the session's simulators."""
    from gateway.app import create_app
    from gateway.store.migrate import upgrade_async

    await upgrade_async(settings.database_url)
    app = create_app(settings, graphiql=False)
    server, task, url = await serve_app(app)
    client = GraphQLClient(f"{url}/graphql", tokens)
    client.app = app  # type: ignore[attr-defined]
    yield client
    server.should_exit = True
    await task
