"""A client's token on a WebSocket (graphql-transport-ws) is held to its grant and quota as over HTTP
(``gateway.ws_guard``): real consent flow with PKCE, a real aiohttp WebSocket client on loopback, notices
written into the gateway's store as any gateway process writes them. The gateway checks grants every
second here (``oauth_grant_check_s`` of the ``oauth_gateway`` fixture)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from gateway.adapters.model import PersonRef
from gateway.config import Settings
from gateway.notifications.service import Recipient, person_key
from gateway.oauth import store as oauth_store
from gateway.schema.common import global_id
from simulators.generator import World
from simulators.identities import demo_claims
from tests.conftest import mint
from tests.notifications.test_subscriptions import _served
from tests.oauth.test_oauth import Gateway, _graphql, authorised, codes, oauth_gateway  # noqa: F401

PROTOCOL = "graphql-transport-ws"
SCOPES = "cases:read notifications:read"
SUBSCRIPTION = "subscription { notificationAdded { id title body } }"
#: from the first notice on: none is missed while the subscription starts
START = global_id("Notification", "0")
FROM_THE_START = f'subscription {{ notificationAdded(after: "{START}") {{ id title body }} }}'
#: the grant check period of the fixture (1 s), the watch's slack and the test machine's
WITHIN_S = 6.0


class Socket:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def init(self, token: str) -> dict[str, Any]:
        await self.ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        return await self.receive()

    async def start(self, id: str, query: str) -> None:
        await self.ws.send_json({"id": id, "type": "subscribe", "payload": {"query": query}})

    async def receive(self, wait_s: float = 10) -> dict[str, Any]:
        message = await self.ws.receive(timeout=wait_s)
        if message.type != aiohttp.WSMsgType.TEXT:
            return {"type": "closed", "code": self.ws.close_code}
        return dict(message.json())


@pytest.fixture
async def connect(oauth_gateway: Gateway) -> AsyncIterator[Any]:  # noqa: F811
    url = oauth_gateway.url.replace("http://", "ws://") + "/graphql"
    async with aiohttp.ClientSession() as session:
        opened: list[aiohttp.ClientWebSocketResponse] = []

        async def open_socket() -> Socket:
            opened.append(await session.ws_connect(url, protocols=(PROTOCOL,)))
            return Socket(opened[-1])

        yield open_socket
        for ws in opened:
            await ws.close()


@pytest.fixture
async def app(oauth_gateway: Gateway, tokens: dict[str, str]) -> AsyncIterator[Any]:  # noqa: F811
    """A firm's app lawyer-chen authorised for her cases and notifications (real consent, PKCE)."""
    client = await authorised(oauth_gateway, tokens, scope=SCOPES, scopes=SCOPES)
    yield client
    await client.close()


async def _serve_chen(gateway: Gateway, world: World, settings: Settings, title: str) -> None:
    """A notice for lawyer-chen, recorded as the rest of the gateway records them."""
    claims = demo_claims(world, settings.seed_file, "lawyer-chen")
    recipient = Recipient(claims["name"], None, person_key(PersonRef.lawyer(claims["licence_number"])))
    await _served(gateway.db, settings, recipient, title)


async def _subscribed(connect: Any, client: Any, query: str = SUBSCRIPTION) -> Socket:
    """A socket opened with the app's access token, running ``query`` as operation 1."""
    socket = await connect()
    assert (await socket.init(client.tokens["access_token"]))["type"] == "connection_ack"
    await socket.start("1", query)
    return socket


async def _grant_of(gateway: Gateway, tokens: dict[str, str], client_id: str) -> str:
    apps = await _graphql(gateway, tokens["lawyer-chen"], "{ authorizedApps { id clientId } }")
    return next(a["id"] for a in apps["data"]["authorizedApps"] if a["clientId"] == client_id)


