"""A terminal client for the ``notificationAdded`` subscription (graphql-transport-ws).

GraphiQL cannot put a token in ``connection_init``, so the demo and operators watch live notices with
``court-gateway notifications watch``. It speaks the protocol as a browser client would: text frames,
``connection_init`` with the bearer token, one ``subscribe``, then ``next`` messages until interrupted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

PROTOCOL = "graphql-transport-ws"
SUBSCRIPTION = """
subscription ($after: ID) {
  notificationAdded(after: $after) { id kind title body courtCode caseNumber createdAt }
}"""


class WatchError(Exception):
    """The gateway refused the connection or the subscription."""


async def notifications(url: str, token: str, *, after: str | None = None) -> AsyncIterator[dict[str, Any]]:
    """Each notification as the gateway pushes it; ``url`` is the gateway's ``http(s)://…/graphql``."""
    ws_url = url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url, protocols=[PROTOCOL]) as ws:
        await ws.send_str(
            orjson.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}).decode()
        )
        subscribe = {"query": SUBSCRIPTION, "variables": {"after": after}}
        async for frame in ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                raise WatchError(f"the gateway closed the connection ({ws.close_code}): {frame.extra or ''}".strip())
            message = orjson.loads(frame.data)
            kind = message.get("type")
            if kind == "connection_ack":
                await ws.send_str(orjson.dumps({"id": "1", "type": "subscribe", "payload": subscribe}).decode())
            elif kind == "ping":
                await ws.send_str(orjson.dumps({"type": "pong"}).decode())
            elif kind == "next":
                payload = message["payload"]
                if payload.get("errors"):
                    raise WatchError("; ".join(e.get("message", "") for e in payload["errors"]))
                yield payload["data"]["notificationAdded"]
            elif kind == "error":
                raise WatchError("; ".join(e.get("message", "") for e in message.get("payload", [])))
            elif kind == "complete":
                return
        raise WatchError(f"the gateway closed the connection ({ws.close_code})")


def format_notice(notice: dict[str, Any]) -> str:
    return f"{notice['createdAt']}  [{notice['kind']}] {notice['title']}\n    {notice['body']}"
