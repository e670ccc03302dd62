"""Shared fixtures: the seeded world and all simulators, started once per test session on free ports.

Tests that inject faults use ``sims``, which lifts every fault afterwards so tests stay independent.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from gateway.config import CourtConfig, Settings
from simulators.cluster import SimulatorCluster
from simulators.generator import SeedConfig, World, generate_world

#: short deadlines keep fault tests fast; the production defaults live in the court files
TEST_DEADLINE_MS = 800


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The configured courts, re-pointed at free loopback ports for this test session."""
    base = Settings()
    overrides = {
        c.slug: {"base_url": f"http://127.0.0.1:{_free_port()}", "deadline_ms": TEST_DEADLINE_MS}
        for c in base.courts
    }
    return Settings(court_overrides=overrides)


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
