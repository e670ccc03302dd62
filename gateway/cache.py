"""The gateway's cache: aiocache in memory by default, Redis in production.

Three things aiocache 0.12 does not do for us (DESIGN §6): values are pickled (the memory backend would
otherwise hand out live references), a stored ``None`` is a real answer rather than a miss, and
concurrent misses on one key make one backend call (single flight). Invalidation is by generation:
every key of a court embeds that court's generation number, and a change in the court's feed bumps it,
which retires all of that court's cached answers at once.

Across replicas (DESIGN §5): with Redis, values and generations both live in Redis and every read asks
Redis for the generations it needs, so once ``bump`` returns, no replica reads an answer cached under
the old generation (its key is simply never asked for again). With the memory cache, values and
generations live in the process: a bump reaches nobody else, so the memory cache is for one process
only (``process_local``; the change follower warns when it meets another process on the database).

Value keys carry the format of the cached objects (``gateway.cache_format``), so a rolling upgrade never
unpickles an object of another version; generation keys carry none, so a bump reaches every version.
Keys never contain anything from GraphQL's ``info``; callers build them from the caller's scope.
Generations are named by scope: a court's code, or another scope such as a person's case bindings
(``gateway.bindings.cached``).

A cache that fails is a miss, never a lost answer: a read that fails (Redis refused, its pool exhausted,
a timeout) loads from the source, a value write that fails is skipped, each with a warning at most every
``WARN_EVERY_S``. A generation that cannot be read is a fresh random negative number, so the keys built
on it are asked for the first and only time: an unreadable generation never serves an older answer.
Invalidations (``bump``, ``delete``) still raise: skipping one would serve stale answers.

Redis connections come from a blocking pool sized for the fan-out (``REDIS_POOL_SIZE``: 13 courts ×
about 10 requests at once): a request that finds it empty waits ``REDIS_POOL_WAIT_S`` for a connection,
then reads as a miss. The URL may size the pool as redis-py reads it, ``?max_connections=N`` (the rate
limiter's client shares the URL); the cache reads no other option from it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from aiocache import Cache as AioCache
from aiocache.base import BaseCache
from aiocache.serializers import PickleSerializer
from redis.asyncio import BlockingConnectionPool
from redis.exceptions import RedisError

from gateway.cache_format import VALUE_FORMAT

T = TypeVar("T")
_ABSENT = ("__cached_none__",)

log = logging.getLogger("gateway.cache")

#: connections per Redis pool: a fan-out reads 13 courts' values at once, for about 10 requests at once
REDIS_POOL_SIZE = 13 * 10
#: how long a read waits for a pooled connection before it counts as a miss
REDIS_POOL_WAIT_S = 0.25
#: the longest one cache operation may take (aiocache's own default is 5 s: a hung Redis would hang requests)
REDIS_OPERATION_S = 1.0
REDIS_CONNECT_S = 0.5
#: at most one warning per this many seconds while the cache fails
WARN_EVERY_S = 30.0
#: what a failing backend raises: Redis's errors (refused, pool exhausted, its timeouts), sockets', aiocache's
BACKEND_ERRORS = (RedisError, OSError, TimeoutError)


def open_backend(url: str) -> BaseCache:
    """An aiocache backend for ``url``; for Redis, on a blocking pool with short timeouts (module docstring)."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "redis":
        return AioCache.from_url(url)
    query = dict(urllib.parse.parse_qsl(parsed.query))
    options: dict[str, Any] = {
        "pool_max_size": int(query.get("max_connections", REDIS_POOL_SIZE)),
        "timeout": REDIS_OPERATION_S,
        "create_connection_timeout": REDIS_CONNECT_S,
    }
    if parsed.path:
        options.update(AioCache.REDIS.parse_uri_path(parsed.path))
    for name, value in (("endpoint", parsed.hostname), ("port", parsed.port), ("password", parsed.password)):
        if value:
            options[name] = value
    return AioCache(
        AioCache.REDIS,
        connection_pool_class=BlockingConnectionPool,
        connection_pool_kwargs={"timeout": REDIS_POOL_WAIT_S},
        **options,
    )


