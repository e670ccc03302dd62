"""What every family simulator shares: an aiohttp app over a backend state, with injected faults.

A family subclass supplies its routes and how its protocol says "error" and "slow down" (an RFC 7807
problem, a SOAP Fault, an E-code in a 200 body, an HTML error page). The middleware here applies the
state's run-time faults before any handler runs; an outage is not a response at all, so the cluster
closes the listening socket for it (connection refused).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import ClassVar

from aiohttp import web

from gateway.config import CourtConfig
from simulators.state import BackendState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FaultKind(StrEnum):
    ERROR = "ERROR"  # an internal error on the backend's side
    RATE_LIMITED = "RATE_LIMITED"  # too many requests


class FamilySimulator(abc.ABC):
    """One legacy protocol family served over one backend's state."""

    family: ClassVar[str]

    def __init__(self, config: CourtConfig, state: BackendState) -> None:
        self.config = config
        self.state = state
        self._bucket_rate: float | None = None
        self._tokens = 0.0
        self._refilled_at = time.monotonic()

    @abc.abstractmethod
    def routes(self) -> list[web.RouteDef]:
        """The family's endpoints."""

    @abc.abstractmethod
    def fault_response(self, kind: FaultKind, request: web.Request) -> web.StreamResponse:
        """How this family reports an internal error or rate limiting."""

    def expire_sessions(self) -> None:  # noqa: B027 - families without sessions have nothing to expire
        """Invalidate every token or session now (families with sessions override)."""

    def build(self) -> web.Application:
        app = web.Application(middlewares=[self._fault_middleware], client_max_size=64 * 1024 * 1024)
        app.add_routes(self.routes())
        return app

    def _rate_limited(self) -> bool:
        """A token bucket: a burst of ``rate`` requests, then ``rate`` per second; full when (re)set."""
        rate = self.state.faults.rate_limit_per_s
        now = time.monotonic()
        if rate != self._bucket_rate:
            self._bucket_rate, self._tokens, self._refilled_at = rate, rate or 0.0, now
        if rate is None:
            return False
        self._tokens = min(max(rate, 1.0), self._tokens + (now - self._refilled_at) * rate)
        self._refilled_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return False
        return True

    @web.middleware
    async def _fault_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        state = self.state
        state.count("http")
        faults = state.faults
        if faults.hang:
            # accept and never answer, until the hang is lifted or the cluster stops
            state.unhang.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.unhang.wait(), timeout=3600)
        if faults.latency_ms or faults.jitter_ms:
            await asyncio.sleep((faults.latency_ms + state.fault_rng.uniform(0, faults.jitter_ms)) / 1000)
        if self._rate_limited():
            state.count("rate_limited")
            return self.fault_response(FaultKind.RATE_LIMITED, request)
        if faults.error_rate and state.fault_rng.random() < faults.error_rate:
            state.count("injected_error")
            return self.fault_response(FaultKind.ERROR, request)
        return await handler(request)
