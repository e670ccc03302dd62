"""``notificationAdded`` over graphql-transport-ws, with a real WebSocket client against the session's gateway.

Notices are written the way the rest of the gateway writes them, with ``notify`` in a store session, and
through a second ``Store`` (its own engine and connections), as another gateway process would.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.adapters.model import PersonRef
from gateway.config import Settings
from gateway.identity import viewer_from_claims
from gateway.notifications.live import FeedOverflow, NoticeFeed, live_notices
from gateway.notifications.service import Notice, NotificationKind, Recipient, notify, person_key, viewer_keys
from gateway.schema.common import global_id
from gateway.store import Store
from gateway.store.migrate import upgrade_async
from gateway.store.testing import postgres_schema, sqlite_url
from simulators.generator import World
from simulators.identities import demo_claims
from tests.conftest import GraphQLClient, mint

POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="GATEWAY_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped"
)
PROTOCOL = "graphql-transport-ws"
SUBSCRIPTION = """subscription($after: ID) {
  notificationAdded(after: $after) { id kind title body courtCode caseNumber createdAt readAt }
}"""
LATEST = "{ notifications(first: 1) { edges { node { id } } } }"


@pytest.fixture
async def other_process(gateway: GraphQLClient, settings: Settings) -> AsyncIterator[Store]:
    """The gateway's database, opened as another process would: its own engine and connections."""
    async with Store(settings.database_url) as store:
        yield store


async def _served(store: Store, settings: Settings, recipient: Recipient, title: str) -> None:
    async with store.session() as session:
        await notify(
            session,
            kind=NotificationKind.DOCUMENT_SERVED,
            court=settings.court("粤0104"),
            case_number="（2023）粤0104民初123号",
            recipients=[recipient],
            params={"title": title},
            dedupe_key=f"test:{secrets.token_hex(6)}",
            now=datetime.now(UTC),
        )


