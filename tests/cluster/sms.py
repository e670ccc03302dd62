"""The SMS provider's HTTP API, as the gateway's ``http`` provider speaks to it: takes every message and
remembers each delivery (its ``messageId``, the gateway's idempotency key, so a resend is seen as one)."""

from __future__ import annotations

from aiohttp import web

from tests.conftest import _free_port


class SmsSink:
    """The SMS provider's HTTP API: takes every message, remembers each delivery."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[str, str, str]] = []  # (messageId, phone, text)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.deliveries.append((str(body["messageId"]), str(body["phone"]), str(body["text"])))
        return web.json_response({"messageId": body["messageId"]})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/send", self._send)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        port = _free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/send"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
