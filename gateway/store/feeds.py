"""Where the gateway is in each court's change feed (migration 0005), and who follows it (migration 0011).

The cursor is saved in the same transaction as the effects of the events before it, so after a crash
or restart the gateway resumes exactly there: an event's effects are applied once.

Invariants:

- one row per court in ``feed_cursors``, written only by :func:`save_cursor`, an upsert (replicas
  starting together never collide on the primary key);
- a cursor written under lease epoch *n* is never overwritten by a writer holding an older epoch: the
  families' positions are opaque strings of different shapes and cannot be compared, so the epoch
  orders them (on SQLite, the one process, every write carries epoch 0);
- ``feed_leases`` names, per court, the follower allowed to read its feed and move its cursor, and
  until when (``gateway.feeds.lease``); epochs only grow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UTCDateTime


class FeedCursor(Base):
    __tablename__ = "feed_cursors"

    court_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: the lease epoch of the follower that wrote it
    epoch: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class FeedLease(Base):
    """The right to follow one court's feed: held by ``holder`` until ``expires_at``, renewed every poll."""

    __tablename__ = "feed_leases"

    court_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: host, process and follower that holds it (for operators reading the table)
    holder: Mapped[str] = mapped_column(String(64))
    #: grows by one each time the lease changes hands (or is taken again), never otherwise
    epoch: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


def upsert(session: AsyncSession, model: Any) -> Any:
    """INSERT … that can say ON CONFLICT DO UPDATE, on PostgreSQL and SQLite alike."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


async def saved_cursor(session: AsyncSession, court_code: str) -> str | None:
    found = await session.get(FeedCursor, court_code)
    return found.cursor if found else None


async def save_cursor(session: AsyncSession, court_code: str, cursor: str, *, epoch: int, now: datetime) -> bool:
    """Store ``cursor`` unless a follower with a newer lease epoch stored one; False when refused."""
    insert = upsert(session, FeedCursor).values(court_code=court_code, cursor=cursor, epoch=epoch, updated_at=now)
    statement = insert.on_conflict_do_update(
        index_elements=[FeedCursor.court_code],
        set_={
            "cursor": insert.excluded.cursor,
            "epoch": insert.excluded.epoch,
            "updated_at": insert.excluded.updated_at,
        },
        where=FeedCursor.epoch <= insert.excluded.epoch,
    )
    result: Any = await session.execute(statement)
    return bool(result.rowcount == 1)