async def _ended_for_revocation(socket: Socket) -> None:
    """The running operation gets an UNAUTHENTICATED error, then the socket closes with 4403."""
    message = await socket.receive(wait_s=WITHIN_S)
    assert message["type"] == "error" and message["id"] == "1", message
    assert message["payload"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "revoked" in message["payload"][0]["message"]
    assert (await socket.receive(wait_s=WITHIN_S)) == {"type": "closed", "code": 4403}


async def test_the_persons_revocation_ends_the_apps_running_subscription(
    oauth_gateway: Gateway,  # noqa: F811
    app: Any,
    connect: Any,
    tokens: dict[str, str],
    world: World,
    settings: Settings,
) -> None:
    socket = await _subscribed(connect, app, FROM_THE_START)
    await _serve_chen(oauth_gateway, world, settings, "民事判决书")
    delivered = await socket.receive()
    assert delivered["type"] == "next" and "《民事判决书》" in delivered["payload"]["data"]["notificationAdded"]["body"]

    grant = await _grant_of(oauth_gateway, tokens, app.client_id)
    revoke = "mutation($id: ID!) { revokeAuthorizedApp(id: $id) }"
    done = await _graphql(oauth_gateway, tokens["lawyer-chen"], revoke, {"id": grant})
    assert done["data"]["revokeAuthorizedApp"] is True
    await _serve_chen(oauth_gateway, world, settings, "开庭传票")  # not for the app any more
    await _ended_for_revocation(socket)


async def test_the_courts_revocation_on_another_replica_ends_it_within_the_grant_check_period(
    oauth_gateway: Gateway,  # noqa: F811
    app: Any,
    connect: Any,
) -> None:
    socket = await _subscribed(connect, app)
    # straight in the store, as another replica (or `court-gateway oauth revoke`) does: this process's
    # grant check only learns it when its cached answer ages out, and no event comes to trigger a check
    now = oauth_gateway.app.state.services.now()
    assert await oauth_store.revoke_client(oauth_gateway.db, app.client_id, now=now)
    started = time.monotonic()
    await _ended_for_revocation(socket)
    assert time.monotonic() - started < WITHIN_S


async def test_operations_on_a_websocket_count_against_the_clients_quota(
    oauth_gateway: Gateway,  # noqa: F811
    connect: Any,
    tokens: dict[str, str],
) -> None:
    client = await authorised(oauth_gateway, tokens, scope=SCOPES, scopes=SCOPES, burst=3)
    try:
        socket = await connect()
        assert (await socket.init(client.tokens["access_token"]))["type"] == "connection_ack"
        for n in range(3):
            await socket.start(str(n), "{ viewer { name } }")
            answer = await socket.receive()
            assert answer["type"] == "next" and answer["payload"]["data"]["viewer"]["name"] == "陈志明", answer
            assert (await socket.receive())["type"] == "complete"
        await socket.start("3", SUBSCRIPTION)
        refused = await socket.receive()
        assert refused["type"] == "error" and refused["id"] == "3", refused
        assert refused["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert refused["payload"][0]["extensions"]["retryAfter"] >= 1
        # the socket stays open, and the same bucket holds HTTP back too
        await socket.ws.send_json({"type": "ping"})
        assert (await socket.receive())["type"] == "pong"
        status, _, body = await client.graphql("{ viewer { name } }")
        assert status == 429 and codes(body) == ["RATE_LIMITED"]
        # the person's own token is not held back by the app's quota
        mine = await connect()
        assert (await mine.init(tokens["lawyer-chen"]))["type"] == "connection_ack"
        await mine.start("1", "{ viewer { name } }")
        assert (await mine.receive())["type"] == "next"
    finally:
        await client.close()


async def test_a_first_party_token_expiring_mid_subscription_ends_it_and_the_connection(
    connect: Any, world: World, settings: Settings
) -> None:
    socket = await connect()
    token = mint(world, settings, "lawyer-chen", exp=int((datetime.now(UTC) + timedelta(seconds=2)).timestamp()))
    assert (await socket.init(token))["type"] == "connection_ack"
    await socket.start("1", SUBSCRIPTION)
    ended = await socket.receive(wait_s=WITHIN_S)
    assert ended["type"] == "next" and ended["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await socket.receive())["type"] == "complete"
    # nothing more may start on the expired token: the connection itself ends
    assert (await socket.receive(wait_s=WITHIN_S)) == {"type": "closed", "code": 4403}


async def test_the_older_graphql_ws_protocol_is_held_to_the_grant_and_quota_too(
    oauth_gateway: Gateway,  # noqa: F811
    tokens: dict[str, str],
) -> None:
    client = await authorised(oauth_gateway, tokens, scope=SCOPES, scopes=SCOPES, burst=2)
    url = oauth_gateway.url.replace("http://", "ws://") + "/graphql"
    try:
        async with aiohttp.ClientSession() as session, session.ws_connect(url, protocols=("graphql-ws",)) as ws:
            socket = Socket(ws)
            assert (await socket.init(client.tokens["access_token"]))["type"] == "connection_ack"
            await ws.send_json({"id": "1", "type": "start", "payload": {"query": SUBSCRIPTION}})
            await ws.send_json({"id": "2", "type": "start", "payload": {"query": SUBSCRIPTION}})
            await ws.send_json({"id": "3", "type": "start", "payload": {"query": SUBSCRIPTION}})
            refused = await socket.receive()
            assert refused["type"] == "error" and refused["id"] == "3", refused
            assert refused["payload"]["extensions"]["code"] == "RATE_LIMITED"
            now = oauth_gateway.app.state.services.now()
            assert await oauth_store.revoke_client(oauth_gateway.db, client.client_id, now=now)
            ended = [await socket.receive(wait_s=WITHIN_S) for _ in range(3)]
            errors = sorted((m["id"], m["payload"]["extensions"]["code"]) for m in ended if m["type"] == "error")
            assert errors == [("1", "UNAUTHENTICATED"), ("2", "UNAUTHENTICATED")], ended
            assert ended[-1] == {"type": "closed", "code": 4403}
    finally:
        await client.close()
