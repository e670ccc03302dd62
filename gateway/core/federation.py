"""Fan-out to many courts under one request deadline, keeping what answered.

A court that is down, slow or throttled never takes the whole answer with it: its failure becomes a
``CourtFailure`` (surfaced as a GraphQL error naming the court) and the other courts' data is returned.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from gateway.adapters.errors import CourtError, CourtTimeout
from gateway.last_known import Stale

T = TypeVar("T")
K = TypeVar("K")


@dataclass(frozen=True)
class CourtFailure:
    court_code: str
    code: str  # COURT_UNAVAILABLE, COURT_TIMEOUT, COURT_RATE_LIMITED, …
    message: str
    retry_after: float | None = None  # seconds until asking again may succeed, when known

    @classmethod
    def from_error(cls, error: CourtError) -> CourtFailure:
        return cls(error.court_code, error.code, error.message, error.retry_after)


@dataclass
class Partial(Generic[T]):
    """A value assembled from the courts that answered, and who did not."""

    value: T
    failures: list[CourtFailure] = field(default_factory=list)
    #: courts whose part of ``value`` is their last known answer (``gateway.last_known``)
    stale: list[Stale] = field(default_factory=list)


class Deadline:
    """One overall deadline for a request, shared by every court call it makes."""

    def __init__(self, seconds: float) -> None:
        self.expires = time.monotonic() + seconds

    @property
    def remaining(self) -> float:
        return max(0.0, self.expires - time.monotonic())


async def gather_by_court(
    calls: Sequence[tuple[K, str, Callable[[], Awaitable[T]]]],
    deadline: Deadline,
) -> tuple[dict[K, T], list[CourtFailure]]:
    """Run ``(key, court_code, call)`` concurrently; results by key, failures one per court.

    Calls still running at the deadline are cancelled and reported as COURT_TIMEOUT.
    """
    tasks = {asyncio.ensure_future(call()): (key, court) for key, court, call in calls}
    if not tasks:
        return {}, []
    done, pending = await asyncio.wait(tasks, timeout=deadline.remaining)
    for task in pending:
        task.cancel()
    results: dict[K, T] = {}
    failures: dict[str, CourtFailure] = {}
    for task in done:
        key, court = tasks[task]
        error = task.exception()
        if error is None:
            results[key] = task.result()
        elif isinstance(error, CourtError):
            failures.setdefault(court, CourtFailure.from_error(error))
        else:
            raise error
    for task in pending:
        _, court = tasks[task]
        failures.setdefault(
            court, CourtFailure.from_error(CourtTimeout(court, "no answer within the request deadline"))
        )
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    return results, list(failures.values())
