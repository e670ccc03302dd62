"""Opaque cursors: base64url JSON that only the gateway reads. A tampered cursor is bad input.

``Keyset`` is the one codec for the store's lists paged by (time, id): the gateway's filings, bindings,
tickets and archive applications.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from gateway.core.errors import InvalidInput


class InvalidCursor(InvalidInput):
    """A cursor this gateway did not issue (or issued for another list)."""

    def __init__(self, message: str = "cursor is not one this gateway issued") -> None:
        super().__init__(message, "CURSOR")


def encode_cursor(kind: str, state: dict[str, Any]) -> str:
    raw = json.dumps({"k": kind, **state}, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor("cursor is not one this gateway issued") from None
    if not isinstance(state, dict) or state.pop("k", None) != kind:
        raise InvalidCursor(f"cursor does not belong to {kind}")
    return state


@dataclass(frozen=True)
class Keyset:
    """Keyset pagination over a store table by (time, id): a cursor names the last row a page showed, and
    the next page is the rows after it in the list's order. Ids break ties between equal times, so no
    row is skipped or shown twice however many share a time. ``kind`` names the list: a cursor of one
    list is refused by another."""

    kind: str
    at: InstrumentedAttribute[datetime]
    id: InstrumentedAttribute[str]
    newest_first: bool = True

    def cursor(self, at: datetime, row_id: str) -> str:
        return encode_cursor(self.kind, {"t": at.isoformat(), "i": row_id})

    def decode(self, cursor: str) -> tuple[datetime, str]:
        state = decode_cursor(self.kind, cursor)
        try:
            at = datetime.fromisoformat(state["t"])
            row_id = str(state["i"])
        except (KeyError, TypeError, ValueError):
            raise InvalidCursor() from None
        if at.tzinfo is None:
            raise InvalidCursor()
        return at, row_id

    def after(self, cursor: str) -> ColumnElement[bool]:
        """The rows that come after the cursor's row."""
        at, row_id = self.decode(cursor)
        if self.newest_first:
            return or_(self.at < at, and_(self.at == at, self.id < row_id))
        return or_(self.at > at, and_(self.at == at, self.id > row_id))

    def order(self) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
        if self.newest_first:
            return self.at.desc(), self.id.desc()
        return self.at.asc(), self.id.asc()
