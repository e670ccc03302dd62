"""Ceilings on what a request may send, enforced before anything is parsed or buffered.

Two ceilings. A multipart request (a filing's files) may be as large as ``max_bytes``; any other body,
which is a GraphQL document (the query text and its variables, as JSON), and any query string (a GET's
document) only ``max_document_bytes``: parsing and validating a document costs CPU and memory in
proportion to it, so a large one is refused before that work (a multipart request's ``operations``
part is held to the same small ceiling by the GraphQL view). A declared ``Content-Length`` over the
ceiling is refused at once; a body without one (chunked) is counted as it streams and refused the
moment it passes the ceiling. The answer is a GraphQL-shaped 413 with ``extensions.code``
``PAYLOAD_TOO_LARGE`` (the request) or ``DOCUMENT_TOO_LARGE`` (the document), and ``maxBytes``.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import error_body

CODE = "PAYLOAD_TOO_LARGE"
DOCUMENT_CODE = "DOCUMENT_TOO_LARGE"
log = logging.getLogger("gateway.http")


class BodyTooLarge(Exception):
    """Raised inside ``receive`` when a streamed body passes the limit."""


def size_text(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MiB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KiB"


def document_too_large(max_bytes: int) -> tuple[str, str]:
    """The code and message of a GraphQL document over its ceiling."""
    return DOCUMENT_CODE, (
        f"the GraphQL document (query and variables) is larger than the gateway accepts ({size_text(max_bytes)}); "
        "files go in a multipart request"
    )


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int, max_document_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_document_bytes = min(max_document_bytes or max_bytes, max_bytes)

    def _ceiling(self, content_type: bytes) -> tuple[int, str, str]:
        """The ceiling on a body of ``content_type``: its bytes, code and message."""
        multipart = content_type.split(b";")[0].strip().lower() == b"multipart/form-data"
        if multipart or self.max_document_bytes == self.max_bytes:
            return self.max_bytes, CODE, f"the request is larger than the gateway accepts ({size_text(self.max_bytes)})"
        return self.max_document_bytes, *document_too_large(self.max_document_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string") or b"") > self.max_document_bytes:
            await _refuse(send, self.max_document_bytes, *document_too_large(self.max_document_bytes))
            return
        headers = dict(scope.get("headers") or [])
        max_bytes, code, message = self._ceiling(headers.get(b"content-type", b""))
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await _refuse(send, max_bytes, code, message)
            return

        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
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
            await _refuse(send, max_bytes, code, message)


async def _refuse(send: Send, max_bytes: int, code: str, message: str) -> None:
    log.info("refused %s: over %d bytes", code, max_bytes)
    body = error_body(message, code, maxBytes=max_bytes)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
