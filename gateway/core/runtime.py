"""The long-lived infrastructure every domain service is built on: one per process, made at start-up.

Convention: a domain service's constructor takes the runtime first, then the peer services it calls
(``FilingService(runtime, cases)``), and reads settings, store, cache, registry and the clock through
it when it needs them. So a test that moves ``runtime.clock`` or changes a setting moves every service
with it, and no domain module needs to know how the whole gateway is assembled (``gateway.services``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway import reads
from gateway.adapters.registry import AdapterRegistry
from gateway.cache import Cache
from gateway.casenumber import CaseNumberParser
from gateway.config import Settings
from gateway.store import Store
from gateway.workers import WorkerRunner


def utc_now() -> datetime:
    return datetime.now(UTC)


class NotedClock:
    """A clock that notes each reading in the request's ledger (``gateway.reads``): an answer computed from
    now (a deadline, a reading window, an overdue ticket) is never replayed by the response cache."""

    __slots__ = ("clock",)

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock

    def __call__(self) -> datetime:
        reads.note_untracked("clock")
        return self.clock()


@dataclass(eq=False)
class Runtime:
    """Settings and the process's shared resources. Mutable on purpose: tests move ``clock``."""

    settings: Settings
    registry: AdapterRegistry
    cache: Cache
    parser: CaseNumberParser
    store: Store
    workers: WorkerRunner
    #: "now" for everything that is not a court's own timestamp; read it through ``now()``. Whatever is
    #: assigned is wrapped in a ``NotedClock``, so every reading, direct or through ``now()``, is noted
    clock: Callable[[], datetime] = field(default=utc_now)

    def __setattr__(self, name: str, value: object) -> None:
        if name == "clock" and not isinstance(value, NotedClock):
            value = NotedClock(value)  # type: ignore[arg-type]
        super().__setattr__(name, value)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        return cls(
            settings=settings,
            registry=AdapterRegistry(settings.courts),
            cache=Cache(settings.cache_url, default_ttl=settings.cache_ttl_s),
            parser=CaseNumberParser(settings.courts),
            store=Store(settings.database_url),
            workers=WorkerRunner(interval_s=settings.worker_interval_s),
        )

    def now(self) -> datetime:
        return self.clock()
