"""Follow every court's change feed and retire the cached answers it makes stale.

Each court is polled on its own (a slow court never delays the others). Any event bumps the court's
cache generation: a closed case, a new hearing, a lawyer entered by the clerk all show up in the next
answer instead of after a TTL. Losing a court's feed retires its cached answers too, since nothing
would tell us they went stale. With a store, each event's effects (``gateway.feeds.effects``) and the
cursor after it are saved in one transaction, so a restart resumes where the last one stopped and
nothing is applied twice. The very first read of a feed starts from its current end: history before
the gateway existed is not news.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from gateway.adapters.errors import CourtError
from gateway.adapters.model import ChangeEvent
from gateway.adapters.registry import AdapterRegistry
from gateway.adapters.resilience import ResilientAdapter
from gateway.cache import Cache
from gateway.feeds.effects import Effect, FeedSync
from gateway.store import Store
from gateway.store.feeds import FeedCursor

log = logging.getLogger("gateway.changes")


class ChangeFollower:
    def __init__(
        self,
        registry: AdapterRegistry,
        cache: Cache,
        *,
        interval_s: float = 2.0,
        store: Store | None = None,
        sync: FeedSync | None = None,
    ) -> None:
        self.registry = registry
        self.cache = cache
        self.interval_s = interval_s
        self.store = store
        self.sync = sync
        self.cursors: dict[str, str] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def _saved_cursor(self, code: str) -> str | None:
        if self.store is None:
            return None
        async with self.store.session(read_only=True) as session:
            saved = await session.get(FeedCursor, code)
            return saved.cursor if saved else None

    async def _read(self, adapter: ResilientAdapter, cursor: str | None) -> tuple[list[ChangeEvent], str]:
        """Every event after ``cursor``, page by page until the feed has nothing more."""
        events: list[ChangeEvent] = []
        while True:
            page = await adapter.changes(cursor)
            cursor = page.cursor
            if not page.events:
                return events, cursor
            events += page.events

    async def poll(self, adapter: ResilientAdapter) -> list[ChangeEvent]:
        """Read one court's feed from where we left off and apply what it says, once."""
        code = adapter.court.code
        if code not in self.cursors:
            saved = await self._saved_cursor(code)
            if saved is None:  # first time ever: start from the feed's current end
                _, end = await self._read(adapter, None)
                await self._save(code, end, [])
                return []
            self.cursors[code] = saved
        events, cursor = await self._read(adapter, self.cursors[code])
        effects = [e for event in events for e in (await self.sync.prepare(adapter, event) if self.sync else [])]
        await self._save(code, cursor, effects)
        if events:
            await self.cache.bump(code)
        return events

    async def _save(self, code: str, cursor: str, effects: list[Effect]) -> None:
        """The events' effects and the new cursor, in one transaction."""
        if self.store is not None:
            async with self.store.session() as session:
                for effect in effects:
                    await effect(session)
                await session.merge(FeedCursor(court_code=code, cursor=cursor, updated_at=datetime.now(UTC)))
        self.cursors[code] = cursor

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

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
