"""A WebSocket's credentials, held to account for as long as the connection lives (``gateway.app``).

A graphql-transport-ws connection authenticates once, in ``connection_init``; its operations then run for as
long as the socket lives. So the credentials are asked again: before each operation starts, before each
event is delivered, and by a watch task every ``period_s`` (the grant check's own period,
``GATEWAY_OAUTH_GRANT_CHECK_S``: asking more often would only read its cache) and at the token's ``exp``.
The grant is asked through ``TokenVerifier.still_granted``, the same cached ``GrantCheck`` the HTTP verifier
asks, so a revocation stops a subscription within the same period it stops HTTP requests (at once on the
replica that revoked). A client token whose grant the person or the court revoked, and any token past its
``exp`` (plus ``EXPIRY_GRACE_S``, so that a subscription ending itself at ``exp`` with UNAUTHENTICATED, as
``notificationAdded`` does, is heard first), end the connection: each running operation gets an ``error``
message (UNAUTHENTICATED), then the socket closes with 4403 Forbidden, so nothing later runs on
credentials that no longer stand. The client reconnects with a new token.

Operations started by a client token count against the client's quota like HTTP requests
(``gateway.demand.ratelimit``): over it, that operation gets an ``error`` message (RATE_LIMITED, with
``retryAfter``) and the socket stays open. A first-party token's operations are not counted here: the
per-principal limits count HTTP requests.

Per-process state: the watch task lives with its connection, in the process that holds the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.demand.ratelimit import RateLimiter, rate_limited_error
from gateway.identity import REVOKED, TokenVerifier, Viewer
from gateway.observability import record

#: how long past ``exp`` the connection outlives its token (a subscription's own ending is heard first)
EXPIRY_GRACE_S = 1.0
#: the shortest period between two checks by the watch task (a grant check period of 0 means "no cache")
MIN_PERIOD_S = 0.5
FORBIDDEN = 4403
UNAUTHENTICATED = "UNAUTHENTICATED"
EXPIRED = "your token expired: reconnect with a new one"
log = logging.getLogger("gateway")


class Credentials:
    """One connection's viewer, and whether it still stands."""

    def __init__(self, verifier: TokenVerifier, viewer: Viewer, *, period_s: float) -> None:
        self.verifier = verifier
        self.viewer = viewer
        self.period_s = max(period_s, MIN_PERIOD_S)
        expires = viewer.claims.get("exp")
        self.expires_at = None if expires is None else float(expires)

    async def lapsed(self) -> str | None:
        """Why the credentials no longer stand (the error message to send); None while they do."""
        if self.expires_at is not None and time.time() >= self.expires_at + EXPIRY_GRACE_S:
            return EXPIRED
        if not await self.verifier.still_granted(self.viewer):
            return REVOKED
        return None

    def next_check_in(self) -> float:
        """Seconds until the watch task should ask again: the period, or just past ``exp`` if sooner."""
        if self.expires_at is None:
            return self.period_s
        return max(0.0, min(self.period_s, self.expires_at + EXPIRY_GRACE_S - time.time()))


class Watch:
    """One connection's credentials watched: ``on_lapse(reason)`` runs once, when they lapse, found by the
    watch task or by ``check`` (before an operation starts or an event goes out)."""

    def __init__(self, credentials: Credentials, on_lapse: Callable[[str], Awaitable[None]]) -> None:
        self.credentials = credentials
        self.on_lapse = on_lapse
        self.lapsed = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while not self.lapsed:
            await asyncio.sleep(self.credentials.next_check_in())
            try:
                await self.check()
            except Exception as e:  # the store did not answer: ask again next period, keep watching
                log.warning("websocket credentials not checked: %s: %.200s", type(e).__name__, e)

    async def check(self) -> bool:
        """Whether the credentials still stand; when they no longer do, the connection is ended (once)."""
        if self.lapsed:
            return False
        reason = await self.credentials.lapsed()
        if reason is None:
            return True
        self.lapsed = True
        log.info("websocket ended: %s", reason)
        record.note_error(UNAUTHENTICATED)
        await self.on_lapse(reason)
        return False

    async def stop(self) -> None:
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def unauthenticated(reason: str) -> list[dict[str, Any]]:
    """The payload of the ``error`` message each running operation gets when the credentials lapse."""
    return [{"message": reason, "extensions": {"code": UNAUTHENTICATED}}]


async def over_quota(limiter: RateLimiter | None, viewer: Viewer | None) -> list[dict[str, Any]] | None:
    """The ``error`` payload for an operation a client token may not start now (its quota is spent); None
    when it may, or when nothing counts it (no limiter, anonymous or first-party)."""
    if limiter is None or viewer is None or viewer.client_id is None:
        return None
    decision = await limiter.check(viewer, "")
    if decision is None or decision.allowed:
        return None
    return [rate_limited_error(decision)]
