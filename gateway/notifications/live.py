"""Live notices: one store poll per process, fanned out to that process's subscriptions.

Notices are written by other transactions, often in another gateway process (the change-feed sync, a
delivery worker), so the store is the one place that sees them all: we poll it. One poller per store
and process, not one per WebSocket, keeps the cost at one indexed query per interval however many
clients listen, and it runs only while someone does. Its delay (``interval_s``, 0.5 s by default) is
the price of needing nothing besides the database; a pub/sub channel could shorten it later, but would
still need this poll to catch what it misses.

PostgreSQL assigns ids from a sequence at INSERT, not at COMMIT: a transaction holding id 10 may commit
after one holding id 11 was seen. Ids skipped over are therefore remembered as gaps and looked for
again until ``gap_grace_s`` has passed (most gaps are rolled-back or conflicting inserts and never
appear). SQLite serialises writers, so there ids appear in order anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select

from gateway.notifications.service import Notice, notices_after
from gateway.store import Store
from gateway.store.notifications import InAppNotification

log = logging.getLogger("gateway.notifications")

#: notices fetched per poll; more are fetched on the next poll, at once
BATCH = 500
#: notices a subscription may have waiting before it is ended (its client reads too slowly)
QUEUE_SIZE = 1000
#: most gaps remembered at once (oldest forgotten first)
MAX_GAPS = 10_000


class FeedOverflow(Exception):
    """A subscriber fell too far behind; it should resubscribe with the last id it saw."""


@dataclass(eq=False)
class Subscriber:
    keys: frozenset[str]
    queue: asyncio.Queue[Notice] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False

    async def next(self) -> Notice:
        if self.overflowed and self.queue.empty():
            raise FeedOverflow("too many notices waiting; resubscribe with `after` set to the last id you saw")
        return await self.queue.get()


class NoticeFeed:
    """Polls the ``notifications`` table for new rows and hands each to the subscribers it is for."""

    def __init__(self, store: Store, *, interval_s: float = 0.5, gap_grace_s: float = 60.0) -> None:
        self.store = store
        self.interval_s = interval_s
        self.gap_grace_s = gap_grace_s
        self._subscribers: set[Subscriber] = set()
        self._last_id: int | None = None
        self._gaps: dict[int, float] = {}  # id → when it was first missed (monotonic)
        self._task: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def subscribe(self, keys: Iterable[str]) -> AsyncIterator[Subscriber]:
        """Receive every notice for ``keys`` committed from now on, until the block ends."""
        subscriber = Subscriber(frozenset(keys))
        async with self._starting:
            if self._task is None or self._task.done():
                self._last_id = await self._max_id()  # "from now on" starts here
                self._gaps.clear()
                self._task = asyncio.create_task(self._run(), name="notice-feed")
            self._subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self._subscribers.discard(subscriber)  # the poller stops by itself once nobody listens

    async def _run(self) -> None:
        while self._subscribers:
            try:
                while await self.poll() >= BATCH:
                    pass
            except Exception:
                log.exception("polling for new notices failed; trying again")
            await asyncio.sleep(self.interval_s)

    async def poll(self) -> int:
        """One look at the store; how many new notices it found."""
        assert self._last_id is not None
        last = self._last_id
        newer = InAppNotification.id > last
        query = select(InAppNotification).where(
            or_(newer, InAppNotification.id.in_(self._gaps)) if self._gaps else newer
        )
        async with self.store.session(read_only=True) as session:
            rows = (await session.scalars(query.order_by(InAppNotification.id).limit(BATCH))).all()
        now = time.monotonic()
        for row in rows:
            if self._gaps.pop(row.id, None) is None and row.id > last:
                self._gaps.update(dict.fromkeys(range(last + 1, row.id), now))
                last = row.id
            self._dispatch(Notice.from_row(row), row.recipient_key)
        self._last_id = last
        self._forget_gaps(now)
        return len(rows)

    def _dispatch(self, notice: Notice, recipient_key: str) -> None:
        for subscriber in self._subscribers:
            if recipient_key in subscriber.keys and not subscriber.overflowed:
                try:
                    subscriber.queue.put_nowait(notice)
                except asyncio.QueueFull:
                    subscriber.overflowed = True

    def _forget_gaps(self, now: float) -> None:
        expired = [i for i, seen in self._gaps.items() if now - seen > self.gap_grace_s]
        for i in expired:
            del self._gaps[i]
        while len(self._gaps) > MAX_GAPS:
            del self._gaps[next(iter(self._gaps))]

    async def _max_id(self) -> int:
        async with self.store.session(read_only=True) as session:
            return (await session.scalar(select(func.max(InAppNotification.id)))) or 0


_feeds: weakref.WeakKeyDictionary[Store, NoticeFeed] = weakref.WeakKeyDictionary()


def feed_for(store: Store, *, interval_s: float) -> NoticeFeed:
    """The process's one feed of ``store`` (made on first use)."""
    feed = _feeds.get(store)
    if feed is None:
        feed = _feeds[store] = NoticeFeed(store, interval_s=interval_s)
    return feed


async def live_notices(
    feed: NoticeFeed, keys: list[str], *, after_id: int | None = None, catch_up_page: int = 100
) -> AsyncGenerator[Notice, None]:
    """New notices for ``keys`` as they are committed; with ``after_id``, first those after it that
    the client missed (a reconnect), each sent once."""
    async with feed.subscribe(keys) as subscriber:
        caught_up: set[int] = set()
        cursor = after_id
        while cursor is not None:
            async with feed.store.session(read_only=True) as session:
                page = await notices_after(session, keys, cursor, limit=catch_up_page)
            for notice in page:
                caught_up.add(notice.id)
                yield notice
            cursor = page[-1].id if len(page) == catch_up_page else None
        while True:
            notice = await subscriber.next()
            if notice.id not in caught_up:
                yield notice
