"""Notifications: queued with the change that causes them, once per recipient, in the courts' wording;
the in-app list and marking read, for the viewer's own notices only.

Service tests run on SQLite and on PostgreSQL (when ``GATEWAY_TEST_POSTGRES_URL`` names a server); the
GraphQL tests run against the session's gateway, each as a fresh person so that nothing else the
suite does shows up in their lists.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.adapters.model import PersonRef
from gateway.config import CourtConfig, Settings
from gateway.identity import viewer_from_claims
from gateway.notifications.service import (
    NotificationKind,
    NotYours,
    Recipient,
    list_notices,
    mark_read,
    notify,
    person_key,
    render,
    staff_key,
    viewer_keys,
)
from gateway.schema.common import global_id
from gateway.store import Store
from gateway.store.migrate import upgrade_async
from gateway.store.notifications import InAppNotification, SmsMessage
from gateway.store.testing import postgres_schema, sqlite_url
from simulators.generator import World
from tests.conftest import GraphQLClient, mint

POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="GATEWAY_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped"
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A migrated, empty store of each kind."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
        await upgrade_async(url)
        async with Store(url) as store:
            yield store
        return
    async with postgres_schema(str(POSTGRES_URL)) as url:
        await upgrade_async(url)
        async with Store(url) as store:
            yield store


@pytest.fixture(scope="module")
def yuexiu() -> CourtConfig:
    return Settings().court("粤0104")


WANG = Recipient("王小明", "13800000001", person_key(PersonRef.party("440104199001011234")))
CHEN = Recipient("陈律师", "13900000002", person_key(PersonRef.lawyer("14401200710012345")))
CLERK = Recipient("李书记员", "13700000003", staff_key("粤0104", "S-0104-7"))


async def _count(store: Store, model: type[SmsMessage] | type[InAppNotification]) -> int:
    async with store.session(read_only=True) as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def _handled(store: Store, court: CourtConfig, recipients: list[Recipient], key: str) -> None:
    async with store.session() as session:
        await notify(
            session,
            kind=NotificationKind.FILING_HANDLED,
            court=court,
            case_number="（2023）粤0104民初123号",
            recipients=recipients,
            params={},
            dedupe_key=key,
            now=datetime.now(UTC),
        )


# -- notify -------------------------------------------------------------------------------------------


def test_the_receipt_text_is_the_courts_own(yuexiu: CourtConfig) -> None:
    text = render(NotificationKind.FILING_HANDLED, yuexiu, "（2023）粤0104民初123号", {})
    assert text == (
        "【越秀法院】您好！您提交的（2023）粤0104民初123号的材料法官已处理，"
        "请登录广州法院AOL电子诉讼服务中心或广州微法院小程序查看处理结果。"
    )


async def test_notify_twice_with_the_same_key_queues_one_sms_and_one_notice_per_recipient(
    store: Store, yuexiu: CourtConfig
) -> None:
    for _ in range(2):  # a replayed change event, a retried worker
        await _handled(store, yuexiu, [WANG, CHEN], "filing:42:handled")
    assert await _count(store, SmsMessage) == 2
    assert await _count(store, InAppNotification) == 2

    await _handled(store, yuexiu, [WANG], "filing:43:handled")  # another event: notified again
    assert await _count(store, SmsMessage) == 3
    async with store.session(read_only=True) as session:
        rows = (await session.scalars(select(SmsMessage).order_by(SmsMessage.id))).all()
    assert [(r.phone, r.status, r.attempts) for r in rows] == [
        ("13800000001", "PENDING", 0),
        ("13900000002", "PENDING", 0),
        ("13800000001", "PENDING", 0),
    ]
    assert rows[0].text.startswith("【越秀法院】您好！您提交的（2023）粤0104民初123号")


async def test_notify_rolls_back_with_the_change_that_caused_it(store: Store, yuexiu: CourtConfig) -> None:
    with pytest.raises(RuntimeError):
        async with store.session() as session:
            await notify(
                session,
                kind=NotificationKind.DOCUMENT_SERVED,
                court=yuexiu,
                case_number="（2023）粤0104民初123号",
                recipients=[WANG],
                params={"title": "民事判决书"},
                dedupe_key="doc:1",
                now=datetime.now(UTC),
            )
            raise RuntimeError("the filing's status change failed")
    assert await _count(store, SmsMessage) == 0
    assert await _count(store, InAppNotification) == 0


async def test_no_sms_without_a_phone_and_no_notice_without_a_key(store: Store, yuexiu: CourtConfig) -> None:
    await _handled(store, yuexiu, [Recipient("无手机", None, "PARTY:1"), Recipient("未注册", "13600000000", None)], "k")
    async with store.session(read_only=True) as session:
        assert [r.phone for r in (await session.scalars(select(SmsMessage))).all()] == ["13600000000"]
        assert [r.recipient_key for r in (await session.scalars(select(InAppNotification))).all()] == ["PARTY:1"]


# -- whose notices: the keys ----------------------------------------------------------------------------


def test_a_viewer_reads_under_their_person_refs_or_their_staff_seat() -> None:
    party = viewer_from_claims({"sub": "w", "roles": ["PARTY"], "id_number": "440104199001011234"})
    lawyer = viewer_from_claims({"sub": "c", "roles": ["LAWYER"], "licence_number": "14401200710012345"})
    clerk = viewer_from_claims({"sub": "k", "roles": ["CLERK"], "court": "粤0104", "staff_id": "S-0104-7"})
    assert viewer_keys(party) == [WANG.key]
    assert viewer_keys(lawyer) == [CHEN.key]
    assert viewer_keys(clerk) == [CLERK.key]


# -- the in-app list (services) -------------------------------------------------------------------------


async def test_the_list_is_newest_first_pages_and_counts_unread(store: Store, yuexiu: CourtConfig) -> None:
    for n in range(5):
        await _handled(store, yuexiu, [WANG, CHEN], f"filing:{n}:handled")
    async with store.session(read_only=True) as session:
        first = await list_notices(session, [WANG.key], first=2)
        second = await list_notices(session, [WANG.key], first=2, before_id=first.notices[-1].id)
        last = await list_notices(session, [WANG.key], first=2, before_id=second.notices[-1].id)
    ids = [n.id for page in (first, second, last) for n in page.notices]
    assert ids == sorted(ids, reverse=True) and len(ids) == 5
    assert (first.has_next_page, second.has_next_page, last.has_next_page) == (True, True, False)
    assert (first.total, first.unread) == (5, 5)

    async with store.session() as session:
        assert await mark_read(session, [WANG.key], ids[:2], now=datetime.now(UTC)) == 2
        assert await mark_read(session, [WANG.key], ids[:2], now=datetime.now(UTC)) == 0  # already read
    async with store.session(read_only=True) as session:
        unread = await list_notices(session, [WANG.key], first=10, unread_only=True)
        everything = await list_notices(session, [WANG.key], first=10)
    assert [n.id for n in unread.notices] == ids[2:]
    assert (unread.total, unread.unread, everything.total, everything.unread) == (3, 3, 5, 3)
    assert all(n.read_at is not None for n in everything.notices[:2])


async def test_nobody_marks_someone_elses_notice(store: Store, yuexiu: CourtConfig) -> None:
    await _handled(store, yuexiu, [WANG, CHEN], "filing:1:handled")
    async with store.session(read_only=True) as session:
        (wangs,) = (await list_notices(session, [WANG.key], first=5)).notices
        (chens,) = (await list_notices(session, [CHEN.key], first=5)).notices
    with pytest.raises(NotYours):
        async with store.session() as session:
            await mark_read(session, [CHEN.key], [chens.id, wangs.id], now=datetime.now(UTC))
    async with store.session() as session:
        assert await mark_read(session, [CHEN.key], None, now=datetime.now(UTC)) == 1  # all of his
    async with store.session(read_only=True) as session:
        assert (await list_notices(session, [WANG.key], first=5)).unread == 1  # hers untouched
        assert (await list_notices(session, [CHEN.key], first=5)).unread == 0


# -- the in-app list over GraphQL -----------------------------------------------------------------------

LIST = """query($first: Int!, $after: String, $unreadOnly: Boolean! = false) {
  notifications(first: $first, after: $after, unreadOnly: $unreadOnly) {
    totalCount unreadCount
    edges { cursor node { id kind title body courtCode caseNumber createdAt readAt } }
    pageInfo { hasNextPage endCursor }
  }
}"""
MARK = "mutation($ids: [ID!], $all: Boolean! = false) { markNotificationsRead(ids: $ids, all: $all) }"


def _fresh_party(world: World, settings: Settings) -> tuple[str, Recipient]:
    """A token for a person nobody else in the test session notifies, and that person as a recipient."""
    id_number = f"T{secrets.token_hex(8)}"
    token = mint(world, settings, "party-wang", id_number=id_number, sub=f"test-{id_number}")
    return token, Recipient("测试当事人", None, person_key(PersonRef.party(id_number)))


async def test_graphql_lists_marks_and_denies(gateway: GraphQLClient, world: World, settings: Settings) -> None:
    store: Store = gateway.app.state.services.store  # type: ignore[attr-defined]
    court = settings.court("粤0104")
    mine, me = _fresh_party(world, settings)
    theirs, them = _fresh_party(world, settings)
    for n in range(3):
        await _handled(store, court, [me], f"gql:{me.key}:{n}")
    await _handled(store, court, [them], f"gql:{them.key}:0")

    page = (await gateway.query(LIST, {"first": 2}, token=mine))["data"]["notifications"]
    assert (page["totalCount"], page["unreadCount"], page["pageInfo"]["hasNextPage"]) == (3, 3, True)
    node = page["edges"][0]["node"]
    assert node["kind"] == "FILING_HANDLED" and node["title"] == "材料已处理" and node["readAt"] is None
    assert node["body"].startswith("【越秀法院】") and node["caseNumber"] == "（2023）粤0104民初123号"
    assert node["createdAt"].endswith("+08:00"), "times in China time, as everywhere else in the schema"
    rest = (await gateway.query(LIST, {"first": 2, "after": page["pageInfo"]["endCursor"]}, token=mine))["data"]
    ids = [e["node"]["id"] for e in page["edges"] + rest["notifications"]["edges"]]
    assert len(set(ids)) == 3 and not rest["notifications"]["pageInfo"]["hasNextPage"]

    their_id = (await gateway.query(LIST, {"first": 5}, token=theirs))["data"]["notifications"]["edges"][0]["node"]
    assert their_id["id"] not in ids  # never in someone else's list
    denied = await gateway.query(MARK, {"ids": [ids[0], their_id["id"]]}, token=mine)
    assert denied["errors"][0]["extensions"]["code"] == "NOT_FOUND" and denied["data"] is None
    after_denial = (await gateway.query(LIST, {"first": 5}, token=theirs))["data"]["notifications"]
    assert after_denial["unreadCount"] == 1  # theirs still unread
    assert (await gateway.query(LIST, {"first": 5}, token=mine))["data"]["notifications"]["unreadCount"] == 3

    assert (await gateway.query(MARK, {"ids": [ids[0]]}, token=mine))["data"]["markNotificationsRead"] == 1
    unread = (await gateway.query(LIST, {"first": 5, "unreadOnly": True}, token=mine))["data"]["notifications"]
    assert [e["node"]["id"] for e in unread["edges"]] == ids[1:] and unread["unreadCount"] == 2
    assert (await gateway.query(MARK, {"all": True}, token=mine))["data"]["markNotificationsRead"] == 2
    assert (await gateway.query(LIST, {"first": 5}, token=mine))["data"]["notifications"]["unreadCount"] == 0


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        (MARK, {}, "BAD_USER_INPUT"),  # neither ids nor all
        (MARK, {"ids": [], "all": True}, "BAD_USER_INPUT"),  # both
        (MARK, {"ids": ["not-an-id"]}, "BAD_USER_INPUT"),
        (MARK, {"ids": [str(global_id("Case", "（2023）粤0104民初1号"))]}, "BAD_USER_INPUT"),
        (MARK, {"ids": [str(global_id("Notification", "999999999"))]}, "NOT_FOUND"),
        (LIST, {"first": 0}, "BAD_USER_INPUT"),
        (LIST, {"first": 5, "after": "bm90LWEtY3Vyc29y"}, "BAD_USER_INPUT"),
    ],
)
async def test_bad_input_is_named(
    gateway: GraphQLClient, world: World, settings: Settings, query: str, variables: dict[str, object], code: str
) -> None:
    token, _ = _fresh_party(world, settings)
    body = await gateway.query(query, variables, token=token)
    assert body["errors"][0]["extensions"]["code"] == code


async def test_notifications_need_a_signed_in_viewer(gateway: GraphQLClient) -> None:
    body = await gateway.query(LIST, {"first": 5})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_staff_read_notices_addressed_to_their_seat(
    gateway: GraphQLClient, world: World, settings: Settings
) -> None:
    store: Store = gateway.app.state.services.store  # type: ignore[attr-defined]
    seat = f"S-{secrets.token_hex(4)}"
    token = mint(world, settings, "clerk-0104", staff_id=seat, sub=f"test-{seat}")
    clerk = Recipient("书记员", None, staff_key("粤0104", seat))
    async with store.session() as session:
        await notify(
            session,
            kind=NotificationKind.FILING_RECEIVED,
            court=settings.court("粤0104"),
            case_number="（2023）粤0104民初123号",
            recipients=[clerk],
            params={"title": "答辩状", "filer": "陈律师"},
            dedupe_key=f"filing:{seat}:delivered",
            now=datetime.now(UTC),
        )
    page = (await gateway.query(LIST, {"first": 5}, token=token))["data"]["notifications"]
    assert [e["node"]["kind"] for e in page["edges"]] == ["FILING_RECEIVED"]
    assert "《答辩状》（提交人：陈律师）" in page["edges"][0]["node"]["body"]
