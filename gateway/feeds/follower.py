"""Follow every court's change feed and retire the cached answers it makes stale.

Each court is polled on its own (a slow court never delays the others). Any event bumps the court's
cache generation: a closed case, a new hearing, a lawyer entered by the clerk all show up in the next
answer instead of after a TTL. Losing a court's feed retires its cached answers too, since nothing
would tell us they went stale. With a store, each event's effects (``gateway.feeds.effects``) and the
cursor after it are saved in one transaction, so a restart resumes where the last one stopped and
nothing is applied twice. The very first read of a feed starts from its current end: history before
the gateway existed is not news.

Several replicas: a court's feed is read only by the holder of its lease (``gateway.feeds.lease``),
renewed in the transaction that saves the cursor, so a follower that lost its lease saves nothing. A
follower that (re)takes a lease resumes from the stored cursor, never from what it remembered. Its
bumps reach the other replicas through the shared cache (Redis); the memory cache is one process's
only, which the follower says loudly when it finds itself sharing the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

from gateway.adapters.errors import CourtError
from gateway.adapters.model import ChangeEvent
from gateway.adapters.registry import AdapterRegistry
from gateway.adapters.resilience import ResilientAdapter
from gateway.cache import Cache
from gateway.feeds.effects import Effect, FeedSync
from gateway.feeds.lease import LOCAL_EPOCH, FeedLeases, LeaseLost
from gateway.store import Store
from gateway.store.feeds import save_cursor, saved_cursor

log = logging.getLogger("gateway.changes")

#: a lease lasts this many polls (at least LEASE_MIN_S): a slow poll or two never loses it
LEASE_POLLS = 3
LEASE_MIN_S = 5.0


class ChangeFollower:
    def __init__(
        self,
        registry: AdapterRegistry,
        cache: Cache,
        *,
        interval_s: float = 2.0,
        store: Store | None = None,
        sync: FeedSync | None = None,
        lease_s: float | None = None,
    ) -> None:
        self.registry = registry
        self.cache = cache
        self.interval_s = interval_s
        self.store = store
        self.sync = sync
        ttl_s = lease_s if lease_s is not None else max(LEASE_MIN_S, LEASE_POLLS * interval_s)
        self.leases = FeedLeases(store, ttl_s=ttl_s) if store is not None else None
        #: where this follower is in the feeds it follows now (only those whose lease it holds)
        self.cursors: dict[str, str] = {}
        #: when (monotonic) this follower last read each feed it follows to its end: the feed lag's origin
        self.read_at: dict[str, float] = {}
        self._epochs: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._warned_process_local = False

    async def _saved_cursor(self, code: str) -> str | None:
        if self.store is None:
            return None
        async with self.store.session(read_only=True) as session:
            return await saved_cursor(session, code)

    async def _read(self, adapter: ResilientAdapter, cursor: str | None) -> tuple[list[ChangeEvent], str]:
        """Every event after ``cursor``, page by page until the feed has nothing more."""
        events: list[ChangeEvent] = []
        while True:
            page = await adapter.changes(cursor)
            cursor = page.cursor
            if not page.events:
                return events, cursor
            events += page.events

    async def _hold(self, code: str) -> int | None:
        """Our lease epoch on the court's feed, taking the lease when it is free; None while another holds it."""
        if code in self._epochs:
            return self._epochs[code]
        epoch = await self.leases.take(code) if self.leases is not None else LOCAL_EPOCH
        if epoch is None:
            self._warn_if_process_local(code)
            return None
        self._epochs[code] = epoch
        self.cursors.pop(code, None)  # whoever held it before may have moved the stored cursor
        return epoch

    def _let_go(self, code: str) -> None:
        self._epochs.pop(code, None)
        self.cursors.pop(code, None)
        self.read_at.pop(code, None)

    async def poll(self, adapter: ResilientAdapter) -> list[ChangeEvent]:
        """Read one court's feed from where we left off and apply what it says, once (if we hold its lease)."""
        code = adapter.court.code
        epoch = await self._hold(code)
        if epoch is None:
            return []
        try:
            if code not in self.cursors:
                saved = await self._saved_cursor(code)
                if saved is None:  # first time ever: start from the feed's current end
                    _, end = await self._read(adapter, None)
                    await self._save(code, epoch, end, [])
                    self.read_at[code] = time.monotonic()
                    return []
                self.cursors[code] = saved
            events, cursor = await self._read(adapter, self.cursors[code])
            effects = [e for event in events for e in (await self.sync.prepare(adapter, event) if self.sync else [])]
            await self._save(code, epoch, cursor, effects)
            self.read_at[code] = time.monotonic()
        except LeaseLost:
            log.info("another gateway process follows the change feed of %s now", code)
            self._let_go(code)
            return []
        if events:
            await self.cache.bump(code)
        return events

    async def _save(self, code: str, epoch: int, cursor: str, effects: list[Effect]) -> None:
        """The events' effects and the new cursor, in one transaction that first renews our lease."""
        if self.store is not None:
            moved = bool(effects) or cursor != self.cursors.get(code)
            if moved or (self.leases is not None and self.leases.shared):
                async with self.store.session() as session:
                    if self.leases is not None:
                        await self.leases.renew(session, code, epoch)
                    for effect in effects:
                        await effect(session)
                    if moved and not await save_cursor(session, code, cursor, epoch=epoch, now=datetime.now(UTC)):
                        raise LeaseLost(code)
        self.cursors[code] = cursor

    async def _keep(self, code: str) -> None:
        """Renew our lease without reading the feed (the court is down: stay its follower meanwhile)."""
        epoch = self._epochs.get(code)
        if self.store is None or self.leases is None or epoch is None:
            return
        try:
            async with self.store.session() as session:
                await self.leases.renew(session, code, epoch)
        except LeaseLost:
            self._let_go(code)

    def _warn_if_process_local(self, code: str) -> None:
        if self.cache.process_local and not self._warned_process_local:
            self._warned_process_local = True
            log.warning(
                "the change feed of %s is followed by another gateway process: with the memory cache, its "
                "invalidations never reach this process, which serves stale answers for up to the cache TTL; "
                "run one gateway process, or point every process at Redis (GATEWAY_CACHE_URL)",
                code,
            )

    async def _follow(self, adapter: ResilientAdapter) -> None:
        following = True
        # not ``while True``: Python 3.11's ``asyncio.wait_for`` (in aiocache, among others) can swallow
        # the cancellation ``stop`` sends, and the loop must end all the same
        while not self._stopping:
            try:
                await self.poll(adapter)
                following = True
            except CourtError as e:
                log.info("change feed of %s unavailable: %s", adapter.court.code, e.code)
                await self._keep(adapter.court.code)
                if following:
                    # cached answers are only as fresh as the feed that invalidates them: without the
                    # feed, retire them, so callers see the court's real state (or its failure)
                    await self.cache.bump(adapter.court.code)
                    following = False
            except Exception:
                log.exception("change feed of %s failed", adapter.court.code)
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        if self.leases is not None and self.leases.shared and self.cache.process_local:
            log.warning(
                "the cache is in memory but the database is shared: a memory cache serves one gateway process "
                "only (another process's invalidations never reach it); run one process, or use Redis "
                "(GATEWAY_CACHE_URL)"
            )
        self._stopping = False
        self._tasks = [asyncio.create_task(self._follow(a)) for a in self.registry.courts()]

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    async def stop(self, *, release: bool = True) -> None:
        """Stop following; ``release`` hands every lease over at once (``False``: they expire, as when a
        process dies). The next ``start`` resumes from the stored cursors."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self.leases is None:
            return
        held, self._epochs = self._epochs, {}
        self.cursors = {}
        self.read_at = {}
        for code, epoch in held.items() if release else ():
            try:
                await asyncio.wait_for(self.leases.release(code, epoch), timeout=2)
            except Exception as e:  # the database is gone: the lease expires by itself
                log.info("could not release the lease on %s's change feed: %s", code, type(e).__name__)
