"""Follow every court's change feed and retire the cached answers it makes stale.

Each court is polled on its own (a slow court never delays the others). Any event bumps the court's
cache generation: a closed case, a new hearing, a lawyer entered by the clerk all show up in the next
answer instead of after a TTL. Losing a court's feed retires its cached answers too, since nothing
would tell us they went stale. Listeners (the store-backed sync of filings and notifications) receive
the events too. The first read of a feed starts from its current end: history before the gateway
started is not news.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from gateway.adapters.errors import CourtError
from gateway.adapters.model import ChangeEvent
from gateway.adapters.registry import AdapterRegistry
from gateway.adapters.resilience import ResilientAdapter
from gateway.cache import Cache

log = logging.getLogger("gateway.changes")

Listener = Callable[[ChangeEvent], Awaitable[None]]


class ChangeFollower:
    def __init__(self, registry: AdapterRegistry, cache: Cache, *, interval_s: float = 2.0) -> None:
        self.registry = registry
        self.cache = cache
        self.interval_s = interval_s
        self.cursors: dict[str, str] = {}
        self.listeners: list[Listener] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def poll(self, adapter: ResilientAdapter) -> list[ChangeEvent]:
        """Read one court's feed from where we left off; every page until it is empty."""
        code = adapter.court.code
        events: list[ChangeEvent] = []
        if code not in self.cursors:
            page = await adapter.changes(None)
            while page.events:  # skip the backlog: start from the feed's current end
                page = await adapter.changes(page.cursor)
            self.cursors[code] = page.cursor
            return events
        while True:
            page = await adapter.changes(self.cursors[code])
            self.cursors[code] = page.cursor
            if not page.events:
                break
            events += page.events
        if events:
            await self.cache.bump(code)
            for event in events:
                for listener in self.listeners:
                    await listener(event)
        return events

    async def _follow(self, adapter: ResilientAdapter) -> None:
        following = True
        while True:
            try:
                await self.poll(adapter)
                following = True
            except CourtError as e:
                log.info("change feed of %s unavailable: %s", adapter.court.code, e.code)
                if following:
                    # cached answers are only as fresh as the feed that invalidates them: without the
                    # feed, retire them, so callers see the court's real state (or its failure)
                    await self.cache.bump(adapter.court.code)
                    following = False
            except Exception:
                log.exception("change feed of %s failed", adapter.court.code)
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._follow(a)) for a in self.registry.courts()]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
