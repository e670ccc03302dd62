"""Opaque cursors: base64url text that only the gateway reads. A tampered cursor is bad input.

``Keyset`` is the one codec for the store's lists paged by (time, id): the gateway's filings, bindings,
tickets and archive applications. ``Positions`` is the codec for the merged court lists: where each
source (a court, for one identity of the viewer) stands, and the total of the sources already finished.
It is written compactly, because a cursor names up to a few dozen sources and travels in URLs: keys
sorted and front-coded (each key says how many characters it shares with the one before it), so
``粤0104:0`` after ``粤0103:0`` costs four characters, not ten.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, overload

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


#: one source's place in its list: (the court's page token, how many of that page were used), or None
#: when the source is finished
Position = tuple[str | None, int] | None
_MAX_SHARED = 35  # one base-36 digit says how many characters a key shares with the one before it
_ESCAPES = {"%": "%25", "|": "%7C", ";": "%3B", "=": "%3D", ",": "%2C"}
_MAX_INT_DIGITS = 12


@dataclass(frozen=True)
class Positions:
    """Every source's position in a merged list, and the total of the sources already finished (None
    when one of them reported none)."""

    positions: dict[str, Position]
    finished_total: int | None

    def encode(self, kind: str) -> str:
        """``kind|total|entries``: each entry a front-coded key, then ``=skip`` and ``,token`` unless the
        source is finished (no ``=``) or at its list's start (no ``,``)."""
        entries, previous = [], ""
        for key in sorted(self.positions):
            shared = min(_common_prefix(previous, key), _MAX_SHARED)
            entry = _digit(shared) + _escape(key[shared:])
            position = self.positions[key]
            if position is not None:
                token, skip = position
                entry += f"={skip}" + ("" if token is None else "," + _escape(token))
            entries.append(entry)
            previous = key
        total = "" if self.finished_total is None else str(self.finished_total)
        raw = "|".join((kind, total, ";".join(entries))).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, kind: str, cursor: str) -> Positions:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            text = base64.urlsafe_b64decode(padded.encode()).decode()
            cursor_kind, total, entries = text.split("|")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise InvalidCursor() from None
        if cursor_kind != kind:
            raise InvalidCursor(f"cursor does not belong to {kind}")
        positions: dict[str, Position] = {}
        previous = ""
        for entry in entries.split(";") if entries else []:
            shared = int(entry[0], 36) if entry[:1].isalnum() and entry[:1].isascii() else -1
            if not 0 <= shared <= len(previous):
                raise InvalidCursor()
            key_part, has_position, place = entry[1:].partition("=")
            key = previous[:shared] + _unescape(key_part)
            skip_text, has_token, token = place.partition(",")
            if has_position:
                positions[key] = (_unescape(token) if has_token else None, _count(skip_text))
            else:
                positions[key] = None
            previous = key
        return cls(positions, _count(total) if total else None)


class PositionCursors(Sequence[str]):
    """One cursor per item of a merged page, encoded only when read: a page of 20 over 13 courts would
    encode 20 cursors of 13 positions each (about 1 ms), and most clients read one (``endCursor``) or none.
    ``add`` takes each item's ``Positions`` (a snapshot: never changed afterwards)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._positions: list[Positions] = []
        self._encoded: dict[int, str] = {}

    def add(self, positions: Positions) -> None:
        self._positions.append(positions)

    def __len__(self) -> int:
        return len(self._positions)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = range(len(self))[index]  # IndexError as a list's, negative indexes as a list's
        encoded = self._encoded.get(i)
        if encoded is None:
            encoded = self._encoded[i] = self._positions[i].encode(self.kind)
        return encoded


def _count(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= _MAX_INT_DIGITS):
        raise InvalidCursor()
    return int(text)


def _common_prefix(a: str, b: str) -> int:
    n, most = 0, min(len(a), len(b))
    while n < most and a[n] == b[n]:
        n += 1
    return n


def _digit(n: int) -> str:
    return "0123456789abcdefghijklmnopqrstuvwxyz"[n]


_ESCAPE_TABLE = str.maketrans(_ESCAPES)


def _escape(text: str) -> str:
    return text.translate(_ESCAPE_TABLE)  # in C: a page of 20 cursors over 13 courts escapes ~500 characters


_UNESCAPES = {escaped: raw for raw, escaped in _ESCAPES.items()}
_ESCAPED = re.compile("|".join(_UNESCAPES))


def _unescape(text: str) -> str:
    return _ESCAPED.sub(lambda m: _UNESCAPES[m.group(0)], text)


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
