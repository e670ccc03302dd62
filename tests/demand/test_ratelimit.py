"""Rate limits per principal: token buckets in memory and in the real Redis, over real HTTP.

Each test serves its own gateway with a small bucket, and counts under principals of its own (a fresh
token subject), so no other test's requests are in its buckets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict

from gateway.app import create_app
from gateway.config import Settings
from gateway.demand.ratelimit import Decision, MemoryBuckets, RedisBuckets
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import _free_port, mint, serve_app

REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="GATEWAY_TEST_REDIS_URL is not set: Redis tests skipped")
QUERY = "{ viewer { name } }"


@contextlib.asynccontextmanager
async def gateway_with(settings: Settings, **changes: Any) -> AsyncIterator[str]:
    """A gateway of its own (no change feed followed), with these settings changed; yields its /graphql URL."""
    app = create_app(settings.model_copy(update={"change_poll_s": 0, **changes}), graphiql=False)
    server, task, url = await serve_app(app)
    try:
        yield f"{url}/graphql"
    finally:
        server.should_exit = True
        await task


async def ask(url: str, token: str | None) -> tuple[int, CIMultiDict[str], dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session, session.post(url, json={"query": QUERY}, headers=headers) as r:
        return r.status, CIMultiDict(r.headers), await r.json(content_type=None)


def fresh_token(world: World, settings: Settings) -> str:
    """lawyer-chen's claims under a subject no other test uses: a principal with an empty history."""
    return mint(world, settings, "lawyer-chen", sub=f"rate-{uuid.uuid4().hex}")


# -- the bucket ---------------------------------------------------------------------------------------------


async def test_a_bucket_allows_its_burst_then_refuses_until_a_token_is_back() -> None:
    now = [100.0]
    buckets = MemoryBuckets(rate=2.0, burst=3, clock=lambda: now[0])
    taken = [await buckets.take("sub:a") for _ in range(4)]
    assert [d.allowed for d in taken] == [True, True, True, False]
    assert [d.remaining for d in taken] == [2, 1, 0, 0]
    refused = taken[-1]
    assert refused.retry_after_s == 1 and refused.reset_s == 2  # 3 tokens at 2/s
    assert refused.headers() == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "2",
        "RateLimit-Policy": "3;w=2",
        "Retry-After": "1",
    }
    assert (await buckets.take("sub:b")).allowed  # another principal has its own bucket
    now[0] += 0.5  # one token back
    assert (await buckets.take("sub:a")).allowed
    assert not (await buckets.take("sub:a")).allowed


# -- over HTTP, in memory -------------------------------------------------------------------------------------


async def test_over_the_limit_a_principal_gets_429_with_the_headers_and_a_typed_error(
    settings: Settings, cluster: SimulatorCluster, world: World
) -> None:
    chen, other = fresh_token(world, settings), fresh_token(world, settings)
    async with gateway_with(settings, rate_limit_burst=3, rate_limit_per_s=0.5) as url:
        answers = [await ask(url, chen) for _ in range(4)]
        for status, headers, body in answers[:3]:
            assert status == 200 and body["data"]["viewer"]["name"]
            assert headers["RateLimit-Limit"] == "3" and "Retry-After" not in headers
        assert [h["RateLimit-Remaining"] for _, h, _ in answers[:3]] == ["2", "1", "0"]
        status, headers, body = answers[3]
        assert status == 429
        assert headers["Retry-After"] == "2" and headers["RateLimit-Remaining"] == "0"
        assert int(headers["RateLimit-Reset"]) <= 6 and headers["RateLimit-Limit"] == "3"
        assert "data" not in body
        assert [e["extensions"] for e in body["errors"]] == [{"code": "RATE_LIMITED", "retryAfter": 2}]
        # another principal is not held back by chen
        status, headers, _ = await ask(url, other)
        assert status == 200 and headers["RateLimit-Remaining"] == "2"


async def test_anonymous_callers_are_limited_by_their_address(
    settings: Settings, cluster: SimulatorCluster, world: World
) -> None:
    async with gateway_with(settings, rate_limit_burst=2, rate_limit_per_s=0.5) as url:
        statuses = [(await ask(url, None))[0] for _ in range(2)]
        statuses.append((await ask(url, "not-a-token"))[0])  # a bad token counts by address too
        assert statuses == [200, 200, 429]
        assert (await ask(url, fresh_token(world, settings)))[0] == 200


# -- over HTTP, through Redis ------------------------------------------------------------------------------


@needs_redis
async def test_two_gateways_sharing_redis_share_one_limit(
    settings: Settings, cluster: SimulatorCluster, world: World
) -> None:
    chen = fresh_token(world, settings)
    shared = {"cache_url": REDIS_URL, "rate_limit_burst": 4, "rate_limit_per_s": 0.2}
    async with gateway_with(settings, **shared) as one, gateway_with(settings, **shared) as two:
        answers = [await ask(url, chen) for url in (one, two, one, two)]
        assert [status for status, _, _ in answers] == [200, 200, 200, 200]
        assert [h["RateLimit-Remaining"] for _, h, _ in answers] == ["3", "2", "1", "0"]
        for url in (one, two):
            status, headers, body = await ask(url, chen)
            assert status == 429 and int(headers["Retry-After"]) >= 1
            assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_a_redis_that_fails_does_not_take_the_gateway_down(
    settings: Settings, cluster: SimulatorCluster, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    chen = fresh_token(world, settings)
    with caplog.at_level(logging.WARNING, logger="gateway.ratelimit"):
        async with gateway_with(settings, cache_url=dead, rate_limit_burst=2, rate_limit_per_s=0.5) as url:
            answers = [await ask(url, chen) for _ in range(3)]
    # answered, limited by the process's own bucket meanwhile, and said so once
    assert [status for status, _, _ in answers] == [200, 200, 429]
    assert answers[0][2]["data"]["viewer"]["name"]
    warnings = [r for r in caplog.records if r.name == "gateway.ratelimit"]
    assert len(warnings) == 1 and "Redis failed" in warnings[0].getMessage()


@needs_redis
async def test_redis_buckets_refill_on_redis_time() -> None:
    buckets = RedisBuckets(str(REDIS_URL), rate=20.0, burst=2, prefix=f"test-rl-{uuid.uuid4().hex}")
    try:
        taken: list[Decision] = [await buckets.take("sub:x") for _ in range(3)]
        assert [d.allowed for d in taken] == [True, True, False]
        await asyncio.sleep(0.1)  # 20/s: two tokens back
        assert (await buckets.take("sub:x")).allowed
    finally:
        await buckets.close()
