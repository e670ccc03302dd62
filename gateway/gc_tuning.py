"""The cyclic garbage collector, tuned for a long-running server process.

At CPython's default thresholds (700, 10, 10) a full collection comes after every ~70,000 net container
allocations, a few hundred requests here, and each one walks every tracked object in the process (the
schema, the services, the courts' configuration, the caches' decoded values) while the event loop, and
every request in flight, waits. The peer bench measured it on a single-court read under load: p99 150 ms
at the defaults, 16 ms tuned, and about 15% more requests a second.

:func:`tune` runs once per serving process, after start-up: it collects, freezes what start-up built (it
lives as long as the process, so the collector need never scan it again: ``gc.freeze``), and raises the
thresholds so young garbage is collected in larger, rarer batches. Memory stays bounded: the caches are
bounded by entries, and most garbage is freed by reference counting, not by the collector (``make soak``
prints the process's RSS every minute). ``court-gateway serve`` turns it on (``GATEWAY_GC_TUNED``); the
test suite, which starts many apps in one process, leaves Python's defaults.
"""

from __future__ import annotations

import gc

#: first generation after 10,000 net allocations (default 700); the second after 50 of those, the third
#: after 100 of the second (and, as always, only once enough objects have survived into it)
THRESHOLDS = (10_000, 50, 100)


def tune() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
