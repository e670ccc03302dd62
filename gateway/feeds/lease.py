"""One follower per court feed across every replica: a lease per court, in the database.

On PostgreSQL (several replicas, several workers each) a court's feed is followed by the holder of its
row in ``feed_leases``. Invariants:

- at most one unexpired holder per court; a holder renews its lease in the very transaction that saves
  the court's cursor and the effects of its events, before writing anything, so a holder whose lease
  was taken over cannot commit (the renewal finds another holder or epoch and raises
  :class:`LeaseLost`; the transaction rolls back) and no two followers ever apply the same events;
- taking a lease (a free one, an expired one, or our own again) adds one to its epoch; the cursor row
  remembers the epoch that wrote it and refuses writers of an older one (``gateway.store.feeds``);
- expiry is read on the database's clock (``now()``), so replicas' clocks need not agree;
- a holder that dies is replaced once its lease expires (``ttl_s``); one that stops cleanly releases
  its leases, and is replaced at the next poll of another replica.

On SQLite the gateway is one process (DESIGN §5: the embedded default), which holds every lease: the
leases are granted without a round trip, at epoch 0.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.store import Store
from gateway.store.feeds import FeedLease

#: the epoch of every lease when the database is not shared (SQLite)
LOCAL_EPOCH = 0


class LeaseLost(Exception):
    """Another follower holds the court's feed now; whatever this one was about to save is void."""


def holder_name() -> str:
    """``host:pid:random``: unique per follower, and readable by whoever looks at ``feed_leases``."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


class FeedLeases:
    def __init__(self, store: Store, *, ttl_s: float, holder: str | None = None) -> None:
        self.store = store
        self.ttl = timedelta(seconds=ttl_s)
        self.holder = holder or holder_name()

    @property
    def shared(self) -> bool:
        """True when other processes may follow the same feeds (PostgreSQL)."""
        return self.store.dialect == "postgresql"

    async def take(self, court_code: str) -> int | None:
        """Our new epoch for the court's feed, or None while another follower holds it."""
        if not self.shared:
            return LOCAL_EPOCH
        insert = postgresql.insert(FeedLease).values(
            court_code=court_code, holder=self.holder, epoch=1, expires_at=func.now() + self.ttl
        )
        statement = insert.on_conflict_do_update(
            index_elements=[FeedLease.court_code],
            set_={
                "holder": insert.excluded.holder,
                "epoch": FeedLease.epoch + 1,
                "expires_at": insert.excluded.expires_at,
            },
            where=or_(FeedLease.expires_at < func.now(), FeedLease.holder == self.holder),
        ).returning(FeedLease.epoch)
        async with self.store.session() as session:
            epoch: int | None = (await session.execute(statement)).scalar_one_or_none()
        return epoch

    async def renew(self, session: AsyncSession, court_code: str, epoch: int) -> None:
        """Extend our lease inside ``session``'s transaction (and lock it until it ends); raise
        :class:`LeaseLost` when it is no longer ours."""
        if not self.shared:
            return
        result: Any = await session.execute(
            update(FeedLease)
            .where(FeedLease.court_code == court_code, FeedLease.holder == self.holder, FeedLease.epoch == epoch)
            .values(expires_at=func.now() + self.ttl)
        )
        if result.rowcount != 1:
            raise LeaseLost(court_code)

    async def release(self, court_code: str, epoch: int) -> None:
        """Expire our lease now, so another replica takes the feed over at its next poll."""
        if not self.shared:
            return
        async with self.store.session() as session:
            await session.execute(
                update(FeedLease)
                .where(FeedLease.court_code == court_code, FeedLease.holder == self.holder, FeedLease.epoch == epoch)
                .values(expires_at=func.now() - self.ttl)
            )
