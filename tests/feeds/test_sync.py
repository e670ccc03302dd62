"""Change-feed sync: court events become notices once, and the cursor survives restarts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import select

from gateway.adapters.model import CHINA_TZ, PersonRef
from gateway.app import create_app
from gateway.config import Settings
from gateway.notifications.service import person_key
from gateway.schema.common import parse_global_id
from gateway.store import Store
from gateway.store.notifications import InAppNotification, SmsMessage
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import GraphQLClient, following_every_feed, serve_app


@asynccontextmanager
async def running_gateway(settings: Settings) -> AsyncIterator[None]:
    app = create_app(settings.model_copy(update={"change_poll_s": 0.1}))
    server, task, _ = await serve_app(app)
    try:
        await following_every_feed(app)
        yield
    finally:
        server.should_exit = True
        await task


async def notices(settings: Settings, key: str, dedupe_prefix: str) -> list[InAppNotification]:
    async with Store(settings.database_url) as store, store.session(read_only=True) as session:
        rows = await session.scalars(
            select(InAppNotification).where(
                InAppNotification.recipient_key == key, InAppNotification.dedupe_key.startswith(dedupe_prefix)
            )
        )
        return list(rows)


async def wait_for(predicate, seconds: float = 5.0):  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.1)):
        found = await predicate()
        if found:
            return found
        await asyncio.sleep(0.1)
    return await predicate()


async def test_a_served_document_notifies_its_addressee_once_across_restarts(
    settings: Settings, cluster: SimulatorCluster, world: World
) -> None:
    wang = PersonRef.party(world.demo["party-wang"].number)
    case = cluster.court_state("粤0104").cases_of(wang)[0]
    async with running_gateway(settings):
        doc = cluster.desk("粤0104").serve_document(case.case_id, wang, "举证通知书")
        prefix = "event:粤0104:"
        found = await wait_for(lambda: notices(settings, person_key(wang), prefix))
        mine = [n for n in found if doc.case_number == n.case_number and n.kind == "DOCUMENT_SERVED"]
        assert len(mine) == 1
        assert mine[0].body.startswith("【越秀法院】您好！") and "举证通知书" in mine[0].body
    async with running_gateway(settings):  # a restart resumes from the saved cursor: nothing twice
        await asyncio.sleep(0.5)
        again = [n for n in await notices(settings, person_key(wang), prefix) if n.kind == "DOCUMENT_SERVED"]
        assert len([n for n in again if n.case_number == doc.case_number]) == len(mine)
    async with Store(settings.database_url) as store, store.session(read_only=True) as session:
        sms = list(
            await session.scalars(
                select(SmsMessage).where(
                    SmsMessage.phone == world.demo["party-wang"].phone, SmsMessage.dedupe_key == mine[0].dedupe_key
                )
            )
        )
        assert len(sms) == 1 and sms[0].text == mine[0].body


async def test_events_while_the_gateway_was_down_are_applied_when_it_is_back(
    settings: Settings, cluster: SimulatorCluster, world: World
) -> None:
    chen = PersonRef.lawyer(world.demo["lawyer-chen"].number)
    case = cluster.court_state("粤0105").cases_of(chen)[0]
    async with running_gateway(settings):
        pass  # it has read every feed's end and saved its cursors
    hearing = cluster.desk("粤0105").schedule_hearing(
        case.case_id, datetime(2026, 12, 18, 9, 30, tzinfo=CHINA_TZ), "第7法庭"
    )
    async with running_gateway(settings):
        found = await wait_for(lambda: notices(settings, person_key(chen), "event:粤0105:"))
        scheduled = [n for n in found if n.kind == "HEARING_SCHEDULED" and n.case_number == case.case_number]
        assert len(scheduled) == 1
        assert "2026年12月18日 09:30" in scheduled[0].body and hearing.room in scheduled[0].body


async def test_a_filing_handled_in_the_courts_own_system_reaches_the_filer_through_the_feed(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    """The demo walk: file at a soap-gbk court, the clerk marks it handled there, the receipt arrives."""
    from tests.filings.test_filings import PDF, upload
    from tests.filings.test_filings import wait_for as wait_for_filing

    await following_every_feed(gateway.app)  # type: ignore[attr-defined]
    case = cluster.court_state("粤0105").cases_of(PersonRef.lawyer(world.demo["lawyer-chen"].number))[0]
    body = await upload(gateway, case.case_number, [("答辩状.pdf", PDF, "application/pdf")])
    filing_id = body["data"]["submitFiling"]["id"]
    delivered = await wait_for_filing(gateway, filing_id, lambda f: f["status"] == "DELIVERED")
    cluster.desk("粤0105").handle_filing(delivered["receiptNumber"], "已阅，已转合议庭")
    handled = await wait_for_filing(gateway, filing_id, lambda f: f["status"] == "HANDLED")
    assert handled["result"] == "已阅，已转合议庭"
    async with Store(settings.database_url) as store, store.session(read_only=True) as session:
        receipts = list(
            await session.scalars(
                select(SmsMessage).where(SmsMessage.dedupe_key == f"filing:{parse_global_id(filing_id)[1]}:handled")
            )
        )
    assert [m.text for m in receipts] == [
        f"【海珠法院】您好！您提交的{case.case_number}的材料法官已处理，请登录广州法院AOL电子诉讼服务中心或广州微法院小程序查看处理结果。"
    ]


async def test_stopping_ends_the_follower_even_when_something_below_it_swallowed_the_cancellation(
    settings: Settings,
) -> None:
    """Python 3.11's ``asyncio.wait_for`` (and SQLAlchemy closing a connection) can swallow a task's
    cancellation: the gateway's shutdown once hung forever on a follower that kept polling."""
    from gateway.adapters.registry import AdapterRegistry
    from gateway.cache import Cache
    from gateway.feeds.follower import ChangeFollower

    follower = ChangeFollower(AdapterRegistry(settings.courts[:2]), Cache(), interval_s=0.05)

    async def poll_swallowing_cancellation(adapter: object) -> list[object]:
        with contextlib.suppress(asyncio.CancelledError):  # what a library below us may do
            await asyncio.sleep(10)  # where stop() finds it
        return []

    follower.poll = poll_swallowing_cancellation  # type: ignore[method-assign, assignment]
    follower.start()
    await asyncio.sleep(0.2)
    try:
        await asyncio.wait_for(follower.stop(), timeout=2)
    finally:
        await follower.registry.aclose()
    assert not follower.running
