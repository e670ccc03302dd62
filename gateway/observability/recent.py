"""Each court's calls over the last minutes, as this process saw them: a small ring of per-minute counters.

The ops page shows what a court is doing *now* beside the totals since the process started (which a long
uptime flattens). Every court call (``courts.court_call``) adds to its court's bucket for the current
minute: calls, failures (any outcome but OK; a call the caller abandoned counts nowhere, it says nothing
about the court), the summed and the slowest latency. :meth:`RecentCalls.window` sums the buckets of the
current minute and the ``minutes - 1`` before it.

Invariants: per court at most ``minutes`` buckets, reused as the ring turns (memory is courts × minutes,
whatever the traffic); a bucket older than the window is never counted, even when no call came since to
overwrite it; per process, like the breakers and ``/metrics`` (behind a load balancer each replica tells
its own share; Prometheus's ``gateway_court_calls_total`` is the cluster's sum). Single-threaded (one event
loop per process), so no lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

#: the ops page's window: the current minute and the four before it
WINDOW_MINUTES = 5


@dataclass(slots=True)
class _Bucket:
    minute: int
    calls: int = 0
    failures: int = 0
    latency_s: float = 0.0
    slowest_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Recent:
    """One court's calls in the window."""

    minutes: int
    calls: int = 0
    failures: int = 0
    latency_s: float = 0.0
    slowest_s: float = 0.0

    @property
    def error_rate(self) -> float | None:
        return self.failures / self.calls if self.calls else None

    @property
    def mean_latency_ms(self) -> float | None:
        """Over every call, failed ones included (a court timing out shows as slow, as it is)."""
        return 1000 * self.latency_s / self.calls if self.calls else None

    @property
    def slowest_ms(self) -> float | None:
        return 1000 * self.slowest_s if self.calls else None


class RecentCalls:
    def __init__(self, minutes: int = WINDOW_MINUTES, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.minutes = minutes
        self.clock = clock
        self._rings: dict[str, list[_Bucket | None]] = {}

    def _minute(self) -> int:
        return int(self.clock() // 60)

    def observe(self, court: str, *, ok: bool, seconds: float) -> None:
        minute = self._minute()
        ring = self._rings.setdefault(court, [None] * self.minutes)
        slot = minute % self.minutes
        bucket = ring[slot]
        if bucket is None or bucket.minute != minute:
            bucket = ring[slot] = _Bucket(minute)
        bucket.calls += 1
        bucket.failures += 0 if ok else 1
        bucket.latency_s += seconds
        bucket.slowest_s = max(bucket.slowest_s, seconds)

    def window(self, court: str) -> Recent:
        now = self._minute()
        live = [b for b in self._rings.get(court, ()) if b is not None and now - b.minute < self.minutes]
        return Recent(
            self.minutes,
            calls=sum(b.calls for b in live),
            failures=sum(b.failures for b in live),
            latency_s=sum(b.latency_s for b in live),
            slowest_s=max((b.slowest_s for b in live), default=0.0),
        )


#: this process's recent court calls, keyed by court slug (what ``courts.court_call`` is given)
RECENT = RecentCalls()
