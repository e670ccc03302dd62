"""Claiming due outbox rows for one worker round: the lease every retried delivery starts with.

An outbox row is due when its ``next_attempt_at`` has passed. A round takes a batch of them, counts the
attempt and moves ``next_attempt_at`` a lease ahead, in one short transaction: a worker that dies
mid-delivery leaves the row to be retried when the lease ends, and another process (PostgreSQL: rows
locked by it are skipped) never takes the same row meanwhile.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select

from gateway.store import Store

Row = TypeVar("Row")


async def claim_due(
    store: Store, model: type[Row], pending: ColumnElement[bool], *, now: datetime, batch: int, lease_s: float
) -> list[Row]:
    """Up to ``batch`` rows of ``model`` matching ``pending`` and due at ``now``, oldest due first, leased."""
    table: Any = model  # an ORM model with ``attempts`` and ``next_attempt_at`` columns
    async with store.session() as session:
        query = (
            select(table)
            .where(pending, table.next_attempt_at <= now)
            .order_by(table.next_attempt_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        claimed = list((await session.execute(query)).scalars())
        for row in claimed:
            row.attempts += 1
            row.next_attempt_at = now + timedelta(seconds=lease_s)
    return claimed
