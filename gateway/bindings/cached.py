"""A person's approved case bindings, cached exactly: read by every request that checks case access, and
changed only by a reviewer's approval (and the court's recording of it).

Invariant: every write that changes a person's approved bindings calls ``changed`` after it commits, which
bumps the person's generation in the gateway cache (``gateway.cache``: the same mechanism as a court's
generation). The cached list is keyed by that generation, so once ``changed`` returns no request on this
cache reads the list from before the change, and the list may be kept long, even when court answers are
not cached at all (``exact``). With the memory cache this holds within one process, as for court answers.
Keys carry a hash of the subject, never the subject itself (it comes from a token: any length).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from gateway.cache import Cache
from gateway.cases.service import BoundCase

#: how long a person's list is kept when nothing changes it (exact: this bounds memory, not staleness)
TTL_S = 600.0


def scope(subject: str) -> str:
    """The cache generation scope of a person's bindings (never a court code: those have no colon)."""
    return "bindings:" + hashlib.sha256(subject.encode()).hexdigest()[:32]


async def approved(cache: Cache, subject: str, load: Callable[[], Awaitable[list[BoundCase]]]) -> list[BoundCase]:
    """The person's approved bindings from the cache, or ``load()``'s (the store's) under their generation."""
    name = scope(subject)
    generation = (await cache.generations([name]))[name]
    return await cache.get_or_load(f"{name}:{generation}", load, ttl=TTL_S, exact=True)


async def changed(cache: Cache, subject: str) -> None:
    """After a commit that changed the person's approved bindings: retire their cached list everywhere."""
    await cache.bump(scope(subject))
