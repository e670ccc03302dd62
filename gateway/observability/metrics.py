"""The gateway's Prometheus series that count events, in this process (prometheus-client).

Per process by design: each gateway process (each ``serve --workers`` worker, each replica) counts its
own events and serves them at its own ``/metrics``. The deployment runs one worker per pod
(``deploy/kubernetes``) and Prometheus scrapes every pod, so sums across pods are exact. With several
workers behind one port a scrape reaches one of them at random: run one worker per container when the
counters matter (prometheus-client's multiprocess mode is not used: it needs a shared directory set up
before import and turns every gauge into a per-pid file, for little gain here).

Cardinality is bounded: ``court`` is a configured court's slug, ``operation`` a court contract method,
``code`` an error code of the gateway's own vocabulary, and a GraphQL operation name is its own label
only while fewer than ``MAX_OPERATION_NAMES`` have been seen (then ``__other__``; unnamed operations are
``__unnamed__``, names that are not GraphQL names are ``__invalid__``).

What is state rather than an event (breakers, feed lag, outbox backlog, cache hits) is read when scraped
(``exposition``).
"""

from __future__ import annotations

import re
import threading

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

#: distinct GraphQL operation names labelled as themselves in this process; the rest are ``__other__``
MAX_OPERATION_NAMES = 200
UNNAMED = "__unnamed__"
OTHER = "__other__"
INVALID = "__invalid__"
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")

#: the registry the series below live in (prometheus-client's default, with its process collectors)
EVENTS: CollectorRegistry = REGISTRY

GRAPHQL_OPERATIONS = Counter(
    "gateway_graphql_operations",
    "GraphQL operations executed, by operation name and outcome (ok, partial, rejected, failed).",
    ["operation", "type", "outcome"],
)
GRAPHQL_DURATION = Histogram(
    "gateway_graphql_operation_duration_seconds",
    "Time to execute a GraphQL operation (parse to result), by operation name.",
    ["operation"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
COURT_CALLS = Counter(
    "gateway_court_calls",
    "Calls to a court's adapter (after retries, one per contract call), by court, operation and outcome "
    "(code: OK or the error code).",
    ["court", "operation", "code"],
)
COURT_LATENCY = Histogram(
    "gateway_court_call_duration_seconds",
    "Time a contract call to a court took, retries and waiting for a slot included.",
    ["court", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RATE_LIMITED = Counter(
    "gateway_rate_limited",
    "Requests refused with RATE_LIMITED (HTTP 429), by principal kind (token, address or client).",
    ["principal"],
)
COST_REFUSED = Counter(
    "gateway_cost_refused",
    "Operations refused with COST_LIMIT_EXCEEDED before they executed.",
)

_names: set[str] = set()
_names_lock = threading.Lock()


def operation_label(name: str | None) -> str:
    """The label of a GraphQL operation name, never one more than ``MAX_OPERATION_NAMES`` distinct."""
    if not name:
        return UNNAMED
    if not _NAME.fullmatch(name):
        return INVALID
    if name in _names:
        return name
    with _names_lock:
        if len(_names) >= MAX_OPERATION_NAMES:
            return OTHER
        _names.add(name)
    return name
