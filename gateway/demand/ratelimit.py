"""Rate limits per principal: a token bucket per key, every request takes one token.

The key is the principal: the token's subject (``sub:<subject>``), or the client's address for a caller
without a valid token (``ip:<host>``; behind a proxy, run uvicorn with ``--proxy-headers`` and
``--forwarded-allow-ips`` so the address is the client's). A token issued to a registered client (a law
firm's software, ``gateway.oauth``) counts instead against that client's own bucket (``client:<id>``,
shared by every person using the client), with the rate and burst registered for it (``client_quota``);
client quotas apply even when per-principal limits are off.

A bucket holds ``burst`` tokens and refills at ``rate`` per second. The buckets live in this process
(``MemoryBuckets``) unless the cache URL is Redis: then one atomic Lua script per request reads, refills
and takes from the bucket on Redis's own clock (``RedisBuckets``), so every gateway process shares one
bucket per principal. Choice on failure: a Redis that fails or does not answer within
``REDIS_TIMEOUT_S`` never refuses, fails or stalls a request. The limiter fails open to this process's
own buckets (each process then limits on its own, so a principal gets up to one budget per process),
logs a warning at most once a minute, and asks Redis again after ``REDIS_PAUSE_S``.

Every answer carries the IETF draft header fields (draft-ietf-httpapi-ratelimit-headers):
``RateLimit-Limit`` (the burst), ``RateLimit-Remaining`` (whole tokens left), ``RateLimit-Reset``
(seconds until the bucket is full again) and ``RateLimit-Policy`` (``<burst>;w=<seconds to refill>``).
Answers to a client's token carry the later drafts' structured fields instead of that policy line:
``RateLimit-Policy: "client";q=<burst>;w=<seconds to refill>`` and
``RateLimit: "client";r=<remaining>;t=<seconds until full>`` (the three fields above stay too). A
refusal is HTTP 429 with ``Retry-After`` (seconds until a token is back) and a GraphQL error body whose
``extensions.code`` is RATE_LIMITED.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.responses import JSONResponse, Response

from gateway.identity import Viewer
from gateway.observability import metrics, record

REDIS_TIMEOUT_S = 0.25
REDIS_PAUSE_S = 5.0
WARN_EVERY_S = 60.0
#: memory buckets kept before full (idle) ones are swept
MAX_MEMORY_KEYS = 100_000
log = logging.getLogger("gateway.ratelimit")
RATE_LIMITED = "RATE_LIMITED"

#: the key a request is counted under
KeyFunction = Callable[[Viewer | None, str], str]
#: a registered client's bucket: (requests refilled per second, burst)
ClientQuota = Callable[[str], Awaitable[tuple[float, int]]]
CLIENT_POLICY = "client"


def principal_key(viewer: Viewer | None, client_host: str) -> str:
    """The token's subject; the client's address for callers without a valid token."""
    return f"sub:{viewer.subject}" if viewer is not None else f"ip:{client_host}"


@dataclass(frozen=True, slots=True)
class Decision:
    """One request's answer from its bucket, and what the headers say about the bucket now."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: int
    retry_after_s: int
    window_s: int
    #: the named policy of the later drafts' structured fields (a client's quota); None: the principal's
    policy: str | None = None

    @classmethod
    def of(cls, allowed: bool, tokens: float, rate: float, burst: int, policy: str | None = None) -> Decision:
        """``tokens``: what the bucket holds after this request took (or could not take) its token."""
        return cls(
            allowed=allowed,
            limit=burst,
            remaining=max(math.floor(tokens), 0),
            reset_s=math.ceil(max(burst - tokens, 0) / rate),
            retry_after_s=0 if allowed else max(math.ceil((1 - tokens) / rate), 1),
            window_s=math.ceil(burst / rate),
            policy=policy,
        )

    def headers(self) -> dict[str, str]:
        found = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
            "RateLimit-Policy": f"{self.limit};w={self.window_s}",
        }
        if self.policy:
            found["RateLimit-Policy"] = f'"{self.policy}";q={self.limit};w={self.window_s}'
            found["RateLimit"] = f'"{self.policy}";r={self.remaining};t={self.reset_s}'
        if not self.allowed:
            found["Retry-After"] = str(self.retry_after_s)
        return found


class Buckets(Protocol):
    async def take(self, key: str, rate: float | None = None, burst: int | None = None) -> Decision: ...

    async def close(self) -> None: ...


