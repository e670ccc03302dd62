"""``changes`` walked page by page across a restart, filtered by a client's scopes, with its expiry; the
calendar feed imported with the ``icalendar`` parser (the hearing, the appeal deadline of a served
judgment, Asia/Shanghai), and its rotation killing the old URL."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import icalendar

from gateway.adapters.model import CHINA_TZ, PersonRef
from gateway.calendar.appeals import appeal_period
from gateway.config import Settings
from gateway.core.deadlines import calendar_for
from gateway.notifications.changes import SETTLE, encode_point
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import GraphQLClient, mint
from tests.firm.conftest import consent, withdraw
from tests.firm.test_webhooks_e2e import FIRM_SCOPES, client_token, fast, firm_gateway, store_of

CHANGES = """query($since: String, $first: Int!) {
  changes(since: $since, first: $first) { point hasMore edges { node { type caseNumber title text occurredAt } } }
}"""


async def changes(gw: GraphQLClient, token: str, since: str | None, first: int) -> dict[str, Any]:
    body = await gw.query(CHANGES, {"since": since, "first": first}, token=token)
    assert "errors" not in body, body
    return body["data"]["changes"]


async def walk(gw: GraphQLClient, token: str, since: str | None, first: int) -> tuple[list[dict[str, Any]], str]:
    seen: list[dict[str, Any]] = []
    while True:
        page = await changes(gw, token, since, first)
        seen += [e["node"] for e in page["edges"]]
        since = page["point"]
        if not page["hasMore"]:
            return seen, since


async def test_changes_are_walked_in_pages_and_resumed_after_a_restart(
    settings: Settings, database: str, cluster: SimulatorCluster, world: World
) -> None:
    wang = PersonRef.party(world.demo["party-wang"].number)
    case = cluster.court_state("粤0104").cases_of(wang)[0]
    chen = PersonRef.lawyer(world.demo["lawyer-chen"].number)
    chens = cluster.court_state("粤0104").cases_of(chen)[0]
    token = client_token(world, settings, "party-wang")
    desk = cluster.desk("粤0104")
    configured = fast(settings, database)
    async with firm_gateway(configured) as gw:
        start = (await changes(gw, token, None, 10))["point"]  # nothing yet: a point to sync from
        titles = ["举证通知书", "缴费通知书", "合议庭组成人员通知书"]
        for title in titles:
            desk.serve_document(case.case_id, wang, title)
        desk.serve_document(chens.case_id, chen, "开庭传票", "传票")  # someone else's
        desk.schedule_hearing(case.case_id, datetime(2027, 1, 20, 9, 30, tzinfo=CHINA_TZ), "第5法庭")
        await asyncio.sleep(SETTLE.total_seconds())
        for _ in range(100):  # the follower records them, and they settle
            if len((await walk(gw, token, start, 10))[0]) >= 4:
                break
            await asyncio.sleep(0.1)
        first_two = await changes(gw, token, start, 2)
        assert first_two["hasMore"]
        documents_only = client_token(world, settings, "party-wang", "documents:read")
        cases_only = client_token(world, settings, "party-wang", "cases:read")
        seen_docs, _ = await walk(gw, documents_only, start, 1)
        seen_cases, _ = await walk(gw, cases_only, start, 1)
        nothing = await gw.query(
            CHANGES, {"since": start, "first": 5}, token=client_token(world, settings, "party-wang", "calendar:read")
        )
    async with firm_gateway(configured) as gw:  # a new process on the same database
        rest, end = await walk(gw, token, first_two["point"], 1)
        after_end = await changes(gw, token, end, 10)
        expired = await gw.query(
            CHANGES, {"since": encode_point(0, datetime.now(UTC) - timedelta(days=31)), "first": 5}, token=token
        )
        forged = await gw.query(CHANGES, {"since": "bm90IGEgcG9pbnQ", "first": 5}, token=token)

    every = [e["node"] for e in first_two["edges"]] + rest
    served = [c for c in every if c["type"] == "document.served"]
    assert [next(t for t in titles if t in c["text"]) for c in served] == titles  # each once, in order
    assert [c["type"] for c in every].count("hearing.scheduled") == 1
    assert all(c["caseNumber"] == case.case_number for c in every)  # never chen's
    assert len(every) == 4 and after_end["edges"] == [] and not after_end["hasMore"]
    assert {c["type"] for c in seen_docs} == {"document.served"} and len(seen_docs) == 3
    assert {c["type"] for c in seen_cases} == {"hearing.scheduled"}
    assert nothing["errors"][0]["extensions"]["code"] == "INSUFFICIENT_SCOPE"
    assert expired["errors"][0]["extensions"]["code"] == "CHANGES_POINT_EXPIRED"
    assert forged["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "reason": "CURSOR"}


ROTATE = "mutation { rotateCalendarFeed { url } }"


async def never_body(http: aiohttp.ClientSession, base: str) -> bytes:
    async with http.get(base + "/calendar/never-issued-token.ics") as never:
        return await never.read()


async def test_the_calendar_feed_holds_the_hearing_and_the_appeal_deadline_and_rotation_kills_the_old_url(
    settings: Settings, database: str, cluster: SimulatorCluster, world: World
) -> None:
    wang = PersonRef.party(world.demo["party-wang"].number)
    court, case = next(
        (code, c)
        for code in ("粤0104", "粤0105", "粤0106")
        for c in cluster.court_state(code).cases_of(wang)
        if c.type_code == "民初"
    )
    starts = datetime(2027, 2, 3, 14, 30, tzinfo=CHINA_TZ)
    desk = cluster.desk(court)
    hearing = desk.schedule_hearing(case.case_id, starts, "第8法庭")
    title = f"民事判决书（第{secrets.token_hex(3)}号）"  # the simulators outlive the test: tell this one apart
    judgment = desk.serve_document(case.case_id, wang, title, "判决书", address_confirmed=True)
    expected = appeal_period("判决书", case.case_number, judgment.served_at, calendar_for(settings))
    assert expected is not None
    async with firm_gateway(fast(settings, database)) as gw:
        token = client_token(world, settings, "party-wang")
        grant = await consent(store_of(gw), "party-wang", FIRM_SCOPES)
        base = gw.base  # type: ignore[attr-defined]
        asked = await gw.query(
            'mutation($n: String) { createTicket(court: "粤0104", category: CONSULTATION, content: "何时开庭？", '
            "caseNumber: $n) { number dueAt } }",
            {"n": None},
            token=mint(world, settings, "party-wang"),
        )
        ticket = asked["data"]["createTicket"]
        old = (await gw.query(ROTATE, token=token))["data"]["rotateCalendarFeed"]["url"]
        async with aiohttp.ClientSession() as http:
            async with http.get(base + old) as response:
                assert response.status == 200 and response.content_type == "text/calendar"
                feed = icalendar.Calendar.from_ical(await response.read())
            new = (await gw.query(ROTATE, token=token))["data"]["rotateCalendarFeed"]["url"]
            async with http.get(base + old) as gone, http.get(base + "/calendar/never-issued-token.ics") as never:
                assert gone.status == never.status == 404
                assert await gone.read() == await never.read()
            async with http.get(base + new) as response:
                assert response.status == 200
            # the person withdraws calendar:read from the client: a new consent without it, the old one revoked
            await consent(store_of(gw), "party-wang", "cases:read")
            await withdraw(store_of(gw), grant)
            async with http.get(base + new) as withdrawn:
                assert withdrawn.status == 404 and await withdrawn.read() == await never_body(http, base)
        refused = await gw.query(ROTATE, token=client_token(world, settings, "party-wang", "cases:read"))

    assert [tz["TZID"] for tz in feed.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    events = {str(e["UID"]): e for e in feed.walk("VEVENT")}
    mine = [e for uid, e in events.items() if hearing.hearing_id in uid]
    assert len(mine) == 1
    assert mine[0].decoded("DTSTART") == starts and str(mine[0].decoded("DTSTART").tzinfo) == "Asia/Shanghai"
    assert "第8法庭" in str(mine[0]["LOCATION"]) and case.case_number in str(mine[0]["SUMMARY"])
    appeals = [e for e in events.values() if title in str(e["DESCRIPTION"])]
    assert [str(e["SUMMARY"]) for e in appeals] == [f"上诉期（判决）届满：{case.case_number}"]
    assert appeals[0].decoded("DTSTART").date() == expected.last_day
    assert expected.last_day >= judgment.served_at.astimezone(CHINA_TZ).date() + timedelta(days=15)
    answer_due = [e for e in events.values() if str(e["SUMMARY"]) == f"12368诉求答复期限：{ticket['number']}"]
    assert [e.decoded("DTSTART") for e in answer_due] == [datetime.fromisoformat(ticket["dueAt"])]
    assert refused["errors"][0]["extensions"]["code"] == "INSUFFICIENT_SCOPE"
    assert old != new


async def test_a_first_party_token_may_use_changes_and_the_calendar(
    settings: Settings, database: str, world: World
) -> None:
    async with firm_gateway(fast(settings, database)) as gw:
        token = mint(world, settings, "lawyer-chen")
        assert "errors" not in await gw.query(CHANGES, {"since": None, "first": 5}, token=token)
        rotated = await gw.query(ROTATE, token=token)
        url = rotated["data"]["rotateCalendarFeed"]["url"]
        assert url.startswith("/calendar/") and url.endswith(".ics")
        async with aiohttp.ClientSession() as http, http.get(gw.base + url) as response:  # type: ignore[attr-defined]
            assert response.status == 200  # the person's own feed: no client grant to ask about
            assert b"BEGIN:VCALENDAR" in await response.read()
        anonymous = await gw.query(CHANGES, {"since": None, "first": 5})
        assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_calendar_url_is_fetched_ten_times_then_waits_and_another_url_does_not(
    settings: Settings, database: str, world: World
) -> None:
    """Each fetch reads every court: a feed URL (leaked, or polled by a broken client) has its own bucket;
    an unknown URL is counted the same, so a 429 tells nothing about whether a feed exists."""
    async with firm_gateway(fast(settings, database)) as gw:
        base = gw.base  # type: ignore[attr-defined]
        url = (await gw.query(ROTATE, token=mint(world, settings, "lawyer-chen")))["data"]["rotateCalendarFeed"]["url"]
        other = (await gw.query(ROTATE, token=mint(world, settings, "party-wang")))["data"]["rotateCalendarFeed"]["url"]
        async with aiohttp.ClientSession() as http:
            statuses = []
            for _ in range(11):
                async with http.get(base + url) as response:
                    statuses.append(response.status)
                    retry_after = response.headers.get("Retry-After")
            assert statuses == [200] * 10 + [429] and retry_after is not None and int(retry_after) >= 1
            async with http.get(base + other) as response:
                assert response.status == 200, "another person's feed has its own bucket"
            unknown = [0] * 11
            for n in range(11):
                async with http.get(base + "/calendar/never-issued.ics") as response:
                    unknown[n] = response.status
            assert unknown == [404] * 10 + [429]
