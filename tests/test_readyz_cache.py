"""``/readyz`` on the production cache: ready when Redis answers, not ready (503) when it does not.

Kubernetes takes a replica out of its Service while ``/readyz`` fails, so a readiness check that cannot
pass on Redis would keep every production replica out of service.
"""

from __future__ import annotations

import os

import pytest

from gateway.config import Settings
from simulators.cluster import SimulatorCluster
from tests.test_gateway_http import _readyz_of

REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL")


@pytest.mark.skipif(not REDIS_URL, reason="GATEWAY_TEST_REDIS_URL is not set: Redis tests skipped")
async def test_readyz_is_ready_on_redis(settings: Settings, cluster: SimulatorCluster) -> None:
    status, body = await _readyz_of(settings.model_copy(update={"cache_url": REDIS_URL}), settings.database_url)
    assert (status, body["status"], body["cache"], body["database"]) == (200, "ready", "ok", "ok"), body


async def test_readyz_is_503_when_redis_is_unreachable(settings: Settings, cluster: SimulatorCluster) -> None:
    down = settings.model_copy(update={"cache_url": "redis://127.0.0.1:1/0"})
    status, body = await _readyz_of(down, settings.database_url)
    assert status == 503 and body["status"] == "not ready" and body["cache"].startswith("error"), body
    assert body["database"] == "ok"
