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
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from aiocache import Cache as AioCache
from aiocache.base import BaseCache
from aiocache.serializers import PickleSerializer

from gateway.cache_format import VALUE_FORMAT

T = TypeVar("T")
_ABSENT = ("__cached_none__",)


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
        backend: BaseCache = AioCache.from_url(url)
        backend.serializer = PickleSerializer()
        self._backend = backend
        # counters keep the backend's own serializer, so INCR stays atomic (Redis) and readable
        self._counters: BaseCache = AioCache.from_url(url)
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self.hits = 0
        self.misses = 0

    @property
    def process_local(self) -> bool:
        """True for the memory cache: its values and generations are seen by this process only."""
        return self.url.startswith("memory://")

    def _key(self, key: str) -> str:
        return f"{self.namespace}:{self.value_format}:{key}"

    def _generation_key(self, court_code: str) -> str:
        return f"{self.namespace}:gen:{court_code}"

    async def get_or_load(self, key: str, load: Callable[[], Awaitable[T]], ttl: float | None = None) -> T:
        """The cached value, or ``load()``'s, stored for ``ttl`` seconds; one load per key at a time.

        A cache configured with ``default_ttl <= 0`` is off: every call loads.
        """
        if self.default_ttl <= 0:
            return await load()
        full = self._key(key)
        cached = await self._backend.get(full)
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
            await self._backend.set(
                full, _ABSENT if value is None else value, ttl=min(ttl or self.default_ttl, self.default_ttl)
            )
            future.set_result(value)
            return value
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # the waiters re-raise it; do not warn that nobody retrieved it
            raise
        finally:
            del self._inflight[full]

    async def delete(self, key: str) -> None:
        await self._backend.delete(self._key(key))

    async def generations(self, courts: Iterable[str]) -> dict[str, int]:
        """Each court's current generation (0 when it never changed), in one round trip."""
        codes = list(courts)
        if not codes:  # Redis refuses an MGET without keys
            return {}
        values = await self._counters.multi_get([self._generation_key(c) for c in codes])
        return {c: int(v or 0) for c, v in zip(codes, values, strict=True)}

    async def bump(self, court_code: str) -> None:
        """Retire every cached answer that embeds this court's generation, for every replica on this cache."""
        await self._counters.increment(self._generation_key(court_code))

    async def ping(self) -> None:
        """One round trip to the backend (for ``/readyz``); raises when it does not answer."""
        await self._counters.exists(self._generation_key("__ping__"))

    async def clear(self) -> None:
        await self._backend.clear(namespace=None)

    async def close(self) -> None:
        await self._backend.close()
        await self._counters.close()
