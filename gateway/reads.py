"""What one request's answer drew on: the cache generations it read, and whether it read anything else.

The response cache (``gateway.response_cache``) may replay an answer only while everything the answer
came from is unchanged. Everything the gateway reads is either under a cache generation (a court's code,
a person's bindings: ``gateway.cache``), which ``Cache.generations`` notes here, or it is not: the
database, a court called outside the cache, the clock. Those note themselves as *untracked* at the one
place each is read (``Store.session``, ``ResilientAdapter._call``, ``Runtime.now``), so the default is
safe: an answer that read anything the generations do not cover is never cached.

One ``Reads`` per request lives in a context variable; tasks the request spawns (a fan-out to the
courts, DataLoader batches) share the same object. A value loaded by ``Cache.get_or_load`` under a key
that embeds a generation is covered by that generation, so its load runs with no ledger (``covered``):
the court call or database read behind a cached value does not taint the answer. Outside a request
(workers, the change follower) there is no ledger and nothing is noted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field


@dataclass
class Reads:
    #: each generation scope read (a court's code, ``bindings:…``) and the generation the answer used
    generations: dict[str, int] = field(default_factory=dict)
    #: the first thing read outside any generation ("database", "court", "clock"); None: all covered
    untracked: str | None = None


_current: ContextVar[Reads | None] = ContextVar("gateway_reads", default=None)


def begin() -> tuple[Reads, Token[Reads | None]]:
    """A new ledger for this request, made current; pass the token back to :func:`end`."""
    reads = Reads()
    return reads, _current.set(reads)


def end(token: Token[Reads | None]) -> None:
    _current.reset(token)


def note_generations(generations: Mapping[str, int]) -> None:
    reads = _current.get()
    if reads is not None:
        for scope, generation in generations.items():
            # a scope read twice at two generations (a bump in between) can never match again: keep the first
            reads.generations.setdefault(scope, generation)
            if reads.generations[scope] != generation:
                reads.untracked = reads.untracked or "generation moved"


def note_untracked(what: str) -> None:
    """This request read something no generation covers (``what``: for the reader of a test failure)."""
    reads = _current.get()
    if reads is not None and reads.untracked is None:
        reads.untracked = what


@contextlib.contextmanager
def covered() -> Iterator[None]:
    """Reads inside are covered by a generation the caller already noted: do not note them."""
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)
