"""One gateway with tracing on, served on loopback in front of the session's simulators, with its own
database; spans are captured in memory while a test asks for them (``spans``).

OpenTelemetry's tracer provider is process-wide: once this gateway has turned tracing on, every later
app in the session is traced too (nothing is exported, and the capture is off outside these tests).
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from opentelemetry.instrumentation.utils import suppress_http_instrumentation
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.config import Settings
from gateway.observability import tracing
from gateway.store.migrate import upgrade_async
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import GraphQLClient, mint, serve_app

SCRAPE_TOKEN = "scrape-token-for-tests-0123456789abcdef"


class Capture(SimpleSpanProcessor):
    """An in-memory exporter that keeps spans only while a test captures."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        super().__init__(self.exporter)
        self.on = False

    def on_end(self, span: ReadableSpan) -> None:
        if self.on:
            super().on_end(span)


_capture = Capture()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    _capture.exporter.clear()
    _capture.on = True
    yield _capture.exporter
    _capture.on = False
    _capture.exporter.clear()


@pytest.fixture(scope="session")
async def observed(
    settings: Settings, cluster: SimulatorCluster, tokens: dict[str, str]
) -> AsyncIterator[GraphQLClient]:
    from gateway.app import create_app

    database = Path(tempfile.mkdtemp(prefix="court-gateway-obs-")) / "gateway.db"
    traced = settings.model_copy(
        update={
            "tracing": True,
            "metrics_token": SCRAPE_TOKEN,
            "database_url": f"sqlite+aiosqlite:///{database}",
        }
    )
    await upgrade_async(traced.database_url)
    app = create_app(traced, graphiql=False)
    provider = tracing.tracer_provider()
    assert provider is not None
    if _capture not in provider._active_span_processor._span_processors:
        provider.add_span_processor(_capture)
    server, task, url = await serve_app(app)
    client = GraphQLClient(f"{url}/graphql", tokens)
    client.app = app  # type: ignore[attr-defined]
    yield client
    server.should_exit = True
    await task


def operator_token(world: World, settings: Settings) -> str:
    return mint(world, settings, "lawyer-chen", sub="ops-anna", roles=["OPERATOR"])


# the test's own requests send exactly the headers the test gives: once tracing is on in this process,
# aiohttp's instrumentation would otherwise start a trace here and put its own ``traceparent`` on them


async def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    with suppress_http_instrumentation():
        async with aiohttp.ClientSession() as session, session.get(url, headers=headers or {}) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, await r.text()


async def post(client: GraphQLClient, body: Any, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    with suppress_http_instrumentation():
        async with aiohttp.ClientSession() as session, session.post(client.url, json=body, headers=headers) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, await r.json(content_type=None)