class Cache:
    def __init__(
        self,
        url: str = "memory://",
        *,
        namespace: str = "cg",
        default_ttl: float = 30.0,
        value_format: str = VALUE_FORMAT,
    ) -> None:
        self.url = url
        self.namespace = namespace
        self.value_format = value_format
        self.default_ttl = default_ttl
        backend = open_backend(url)
        backend.serializer = PickleSerializer()
        self._backend = backend
        # counters keep the backend's own serializer, so INCR stays atomic (Redis) and readable
        self._counters = open_backend(url)
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self.hits = 0
        self.misses = 0
        #: backend operations that failed (each read as a miss, or a write skipped)
        self.failures = 0
        self._unwarned = 0
        self._warned_at = float("-inf")

    @property
    def process_local(self) -> bool:
        """True for the memory cache: its values and generations are seen by this process only."""
        return self.url.startswith("memory://")

    def _key(self, key: str) -> str:
        return f"{self.namespace}:{self.value_format}:{key}"

    def _generation_key(self, scope: str) -> str:
        return f"{self.namespace}:gen:{scope}"

    def _failed(self, operation: str, error: BaseException) -> None:
        """Count a backend failure; warn at most every ``WARN_EVERY_S`` (a down Redis fails every request)."""
        self.failures += 1
        self._unwarned += 1
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            log.warning(
                "cache %s failed (%s: %.200s); read as a miss, %d failure(s) since the last warning",
                operation,
                type(error).__name__,
                error,
                self._unwarned,
            )
            self._warned_at, self._unwarned = now, 0

    async def get_or_load(
        self, key: str, load: Callable[[], Awaitable[T]], ttl: float | None = None, *, exact: bool = False
    ) -> T:
        """The cached value, or ``load()``'s, stored for ``ttl`` seconds; one load per key at a time.

        A cache configured with ``default_ttl <= 0`` is off for answers whose freshness rests on the ttl:
        every call loads. ``exact``: the key embeds a generation that every change of the value bumps, so
        the value is never stale; it is cached for ``ttl`` (required) even then, and beyond ``default_ttl``.
        """
        if exact:
            if ttl is None or ttl <= 0:
                raise ValueError("an exact value needs its own ttl")
        elif self.default_ttl <= 0:
            return await load()
        full = self._key(key)
        try:
            cached = await self._backend.get(full)
        except BACKEND_ERRORS as e:
            self._failed("read", e)
            cached = None
        if cached is not None:
            self.hits += 1
            return None if cached == _ABSENT else cached  # type: ignore[return-value]
        running = self._inflight.get(full)
        if running is not None:
            return await asyncio.shield(running)
        self.misses += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[full] = future
        try:
            value = await load()
            keep = ttl if exact else min(ttl or self.default_ttl, self.default_ttl)
            try:
                await self._backend.set(full, _ABSENT if value is None else value, ttl=keep)
            except BACKEND_ERRORS as e:
                self._failed("write", e)
            future.set_result(value)
            return value
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # the waiters re-raise it; do not warn that nobody retrieved it
            raise
        finally:
            del self._inflight[full]

    async def peek(self, key: str) -> Any:
        """The value stored under ``key`` by ``put`` (None when absent or the backend fails): for values
        that are kept beside the loaded ones (``gateway.last_known``, APQ documents), not loaded through them."""
        try:
            return await self._backend.get(self._key(key))
        except BACKEND_ERRORS as e:
            self._failed("read", e)
            return None

    async def put(self, key: str, value: Any, ttl: float) -> None:
        """Store ``value`` (not None) under ``key`` for ``ttl`` seconds; a failing backend skips it."""
        try:
            await self._backend.set(self._key(key), value, ttl=ttl)
        except BACKEND_ERRORS as e:
            self._failed("write", e)

    async def delete(self, key: str) -> None:
        await self._backend.delete(self._key(key))

    async def generations(self, scopes: Iterable[str]) -> dict[str, int]:
        """Each scope's (a court's code, …) current generation (0 when it never changed), in one round trip;
        a fresh random negative number for each when the backend fails (module docstring)."""
        codes = list(scopes)
        if not codes:  # Redis refuses an MGET without keys
            return {}
        try:
            values = await self._counters.multi_get([self._generation_key(c) for c in codes])
        except BACKEND_ERRORS as e:
            self._failed("generations read", e)
            return {c: -1 - secrets.randbits(62) for c in codes}
        return {c: int(v or 0) for c, v in zip(codes, values, strict=True)}

    async def bump(self, scope: str) -> None:
        """Retire every cached answer that embeds this scope's generation, for every replica on this cache."""
        await self._counters.increment(self._generation_key(scope))

    async def ping(self) -> None:
        """One round trip to the backend (for ``/readyz``); raises when it does not answer."""
        await self._counters.exists(self._generation_key("__ping__"))

    async def clear(self) -> None:
        await self._backend.clear(namespace=None)

    async def close(self) -> None:
        await self._backend.close()
        await self._counters.close()
