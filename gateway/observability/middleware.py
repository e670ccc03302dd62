"""Every HTTP answer carries an ``X-Request-Id`` and ends with one access line.

The id is the client's own when it sends a sane one (1 to 64 characters of ``[A-Za-z0-9._:-]``: it goes
into logs and headers, so nothing else is taken), else a new random one. The request's record
(``observability.record``) is current while the app serves it; the access line is written when the
answer has been sent, or has failed. WebSockets and the lifespan pass through untouched.
"""

from __future__ import annotations

import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.observability import record
from gateway.observability.logging import access_line

HEADER = "x-request-id"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id(sent: str | None) -> str:
    """The client's id when it is sane, else a fresh one (32 hex digits)."""
    return sent if sent is not None and _SANE.fullmatch(sent) else uuid.uuid4().hex


class RequestObservation:
    def __init__(self, app: ASGIApp, *, hash_key: bytes) -> None:
        self.app = app
        self.hash_key = hash_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = next((v.decode("latin-1") for k, v in scope["headers"] if k == HEADER.encode()), None)
        current, token = record.begin(request_id(sent), self.hash_key)
        started = time.perf_counter()
        status = 500  # what the client gets when the app fails before answering (Starlette's own 500)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[HEADER] = current.request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", None) or "(no route)"
            access_line(
                current, method=scope["method"], route=route, status=status, duration_s=time.perf_counter() - started
            )
            record.end(token)