class Connection:
    """One graphql-transport-ws connection: init, subscribe, next/error/complete messages."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def init(self, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        await self.ws.send_json({"type": "connection_init", "payload": payload or {}})
        return await self.receive()

    async def subscribe(self, variables: dict[str, Any] | None = None, id: str = "1") -> None:
        message = {"query": SUBSCRIPTION, "variables": variables or {}}
        await self.ws.send_json({"id": id, "type": "subscribe", "payload": message})

    async def receive(self, wait_s: float = 10) -> dict[str, Any]:
        message = await self.ws.receive(timeout=wait_s)
        if message.type != aiohttp.WSMsgType.TEXT:
            return {"type": "closed", "code": self.ws.close_code, "reason": message.extra}
        return dict(message.json())

    async def next_notification(self, wait_s: float = 10) -> dict[str, Any]:
        message = await self.receive(wait_s)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        return dict(message["payload"]["data"]["notificationAdded"])


@pytest.fixture
async def connect(gateway: GraphQLClient) -> AsyncIterator[Any]:
    url = gateway.url.replace("http://", "ws://")
    async with aiohttp.ClientSession() as session:

        async def open_connection(headers: dict[str, str] | None = None) -> Connection:
            return Connection(await session.ws_connect(url, protocols=(PROTOCOL,), headers=headers))

        yield open_connection


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _wang(world: World, settings: Settings) -> Recipient:
    claims = demo_claims(world, settings.seed_file, "party-wang")
    return Recipient(claims["name"], None, person_key(PersonRef.party(claims["id_number"])))


async def test_party_wang_receives_her_new_notices_live_and_nobody_elses(
    gateway: GraphQLClient,
    connect: Any,
    other_process: Store,
    world: World,
    settings: Settings,
    tokens: dict[str, str],
) -> None:
    wang = _wang(world, settings)
    someone_else = Recipient("别人", None, person_key(PersonRef.party(f"T{secrets.token_hex(8)}")))
    latest = (await gateway.query(LATEST, as_="party-wang"))["data"]["notifications"]["edges"]
    after = latest[0]["node"]["id"] if latest else global_id("Notification", "0")

    ws = await connect()
    assert (await ws.init(_bearer(tokens["party-wang"])))["type"] == "connection_ack"
    await ws.subscribe({"after": after})
    await _served(other_process, settings, someone_else, "不是给你的")
    await _served(other_process, settings, wang, "民事判决书")
    first = await ws.next_notification()
    assert first["kind"] == "DOCUMENT_SERVED" and first["title"] == "新送达文书" and first["readAt"] is None
    assert "《民事判决书》" in first["body"] and first["body"].startswith("【越秀法院】")
    assert first["caseNumber"] == "（2023）粤0104民初123号" and first["courtCode"] == "粤0104"

    # caught up now: this one can only come through the live feed
    await _served(other_process, settings, someone_else, "也不是给你的")
    await _served(other_process, settings, wang, "开庭传票")
    second = await ws.next_notification()
    assert "《开庭传票》" in second["body"]
    with pytest.raises(TimeoutError):  # nothing else for her, and nothing of someone else's
        await ws.ws.receive(timeout=1.5)

    listed = (await gateway.query(LATEST, as_="party-wang"))["data"]["notifications"]["edges"]
    assert listed[0]["node"]["id"] == second["id"]  # the same notice the list shows
    await ws.ws.send_json({"id": "1", "type": "complete"})
    await ws.ws.close()


async def test_the_token_may_come_on_the_handshake_instead(
    gateway: GraphQLClient, connect: Any, other_process: Store, world: World, settings: Settings
) -> None:
    id_number = f"T{secrets.token_hex(8)}"
    token = mint(world, settings, "party-wang", id_number=id_number, sub=f"test-{id_number}")
    ws = await connect(headers=_bearer(token))
    assert (await ws.init())["type"] == "connection_ack"
    await ws.subscribe({"after": global_id("Notification", "0")})
    await _served(other_process, settings, Recipient("测试", None, person_key(PersonRef.party(id_number))), "裁定书")
    assert "《裁定书》" in (await ws.next_notification())["body"]
    await ws.ws.close()


@pytest.mark.parametrize(
    "payload",
    [
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"authorization": "Bearer x.y.z"},
    ],
    ids=["garbage", "not-bearer", "lower-case-key"],
)
async def test_a_bad_token_is_refused(connect: Any, payload: dict[str, str]) -> None:
    ws = await connect()
    closed = await ws.init(payload)
    assert (closed["type"], closed["code"]) == ("closed", 4403)


async def test_without_a_token_the_subscription_is_unauthenticated(connect: Any) -> None:
    ws = await connect()
    assert (await ws.init())["type"] == "connection_ack"  # anonymous connections may exist …
    await ws.subscribe()
    message = await ws.receive()  # … but get nothing
    assert message["type"] == "next" and message["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await ws.receive())["type"] == "complete"
    await ws.ws.close()


async def test_the_subscription_ends_when_the_token_expires(connect: Any, world: World, settings: Settings) -> None:
    token = mint(world, settings, "party-wang", exp=int(time.time()) + 2)
    ws = await connect()
    assert (await ws.init(_bearer(token)))["type"] == "connection_ack"
    await ws.subscribe()
    message = await ws.receive(wait_s=10)
    assert message["type"] == "next" and message["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await ws.receive())["type"] == "complete"
    await ws.ws.close()


# -- the feed itself, on both databases ----------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
        await upgrade_async(url)
        yield url
        return
    async with postgres_schema(str(POSTGRES_URL)) as url:
        await upgrade_async(url)
        yield url


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[tuple[Store, Store]]:
    """The feed's store, and the same database opened as another process would."""
    async with Store(database_url) as store, Store(database_url) as other:
        yield store, other


def _person(name: str) -> Recipient:
    return Recipient(name, None, person_key(PersonRef.party(f"T{secrets.token_hex(8)}")))


def _title(notice: Notice) -> str:
    return notice.body.split("《")[1].split("》")[0]


async def test_one_poller_serves_every_subscriber_and_stops_when_they_leave(
    stores: tuple[Store, Store], settings: Settings
) -> None:
    store, other_process = stores
    feed = NoticeFeed(store, interval_s=0.05)
    people = [_person(f"人{n}") for n in range(3)]
    received: dict[int, list[str]] = {0: [], 1: [], 2: []}
    subscribed = asyncio.Barrier(4)

    async def listen(n: int) -> None:
        async with feed.subscribe([people[n].key or ""]) as subscriber:
            await subscribed.wait()
            while len(received[n]) < 2:
                received[n].append(_title(await subscriber.next()))

    listeners = [asyncio.create_task(listen(n)) for n in range(3)]
    await subscribed.wait()
    for round_ in range(2):
        for n, person in enumerate(people):
            await _served(other_process, settings, person, f"文书{n}-{round_}")
    await asyncio.wait_for(asyncio.gather(*listeners), timeout=10)
    assert received == {n: [f"文书{n}-0", f"文书{n}-1"] for n in range(3)}
    await asyncio.sleep(0.2)
    assert feed._task is not None and feed._task.done()  # nobody listens: no more polling


