"""Last known answers: what a court last said, served marked stale while that court is down.

Beside each fresh cached answer of a chosen data kind (``KINDS``), a copy is kept for ``keep_s`` (a day
by default; the fresh answer lives ``cache_ttl_s``), dated when the court gave it: a list page's copy is
written when the court is asked (``keeping``), a case record's each time the record is shown to a caller
(``remember``: one cache write per ``case`` read, so that every caller has their own). When a later
read of the same thing fails with a court error that a retry could cure (unavailable, timed out,
throttled: ``CourtError.retryable``), the copy is returned with a ``Stale`` mark (the court, when the
court said it, and how long ago) instead of nothing; a court that refused the request (``CourtRejected``)
gets no copy served. No copy: the error stands as before.

Invariants:

- A copy is keyed exactly like its fresh answer, minus the court's generation (a copy outlives changes,
  which is why it is marked with its age), so it carries the same caller scope: a list owner's label
  (``ListSource.label``), or for one case's record the caller's ``Viewer.scope``. One principal never
  receives another's copy, and every access check the fresh path makes runs on a copy too.
- Keys go through ``Cache.put``/``peek``, so they carry the cached-value format (``gateway.cache_format``):
  a replica of another version never reads a copy.
- Authorisation decisions are never served stale: case bindings, access checks and rosters are not data
  kinds here, and ``check_kinds`` refuses them by name (``NEVER``), as it refuses served documents'
  signing state (a stale "unsigned" would invite a second signature).
- A failing cache is a missing copy: ``keep`` skips, ``recall`` finds nothing (``gateway.cache``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from gateway import reads
from gateway.adapters.errors import CourtError
from gateway.cache import Cache

T = TypeVar("T")

#: the data kinds whose last known answer may be served, and what each is
KINDS = {
    "case_lists": "pages of myCases and courtCases, per court and list owner",
    "cases": "one case's record (the case query, related cases), per caller",
}
#: kinds that must never be served stale: authorisation decisions, and signing state
NEVER = frozenset({"bindings", "access", "roster", "signing", "documents"})


def check_kinds(kinds: Collection[str]) -> tuple[str, ...]:
    """``kinds`` if every one is a known kind that may be served stale; else ValueError naming the first."""
    for kind in kinds:
        if kind in NEVER:
            raise ValueError(f"{kind!r} is never served stale (an authorisation decision or signing state)")
        if kind not in KINDS:
            raise ValueError(f"unknown stale data kind {kind!r}; known: {', '.join(KINDS)}")
    return tuple(kinds)


@dataclass(frozen=True)
class Stale:
    """A court's answer served from its last known copy: the court, when it gave it, and its age then."""

    court_code: str
    as_of: datetime
    age_seconds: int
    #: the court error that made the copy necessary (COURT_UNAVAILABLE, COURT_TIMEOUT, …)
    code: str


class LastKnown:
    """Keeps and recalls last known answers in the gateway's cache, for the configured data kinds."""

    def __init__(self, cache: Cache, kinds: Collection[str], keep_s: float, clock: Callable[[], datetime]) -> None:
        self.cache = cache
        self.kinds = frozenset(check_kinds(kinds)) if keep_s > 0 else frozenset()
        self.keep_s = keep_s
        self.clock = clock

    def enabled(self, kind: str) -> bool:
        return kind in self.kinds

    @staticmethod
    def _key(kind: str, key: str) -> str:
        return f"last:{kind}:{key}"

    def keeping(self, kind: str, key: str, load: Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
        """``load``, which also keeps what the court answered as the last known copy (kinds enabled only)."""
        if not self.enabled(kind):
            return load

        async def load_and_keep() -> T:
            value = await load()
            await self.remember(kind, key, self.clock().timestamp(), value)
            return value

        return load_and_keep

    async def remember(self, kind: str, key: str, answered_at: float, value: object) -> None:
        """Keep ``value`` as the last known answer under ``key``, dated ``answered_at`` (a POSIX time)."""
        if self.enabled(kind):
            await self.cache.put(self._key(kind, key), (answered_at, value), self.keep_s)

    async def read(self, kind: str, key: str, load: Callable[[], Awaitable[T]]) -> tuple[T, Stale | None]:
        """``load()``'s value and None; when it fails with a retryable court error and a copy is kept, the
        copy and its ``Stale`` mark; otherwise the error."""
        try:
            return await load(), None
        except CourtError as error:
            if not error.retryable or not self.enabled(kind):
                raise
            found: Any = await self.cache.peek(self._key(kind, key))
            if not (isinstance(found, tuple) and len(found) == 2 and isinstance(found[0], float)):
                raise
            stored_at, value = found
            reads.note_untracked("stale copy")  # never replayed by the response cache (gateway.reads)
            as_of = datetime.fromtimestamp(stored_at, UTC)
            age = max(0, int(self.clock().timestamp() - stored_at))
            return value, Stale(error.court_code, as_of, age, error.code)