class MemoryBuckets:
    """Token buckets in this process; ``clock`` is monotonic seconds (tests move it)."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)

    async def take(self, key: str, rate: float | None = None, burst: int | None = None) -> Decision:
        return self.take_now(key, rate, burst)

    def take_now(self, key: str, rate: float | None = None, burst: int | None = None) -> Decision:
        """Take one token from ``key``'s bucket (``rate`` and ``burst``: this bucket's own, else the defaults)."""
        rate, burst = rate or self.rate, burst or self.burst
        now = self.clock()
        tokens, when = self._buckets.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + max(now - when, 0.0) * rate)
        allowed = tokens >= 1
        if allowed:
            tokens -= 1
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > MAX_MEMORY_KEYS:
            self._sweep(now)
        return Decision.of(allowed, tokens, rate, burst)

    def _sweep(self, now: float) -> None:
        """Forget the buckets that have refilled: a new one starts full anyway."""
        full = [k for k, (tokens, when) in self._buckets.items() if tokens + (now - when) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]

    async def close(self) -> None:
        self._buckets.clear()


#: KEYS[1]: the bucket; ARGV: rate per second, burst. Returns {allowed (0/1), tokens left as a string}.
TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'when')
local tokens = tonumber(state[1]) or burst
local when = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(now - when, 0) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'when', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


class RedisBuckets:
    """Token buckets in Redis, shared by every process using the same Redis and prefix."""

    def __init__(self, url: str, rate: float, burst: int, *, prefix: str) -> None:
        self.rate = rate
        self.burst = burst
        self.prefix = prefix
        self.fallback = MemoryBuckets(rate, burst)
        self._redis = Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S)
        self._script = self._redis.register_script(TOKEN_BUCKET)
        self._paused_until = 0.0
        self._warned_at = -math.inf

    async def take(self, key: str, rate: float | None = None, burst: int | None = None) -> Decision:
        rate, burst = rate or self.rate, burst or self.burst
        if time.monotonic() < self._paused_until:
            return self.fallback.take_now(key, rate, burst)
        try:
            allowed, tokens = await asyncio.wait_for(
                self._script(keys=[f"{self.prefix}:{key}"], args=[rate, burst]), REDIS_TIMEOUT_S * 2
            )
        except (RedisError, OSError, TimeoutError) as e:
            self._failed(e)
            return self.fallback.take_now(key, rate, burst)
        return Decision.of(bool(allowed), float(tokens), rate, burst)

    def _failed(self, error: Exception) -> None:
        now = time.monotonic()
        self._paused_until = now + REDIS_PAUSE_S
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning(
                "rate limits: Redis failed (%s: %.200s); each process limits on its own until it answers again",
                type(error).__name__,
                error,
            )

    async def close(self) -> None:
        await self._redis.aclose()


class RateLimiter:
    """Counts each request under its key (``principal_key`` unless told otherwise) in ``buckets``; a
    registered client's token under the client's own bucket (``client_quota``). ``principals`` False: only
    client tokens are counted (per-principal limits are off)."""

    def __init__(
        self,
        buckets: Buckets,
        key: KeyFunction = principal_key,
        *,
        client_quota: ClientQuota | None = None,
        principals: bool = True,
    ) -> None:
        self.buckets = buckets
        self.key = key
        self.client_quota = client_quota
        self.principals = principals

    async def check(self, viewer: Viewer | None, client_host: str) -> Decision | None:
        """This request's decision; None when nothing counts it."""
        if viewer is not None and viewer.client_id and self.client_quota is not None:
            rate, burst = await self.client_quota(viewer.client_id)
            decision = await self.buckets.take(f"client:{viewer.client_id}", rate, burst)
            decision = replace(decision, policy=CLIENT_POLICY)
            kind = "client"
        elif self.principals:
            decision = await self.buckets.take(self.key(viewer, client_host))
            kind = "token" if viewer is not None else "address"
        else:
            return None
        if not decision.allowed:
            metrics.RATE_LIMITED.labels(kind).inc()
            record.note_error(RATE_LIMITED)
        return decision

    async def close(self) -> None:
        await self.buckets.close()


def build_rate_limiter(
    cache_url: str, rate: float, burst: int, *, namespace: str = "cg", client_quota: ClientQuota | None = None
) -> RateLimiter | None:
    """Shared buckets when the cache is Redis, this process's otherwise; None when ``rate`` is 0 (off) and
    there are no client quotas."""
    principals = rate > 0
    if not principals and client_quota is None:
        return None
    rate = rate if principals else 1.0  # the default bucket is never used then
    if cache_url.startswith(("redis://", "rediss://")):
        buckets: Buckets = RedisBuckets(cache_url, rate, burst, prefix=f"{namespace}:rl")
    else:
        buckets = MemoryBuckets(rate, burst)
    return RateLimiter(buckets, client_quota=client_quota, principals=principals)


def rate_limited_error(decision: Decision) -> dict[str, object]:
    """The GraphQL error of a refused request (HTTP 429's body, a WebSocket operation's ``error`` message)."""
    return {
        "message": f"too many requests: try again in {decision.retry_after_s} s",
        "extensions": {"code": RATE_LIMITED, "retryAfter": decision.retry_after_s},
    }


def rate_limited(decision: Decision) -> Response:
    """HTTP 429: a GraphQL error body (nothing was executed) and the headers saying when to come back."""
    return JSONResponse({"errors": [rate_limited_error(decision)]}, status_code=429, headers=decision.headers())