async def test_a_reconnecting_client_gets_what_it_missed_once(stores: tuple[Store, Store], settings: Settings) -> None:
    store, other_process = stores
    id_number = f"T{secrets.token_hex(8)}"
    viewer = viewer_from_claims({"sub": "t", "roles": ["PARTY"], "id_number": id_number})
    me = Recipient("测试", None, person_key(PersonRef.party(id_number)))
    for n in range(5):
        await _served(other_process, settings, me, f"错过的{n}")
    feed = NoticeFeed(store, interval_s=0.05)
    stream = live_notices(feed, viewer_keys(viewer), after_id=0, catch_up_page=2)
    try:
        missed = [_title(await anext(stream)) for _ in range(5)]
        await _served(other_process, settings, me, "新的")
        live = _title(await asyncio.wait_for(anext(stream), timeout=5))
    finally:
        await stream.aclose()
    assert [*missed, live] == [*(f"错过的{n}" for n in range(5)), "新的"]


async def test_a_slow_client_is_told_to_resubscribe(stores: tuple[Store, Store], settings: Settings) -> None:
    store, other_process = stores
    me = _person("慢")
    feed = NoticeFeed(store, interval_s=0.05)
    async with feed.subscribe([me.key or ""]) as subscriber:
        subscriber.queue = asyncio.Queue(2)
        for n in range(3):
            await _served(other_process, settings, me, f"第{n}份")
        for _ in range(50):
            if subscriber.overflowed:
                break
            await asyncio.sleep(0.05)
        assert [_title(await subscriber.next()) for _ in range(2)] == ["第0份", "第1份"]
        with pytest.raises(FeedOverflow, match="resubscribe with `after`"):
            await subscriber.next()


@needs_postgres
async def test_a_notice_committed_after_a_newer_one_is_not_missed(settings: Settings) -> None:
    """PostgreSQL hands out ids at INSERT: the slow transaction's lower id becomes visible last."""
    async with postgres_schema(str(POSTGRES_URL)) as url:
        await upgrade_async(url)
        async with Store(url) as store, Store(url) as other_process:
            me = _person("我")
            feed = NoticeFeed(store, interval_s=0.05)
            async with feed.subscribe([me.key or ""]) as subscriber:
                async with other_process.session() as slow:
                    await notify(
                        slow,
                        kind=NotificationKind.DOCUMENT_SERVED,
                        court=settings.court("粤0104"),
                        case_number="（2023）粤0104民初123号",
                        recipients=[me],
                        params={"title": "先开始后提交"},
                        dedupe_key="slow",
                        now=datetime.now(UTC),
                    )
                    await _served(other_process, settings, me, "后开始先提交")
                    assert _title(await asyncio.wait_for(subscriber.next(), 5)) == "后开始先提交"
                    await asyncio.sleep(0.2)  # the feed polls meanwhile, past the lower id
                assert _title(await asyncio.wait_for(subscriber.next(), 5)) == "先开始后提交"


# -- the terminal client (court-gateway notifications watch) ---------------------------------------------


async def test_the_watch_command_prints_notices_live(
    gateway: GraphQLClient, other_process: Store, world: World, settings: Settings
) -> None:
    id_number = f"T{secrets.token_hex(8)}"
    token = mint(world, settings, "party-wang", id_number=id_number, sub=f"test-{id_number}")
    env = {**os.environ, "GATEWAY_JWT_HS256_SECRET": settings.jwt_hs256_secret}
    watcher = await asyncio.create_subprocess_exec(
        *[str(Path(sys.executable).with_name("court-gateway")), "notifications", "watch"],
        *["--token", token, "--url", gateway.url, "--after", global_id("Notification", "0")],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert watcher.stderr is not None and watcher.stdout is not None
        assert b"watching notifications" in await asyncio.wait_for(watcher.stderr.readline(), 20)
        await _served(
            other_process, settings, Recipient("测试", None, person_key(PersonRef.party(id_number))), "调解书"
        )
        heading = (await asyncio.wait_for(watcher.stdout.readline(), 10)).decode()
        body = (await asyncio.wait_for(watcher.stdout.readline(), 10)).decode()
        assert "[DOCUMENT_SERVED] 新送达文书" in heading
        assert body.strip().startswith("【越秀法院】") and "《调解书》" in body
    finally:
        watcher.terminate()
        await watcher.wait()


async def test_the_watch_client_names_a_refused_token(gateway: GraphQLClient) -> None:
    from gateway.watch import WatchError, notifications

    with pytest.raises(WatchError, match="4403"):
        async for _ in notifications(gateway.url, "not-a-token"):
            pass
