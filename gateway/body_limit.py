"""A ceiling on request bodies, enforced before anything is parsed or buffered.

Multipart filings are read into memory by the form parser; without a ceiling, one client could send
gigabytes and the per-file checks would only run after all of it had arrived. A declared
``Content-Length`` over the limit is refused at once; a body without one (chunked) is counted as it
streams and refused the moment it passes the limit. The answer is a GraphQL-shaped 413 with
``extensions.code`` ``PAYLOAD_TOO_LARGE``.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CODE = "PAYLOAD_TOO_LARGE"


class BodyTooLarge(Exception):
    """Raised inside ``receive`` when a streamed body passes the limit."""


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return

        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        limit_mib = self.max_bytes / (1024 * 1024)
        body = orjson.dumps(
            {
                "errors": [
                    {
                        "message": f"the request is larger than the gateway accepts ({limit_mib:.0f} MiB)",
                        "extensions": {"code": CODE, "maxBytes": self.max_bytes},
                    }
                ]
            }
        )
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
