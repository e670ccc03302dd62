"""The ops page's "last minutes": a ring of per-minute counters per court, on a clock the test moves."""

from __future__ import annotations

from gateway.observability.recent import RecentCalls


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_sums_the_last_minutes_and_forgets_older_ones() -> None:
    clock = Clock()
    recent = RecentCalls(5, clock=clock)
    recent.observe("yuexiu", ok=True, seconds=0.1)
    recent.observe("yuexiu", ok=False, seconds=0.9)
    clock.now += 120
    recent.observe("yuexiu", ok=True, seconds=0.2)
    window = recent.window("yuexiu")
    assert (window.calls, window.failures) == (3, 1)
    assert window.error_rate is not None and abs(window.error_rate - 1 / 3) < 1e-9
    assert window.mean_latency_ms is not None and round(window.mean_latency_ms) == 400
    assert window.slowest_ms is not None and round(window.slowest_ms) == 900
    assert recent.window("haizhu").calls == 0 and recent.window("haizhu").error_rate is None

    clock.now += 4 * 60  # the first minute left the window; the call two minutes later has not
    window = recent.window("yuexiu")
    assert (window.calls, window.failures) == (1, 0) and round(window.slowest_ms or 0) == 200
    clock.now += 60
    assert recent.window("yuexiu").calls == 0, "a bucket older than the window counts for nothing"


def test_the_ring_reuses_its_buckets_so_memory_stays_bounded() -> None:
    clock = Clock()
    recent = RecentCalls(5, clock=clock)
    for _ in range(60):  # an hour of calls, one a minute
        recent.observe("yuexiu", ok=True, seconds=0.05)
        clock.now += 60
    clock.now -= 60
    assert recent.window("yuexiu").calls == 5
    assert len(recent._rings["yuexiu"]) == 5
