"""``/metrics``: the Prometheus scrape, for operators only.

Who may read it (DESIGN §8: operators see ``/metrics``): a bearer token that is either the configured
scrape token (``Settings.metrics_token``, compared in constant time: what a Prometheus server is given,
since the identity provider's tokens live a day at most) or an identity provider token whose roles
include OPERATOR. No token (or a bad one) is 401 with ``WWW-Authenticate: Bearer``; a valid token
without the role is 403. Both are GraphQL-shaped error bodies with ``extensions.code``, like every other
refusal, and quote nothing back.

The answer is the event series of this process (``metrics``, with prometheus-client's process
collectors) and the state read at scrape time: each court's breaker, the lag of the change feeds this
process follows, each outbox's backlog and the age of its oldest row (one aggregate query per outbox
over its pending rows), and the cache's hits and misses. A store that does not answer leaves the outbox
series out and sets ``gateway_outbox_scrape_ok`` to 0; the scrape itself still succeeds.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.adapters.registry import AdapterRegistry
from gateway.adapters.resilience import BreakerState
from gateway.cache import Cache
from gateway.core.outbox import Outbox
from gateway.feeds.follower import ChangeFollower
from gateway.identity import Role, Viewer
from gateway.observability import metrics

log = logging.getLogger("gateway.metrics")

#: ``GraphQLApp._authenticate``: the viewer a ``Bearer …`` header stands for, or why there is none
Authenticate = Callable[[str], Awaitable[tuple[Viewer | None, str | None]]]


@dataclass(frozen=True, slots=True)
class Backlog:
    kind: str
    rows: int
    oldest_age_s: float


class GatewayState(Collector):
    """The state gauges of one scrape, read before it (``collect`` must not do I/O)."""

    def __init__(
        self, registry: AdapterRegistry, cache: Cache, lags: dict[str, float], backlogs: Sequence[Backlog] | None
    ) -> None:
        self.registry = registry
        self.cache = cache
        self.lags = lags
        self.backlogs = backlogs

    def collect(self) -> Iterator[Metric]:
        breakers = GaugeMetricFamily(
            "gateway_court_breaker_state",
            "1 for each court's circuit breaker's current state.",
            labels=["court", "state"],
        )
        for adapter in self.registry:
            now = adapter.breaker.state
            for state in BreakerState:
                breakers.add_metric([adapter.court.slug, state.value], 1.0 if state is now else 0.0)
        yield breakers
        lag = GaugeMetricFamily(
            "gateway_feed_lag_seconds",
            "Seconds since this process last read a court's change feed to its end (feeds it follows only).",
            labels=["court"],
        )
        slugs = {a.court.code: a.court.slug for a in self.registry}
        for code, seconds in sorted(self.lags.items()):
            lag.add_metric([slugs.get(code, code)], seconds)
        yield lag
        yield GaugeMetricFamily(
            "gateway_outbox_scrape_ok",
            "1 when the outbox backlog could be read from the store.",
            value=self.backlogs is not None,
        )
        if self.backlogs is not None:
            rows = GaugeMetricFamily("gateway_outbox_backlog", "Rows waiting for delivery, by outbox.", labels=["kind"])
            age = GaugeMetricFamily(
                "gateway_outbox_oldest_age_seconds",
                "Age of the oldest row waiting, by outbox (0: none).",
                labels=["kind"],
            )
            for backlog in self.backlogs:
                rows.add_metric([backlog.kind], backlog.rows)
                age.add_metric([backlog.kind], backlog.oldest_age_s)
            yield rows
            yield age
        lookups = CounterMetricFamily(
            "gateway_cache_lookups", "Cache lookups by result (hit or miss).", labels=["result"]
        )
        lookups.add_metric(["hit"], self.cache.hits)
        lookups.add_metric(["miss"], self.cache.misses)
        yield lookups
        total = self.cache.hits + self.cache.misses
        yield GaugeMetricFamily(
            "gateway_cache_hit_ratio",
            "Hits over lookups since the process started (rate() the lookups for a recent ratio).",
            value=self.cache.hits / total if total else 0.0,
        )


async def backlogs(outboxes: Iterable[Outbox[object, object]], now: datetime) -> list[Backlog]:
    found = []
    for outbox in outboxes:
        rows, oldest = await outbox.backlog()
        age = 0.0 if oldest is None else max((now - oldest).total_seconds(), 0.0)
        found.append(Backlog(outbox.name, rows, age))
    return found


def metrics_endpoint(
    *,
    token: str,
    authenticate: Authenticate,
    registry: AdapterRegistry,
    cache: Cache,
    outboxes: Callable[[], Iterable[Outbox[object, object]]],
    follower: ChangeFollower,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Callable[[Request], Awaitable[Response]]:
    async def scrape(request: Request) -> Response:
        refused = await operator_refusal(request.headers.get("authorization", ""), token, authenticate)
        if refused is not None:
            return refused
        try:
            found: list[Backlog] | None = await backlogs(outboxes(), clock())
        except Exception as e:
            log.warning("metrics: outbox backlog unreadable (%s)", type(e).__name__)
            found = None
        now = time.monotonic()
        lags = {code: now - at for code, at in follower.read_at.items()}
        state = CollectorRegistry()
        state.register(GatewayState(registry, cache, lags, found))
        body = generate_latest(metrics.EVENTS) + generate_latest(state)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return scrape


async def operator_refusal(
    header: str, token: str, authenticate: Authenticate, *, what: str = "the metrics"
) -> Response | None:
    """None when the caller may read ``what`` (an operator, or the scrape token), else the refusal to send."""
    scheme, _, sent = header.partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode()):
        return None
    viewer, _error = await authenticate(header) if header else (None, None)
    if viewer is None:
        return _error_response(401, "UNAUTHENTICATED", "send an operator's bearer token or the scrape token")
    if Role.OPERATOR not in viewer.roles:
        return _error_response(403, "FORBIDDEN", f"only operators may read {what}")
    return None


def _error_response(status: int, code: str, message: str) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status, headers=headers)
