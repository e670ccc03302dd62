"""``changes``: what happened for a person since an opaque point, paged, from the one notice stream.

A firm's nightly sync reads the person's notices of the kinds firm software may follow
(``gateway.notifications.events``), oldest first, after a point; each page hands back the point to
resume from. A point is keyset state over the notices' ids (``i``: the last one read) and the time it
was issued (``t``), encoded with the gateway's cursor codec: it lives in the database's ids, not in a
process, so it survives restarts and works at any replica.

Invariants:

- only the caller's own notices (their recipient keys, from the verified token), and for a client's
  token only the kinds its scopes cover: a point read with fewer scopes skips what they hide, for good;
- a point is valid for ``changes_point_valid_days`` after it was issued (every page issues a new one,
  also an empty page); an older point is refused with CHANGES_POINT_EXPIRED and the client re-reads in
  full, then starts again without a point;
- without a point, the list starts at the notices of the validity period;
- notices younger than ``SETTLE`` are left for the next call: a transaction that took an id earlier but
  committed later would otherwise be passed over for good. A transaction open longer than that is
  the documented window in which an event can be missed by ``changes`` (webhooks still deliver it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.cursors import InvalidCursor, decode_cursor, encode_cursor
from gateway.core.errors import Refusal
from gateway.notifications.events import EVENT_TYPES
from gateway.store.notifications import InAppNotification

POINT_KIND = "changes"
SETTLE = timedelta(seconds=2)
MAX_ID = 2**63 - 1


class PointExpired(Refusal):
    """The point is older than its validity: re-read in full, then call ``changes`` without a point."""

    code = "CHANGES_POINT_EXPIRED"


@dataclass(frozen=True)
class Change:
    id: int
    event_type: str
    court_code: str | None
    case_number: str | None
    title: str
    text: str
    occurred_at: datetime


@dataclass(frozen=True)
class ChangePage:
    changes: list[Change]
    point: str
    has_more: bool


def encode_point(last_id: int, issued: datetime) -> str:
    return encode_cursor(POINT_KIND, {"i": last_id, "t": int(issued.timestamp())})


def decode_point(point: str, *, now: datetime, valid: timedelta) -> int:
    """The last notice id the point read; PointExpired when it was issued longer than ``valid`` ago."""
    if len(point) > 200:
        raise InvalidCursor()
    state = decode_cursor(POINT_KIND, point)
    last, issued = state.get("i"), state.get("t")
    if type(last) is not int or type(issued) is not int or not 0 <= last <= MAX_ID or issued < 0:
        raise InvalidCursor()
    if issued < (now - valid).timestamp():
        raise PointExpired("this point has expired: re-read your cases in full, then sync from a new point")
    return last


async def changes_since(
    session: AsyncSession,
    keys: Sequence[str],
    kinds: Sequence[str],
    *,
    since: str | None,
    first: int,
    now: datetime,
    valid: timedelta,
) -> ChangePage:
    """``first`` changes after ``since`` (see the module's docstring), and the point after them."""
    last = None if since is None else decode_point(since, now=now, valid=valid)
    query = select(InAppNotification).where(
        InAppNotification.recipient_key.in_(keys),
        InAppNotification.kind.in_(kinds),
        InAppNotification.created_at <= now - SETTLE,
    )
    if last is None:
        query = query.where(InAppNotification.created_at >= now - valid)
    else:
        query = query.where(InAppNotification.id > last)
    rows = list(await session.scalars(query.order_by(InAppNotification.id).limit(first + 1))) if kinds and keys else []
    page = rows[:first]
    if page:
        last = page[-1].id
    elif last is None:  # nothing in the whole period: start after the newest notice there is
        settled = InAppNotification.created_at <= now - SETTLE
        newest = await session.scalar(
            select(InAppNotification.id).where(settled).order_by(InAppNotification.id.desc()).limit(1)
        )
        last = 0 if newest is None else newest
    changes = [
        Change(r.id, EVENT_TYPES[r.kind], r.court_code, r.case_number, r.title, r.body, r.created_at) for r in page
    ]
    return ChangePage(changes, encode_point(last, now), len(rows) > first)
