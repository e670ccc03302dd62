"""12368 tickets over real HTTP: created, routed, answered, rated, closed, listed and reported, and refused.

Against the session's gateway (SQLite, real simulators). Deadlines at simulated times, the escalation
ladder and the report's figures on a hand-built week are in tests/tickets/test_escalation.py (SQLite and
PostgreSQL); here the ladder runs once more end to end, as the demo walks it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from gateway.adapters.model import CHINA_TZ, Case, PersonRef, Staff, StaffRole
from gateway.config import Settings
from gateway.core.deadlines import EscalationScheduler, calendar_for
from gateway.notifications.service import person_key
from gateway.schema.common import global_id, parse_global_id
from gateway.services import Services
from gateway.store.models import AuditRecord
from gateway.store.notifications import SmsMessage
from gateway.tickets.service import FILING_DIVISION, panel_handlers
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import GraphQLClient, background_paused, mint
from tests.tickets.test_escalation import YUEXIU, cases_of, head_of, leaders_of, panel_case

TICKET_FIELDS = """
  id number courtCode category content caseNumber division status requesterName createdAt dueAt overdue
  workingHoursLeft answer answeredAt answeredByName closedAt rating ratingComment ratedAt
  handlers { staffId name role division }
  escalations { level at recipients { staffId name role } }
"""
CREATE = f"""
mutation ($court: String!, $category: TicketCategory!, $content: String!, $n: String) {{
  createTicket(court: $court, category: $category, content: $content, caseNumber: $n) {{ {TICKET_FIELDS} }}
}}"""
ANSWER = f"""
mutation ($id: ID!, $answer: String!) {{ answerTicket(ticketId: $id, answer: $answer) {{ {TICKET_FIELDS} }} }}"""
CLOSE = f"""mutation ($id: ID!) {{ closeTicket(ticketId: $id) {{ {TICKET_FIELDS} }} }}"""
RATE = f"""
mutation ($id: ID!, $rating: Int!, $comment: String) {{
  rateTicket(ticketId: $id, rating: $rating, comment: $comment) {{ {TICKET_FIELDS} }}
}}"""
TICKET = f"""query ($id: ID!) {{ ticket(id: $id) {{ {TICKET_FIELDS} }} }}"""
MINE = """
query ($first: Int!, $after: String) {
  myTickets(first: $first, after: $after) {
    totalCount edges { cursor node { id status answer rating } } pageInfo { hasNextPage endCursor }
  }
}"""
COURT = """
query ($status: TicketStatus, $overdue: Boolean!, $first: Int!) {
  courtTickets(status: $status, overdueOnly: $overdue, first: $first) {
    totalCount edges { node { id status division courtCode } }
  }
}"""
REPORT = """
query ($court: String!, $from: Date!, $to: Date!) {
  ticketReport(court: $court, from: $from, to: $to) {
    courtCode from to generatedAt
    byDivision { division received answeredOnTime answeredLate overdue escalated meanHoursToAnswer closedUnanswered }
    byHandler {
      division staffId name received answeredOnTime answeredLate overdue escalated meanHoursToAnswer closedUnanswered
    }
    total { received answeredOnTime answeredLate overdue escalated meanHoursToAnswer closedUnanswered }
  }
}"""
NOTICES = """{ notifications(first: 50) { edges { node { kind title body caseNumber } } } }"""


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def reasons(body: dict[str, Any]) -> list[str]:
    return [e["extensions"].get("reason", "") for e in body.get("errors", [])]


def services_of(gateway: GraphQLClient) -> Services:
    services: Services = gateway.app.state.services  # type: ignore[attr-defined]
    return services


def token_of(world: World, settings: Settings, member: Staff, court: str = YUEXIU) -> str:
    """A staff member of the seeded court, signed in as themselves (the demo provider's claims)."""
    role = {StaffRole.PRESIDING_JUDGE: "JUDGE"}.get(member.role, member.role.value)
    return mint(
        world,
        settings,
        "clerk-0104",
        sub=f"staff-{member.staff_id}",
        name=member.name,
        phone=member.phone,
        roles=[role],
        staff_id=member.staff_id,
        court=court,
        division=member.division,
    )


async def create(
    gateway: GraphQLClient, case: Case | None, *, as_: str = "lawyer-chen", category: str = "URGE", content: str = ""
) -> dict[str, Any]:
    variables = {
        "court": YUEXIU,
        "category": category,
        "content": content or "本案已立案三个月，请问何时开庭？",
        "n": case.case_number if case else None,
    }
    body = await gateway.query(CREATE, variables, as_=as_)
    assert "errors" not in body, body
    ticket: dict[str, Any] = body["data"]["createTicket"]
    return ticket


async def sms_for(services: Services, dedupe_key: str) -> list[SmsMessage]:
    async with services.store.session(read_only=True) as session:
        query = select(SmsMessage).where(SmsMessage.dedupe_key == dedupe_key).order_by(SmsMessage.phone)
        return list(await session.scalars(query))


def key_of(ticket: dict[str, Any]) -> str:
    return parse_global_id(ticket["id"])[1]


def china(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(CHINA_TZ)


# -- the whole flow ----------------------------------------------------------------------------------


async def test_a_ticket_is_routed_to_the_panel_answered_rated_and_closed(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    services = services_of(gateway)
    case = panel_case(cluster, world, "lawyer-chen", YUEXIU)
    handlers = panel_handlers(case)
    ticket = await create(gateway, case)
    assert ticket["status"] == "OPEN" and ticket["category"] == "URGE" and ticket["courtCode"] == YUEXIU
    assert ticket["caseNumber"] == case.case_number and ticket["division"] == case.division
    assert ticket["requesterName"] == world.demo["lawyer-chen"].name
    assert [h["staffId"] for h in ticket["handlers"]] == [s.staff_id for s in handlers]
    created = china(ticket["createdAt"])
    assert china(ticket["dueAt"]) == calendar_for(settings).deadline(created, 2), "2 working days by default"
    assert ticket["dueAt"].endswith("+08:00") and ticket["overdue"] is False and ticket["escalations"] == []
    office_hours = calendar_for(settings).working_seconds_between(created, china(ticket["dueAt"])) / 3600
    assert 0 < ticket["workingHoursLeft"] <= office_hours + 0.01, "office hours only, counted from now"

    # the handlers are told by SMS, in the court's wording
    texts = await sms_for(services, f"ticket:{key_of(ticket)}:assigned")
    assert sorted(m.phone for m in texts) == sorted(s.phone or "" for s in handlers)
    due = china(ticket["dueAt"])
    assert ticket["number"].startswith(f"12368-{YUEXIU}-{created:%Y%m%d}-")
    assert all(
        m.text
        == f"【越秀法院】您有一件新的12368催办诉求（案号：{case.case_number}，编号：{ticket['number']}）（来件人：陈志明），"
        f"请于{due.month}月{due.day}日17:30前登录审判管理系统答复。"
        for m in texts
    )
    clerk = next(s for s in handlers if s.role == StaffRole.CLERK)
    clerk_token = token_of(world, settings, clerk)
    notices = (await gateway.query(NOTICES, token=clerk_token))["data"]["notifications"]["edges"]
    assert any(n["node"]["kind"] == "TICKET_ASSIGNED" and n["node"]["caseNumber"] == case.case_number for n in notices)
    listed = (await gateway.query(COURT, {"overdue": False, "first": 100, "status": "OPEN"}, token=clerk_token))["data"]
    assert ticket["id"] in [e["node"]["id"] for e in listed["courtTickets"]["edges"]]

    # nothing to rate before an answer
    early = await gateway.query(RATE, {"id": ticket["id"], "rating": 5}, as_="lawyer-chen")
    assert codes(early) == ["BAD_USER_INPUT"] and reasons(early) == ["NOT_ANSWERED"]

    answered = await gateway.query(
        ANSWER, {"id": ticket["id"], "answer": "  已排期，开庭传票将于下周送达。 "}, token=clerk_token
    )
    done = answered["data"]["answerTicket"]
    assert done["status"] == "ANSWERED" and done["answer"] == "已排期，开庭传票将于下周送达。"
    assert done["answeredByName"] == clerk.name and done["workingHoursLeft"] is None and done["overdue"] is False
    again = await gateway.query(ANSWER, {"id": ticket["id"], "answer": "再答一次"}, token=clerk_token)
    assert reasons(again) == ["ALREADY_ANSWERED"]

    # the requester: SMS, in-app notice, and the answer in their list
    [text] = await sms_for(services, f"ticket:{key_of(ticket)}:answered")
    assert text.phone == world.demo["lawyer-chen"].phone
    assert text.text == (
        f"【越秀法院】您好！您提交的12368催办诉求（案号：{case.case_number}，编号：{ticket['number']}）已答复，"
        "请登录广州法院AOL电子诉讼服务中心或广州微法院小程序查看答复并评价。"
    )
    assert text.recipient_key == person_key(world_ref(world, "lawyer-chen"))
    notices = (await gateway.query(NOTICES, as_="lawyer-chen"))["data"]["notifications"]["edges"]
    assert any(n["node"]["kind"] == "TICKET_ANSWERED" and n["node"]["body"] == text.text for n in notices)
    mine = await all_mine(gateway, "lawyer-chen")
    assert mine[ticket["id"]]["answer"] == "已排期，开庭传票将于下周送达。"

    bad = await gateway.query(RATE, {"id": ticket["id"], "rating": 6}, as_="lawyer-chen")
    assert codes(bad) == ["BAD_USER_INPUT"] and reasons(bad) == ["RATING_RANGE"]
    rated = await gateway.query(RATE, {"id": ticket["id"], "rating": 5, "comment": "答复及时"}, as_="lawyer-chen")
    assert (rated["data"]["rateTicket"]["rating"], rated["data"]["rateTicket"]["ratingComment"]) == (5, "答复及时")
    twice = await gateway.query(RATE, {"id": ticket["id"], "rating": 1}, as_="lawyer-chen")
    assert reasons(twice) == ["ALREADY_RATED"]

    closed = (await gateway.query(CLOSE, {"id": ticket["id"]}, token=clerk_token))["data"]["closeTicket"]
    assert closed["status"] == "CLOSED" and closed["closedAt"] and closed["rating"] == 5
    assert reasons(await gateway.query(CLOSE, {"id": ticket["id"]}, token=clerk_token)) == ["ALREADY_CLOSED"]
    node = "query ($id: ID!) { node(id: $id) { id ... on Ticket { status rating } } }"
    refetched = (await gateway.query(node, {"id": ticket["id"]}, as_="lawyer-chen"))["data"]["node"]
    assert refetched == {"id": ticket["id"], "status": "CLOSED", "rating": 5}
    assert codes(await gateway.query(node, {"id": ticket["id"]}, as_="lawyer-li")) == ["NOT_FOUND"]

    async with services.store.session(read_only=True) as session:
        actions = list(
            await session.scalars(
                select(AuditRecord.action).where(AuditRecord.subject_id == key_of(ticket)).order_by(AuditRecord.seq)
            )
        )
    assert actions == ["ticket.created", "ticket.answered", "ticket.rated", "ticket.closed"]


def world_ref(world: World, login: str) -> PersonRef:
    person = world.demo[login]
    return PersonRef(person.kind, person.number)


async def all_mine(gateway: GraphQLClient, login: str) -> dict[str, dict[str, Any]]:
    """Every ticket of ``login``, paging through myTickets."""
    found: dict[str, dict[str, Any]] = {}
    after = None
    while True:
        page = (await gateway.query(MINE, {"first": 5, "after": after}, as_=login))["data"]["myTickets"]
        found.update({e["node"]["id"]: e["node"] for e in page["edges"]})
        if not page["pageInfo"]["hasNextPage"]:
            assert len(found) == page["totalCount"]
            return found
        after = page["pageInfo"]["endCursor"]


async def test_a_ticket_without_a_case_goes_to_the_filing_division(
    gateway: GraphQLClient, world: World, settings: Settings
) -> None:
    ticket = await create(gateway, None, as_="party-wang", category="CONSULTATION", content="请问诉讼费如何缴纳？")
    head = head_of(world, YUEXIU, FILING_DIVISION)
    assert ticket["division"] == FILING_DIVISION and ticket["caseNumber"] is None
    assert [(h["staffId"], h["role"]) for h in ticket["handlers"]] == [(head.staff_id, "DIVISION_HEAD")]
    [text] = await sms_for(services_of(gateway), f"ticket:{key_of(ticket)}:assigned")
    assert text.phone == head.phone and text.text.startswith(
        f"【越秀法院】您有一件新的12368咨询诉求（编号：{ticket['number']}）（来件人：王芳）"
    ), "a ticket without a case is named by its number"

    # staff scope: the court's leaders may act, a division head of another division may not
    assert codes(await gateway.query(ANSWER, {"id": ticket["id"], "answer": "x"}, as_="head-0104")) == ["FORBIDDEN"]
    answered = await gateway.query(ANSWER, {"id": ticket["id"], "answer": "可网上缴费。"}, as_="leader-0104")
    assert answered["data"]["answerTicket"]["status"] == "ANSWERED"


async def test_the_ladder_end_to_end_as_the_demo_walks_it(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    """lawyer-chen urges, nobody answers: the division head's, then the court leaders' SMS; the ticket shows
    both and the 通报 counts it."""
    services = services_of(gateway)
    case = panel_case(cluster, world, "lawyer-chen", YUEXIU, skip=1)
    ticket = await create(gateway, case)
    due = china(ticket["dueAt"])
    scheduler = EscalationScheduler(services)
    await scheduler.run_once(due - timedelta(minutes=1))
    seen = (await gateway.query(TICKET, {"id": ticket["id"]}, as_="lawyer-chen"))["data"]["ticket"]
    assert seen["escalations"] == [], "not before the deadline"

    await scheduler.run_once(due + timedelta(minutes=1))
    head = head_of(world, YUEXIU, case.division)
    seen = (await gateway.query(TICKET, {"id": ticket["id"]}, token=token_of(world, settings, head)))["data"]["ticket"]
    assert [(e["level"], [r["staffId"] for r in e["recipients"]]) for e in seen["escalations"]] == [
        (1, [head.staff_id])
    ]
    assert china(seen["escalations"][0]["at"]) == due + timedelta(minutes=1)

    second = calendar_for(settings).deadline(due, 1)
    await scheduler.run_once(second + timedelta(minutes=1))
    seen = (await gateway.query(TICKET, {"id": ticket["id"]}, as_="leader-0104"))["data"]["ticket"]
    assert [e["level"] for e in seen["escalations"]] == [1, 2]
    assert sorted(r["staffId"] for r in seen["escalations"][1]["recipients"]) == sorted(
        s.staff_id for s in leaders_of(world, YUEXIU)
    )
    async with services.store.session(read_only=True) as session:
        texts = list(
            await session.scalars(
                select(SmsMessage.text).where(SmsMessage.kind == "DEADLINE_ESCALATED", SmsMessage.phone == head.phone)
            )
        )
    assert any(case.case_number in t and t.startswith("【越秀法院】") for t in texts)

    today = datetime.now(UTC).astimezone(CHINA_TZ).date()
    report = await gateway.query(REPORT, {"court": YUEXIU, "from": str(today), "to": str(today)}, as_="leader-0104")
    figures = report["data"]["ticketReport"]
    assert figures["courtCode"] == YUEXIU and figures["total"]["escalated"] >= 1
    division = next(r for r in figures["byDivision"] if r["division"] == case.division)
    assert division["received"] >= 1 and division["escalated"] >= 1

    # closed without an answer: counted as such (and as overdue, closed after the deadline), never answered
    before = figures["total"]
    closed = (await gateway.query(CLOSE, {"id": ticket["id"]}, as_="leader-0104"))["data"]["closeTicket"]
    assert closed["status"] == "CLOSED" and closed["answer"] is None
    after = (await gateway.query(REPORT, {"court": YUEXIU, "from": str(today), "to": str(today)}, as_="leader-0104"))[
        "data"
    ]["ticketReport"]["total"]
    assert after["closedUnanswered"] == before["closedUnanswered"] + 1
    assert (after["answeredOnTime"], after["answeredLate"]) == (before["answeredOnTime"], before["answeredLate"])
    assert after["overdue"] == before["overdue"], "overdue when it was closed, so still overdue"
    assert any(r["staffId"] == panel_handlers(case)[0].staff_id for r in figures["byHandler"])


# -- who may not ---------------------------------------------------------------------------------------


async def test_other_courts_other_users_and_other_roles_are_refused(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    case = panel_case(cluster, world, "lawyer-chen", YUEXIU)
    ticket = await create(gateway, case)
    variables = {"id": ticket["id"], "answer": "越权答复"}

    # another court's staff: the ticket does not exist for them
    assert codes(await gateway.query(ANSWER, variables, as_="clerk-01")) == ["NOT_FOUND"]
    assert codes(await gateway.query(CLOSE, {"id": ticket["id"]}, as_="judge-01")) == ["NOT_FOUND"]
    assert codes(await gateway.query(TICKET, {"id": ticket["id"]}, as_="clerk-01")) == ["NOT_FOUND"]
    listed = await gateway.query(COURT, {"overdue": False, "first": 100, "status": None}, as_="clerk-01")
    assert ticket["id"] not in [e["node"]["id"] for e in listed["data"]["courtTickets"]["edges"]]
    assert all(e["node"]["courtCode"] == "粤01" for e in listed["data"]["courtTickets"]["edges"])
    # a leader's token for another court is no leader here
    elsewhere = mint(world, settings, "leader-0104", court="粤0106")
    assert codes(await gateway.query(ANSWER, variables, token=elsewhere)) == ["NOT_FOUND"]

    # the same court, outside the ticket's scope
    assert codes(await gateway.query(ANSWER, variables, as_="archivist-0104")) == ["FORBIDDEN"]
    stranger = next(
        s
        for s in world.courts[YUEXIU].staff
        if s.role == StaffRole.CLERK and s.staff_id not in {h.staff_id for h in panel_handlers(case)}
    )
    assert codes(await gateway.query(ANSWER, variables, token=token_of(world, settings, stranger))) == ["FORBIDDEN"]
    assert codes(await gateway.query(TICKET, {"id": ticket["id"]}, token=token_of(world, settings, stranger))) == [
        "NOT_FOUND"
    ]

    # another user's ticket
    assert codes(await gateway.query(TICKET, {"id": ticket["id"]}, as_="lawyer-li")) == ["NOT_FOUND"]
    assert ticket["id"] not in await all_mine(gateway, "lawyer-li")
    answered = await gateway.query(ANSWER, {"id": ticket["id"], "answer": "已处理。"}, as_="leader-0104")
    assert answered["data"]["answerTicket"]["status"] == "ANSWERED"
    assert codes(await gateway.query(RATE, {"id": ticket["id"], "rating": 1}, as_="lawyer-li")) == ["NOT_FOUND"]

    # roles: parties do not answer, staff do not ask or rate, nobody anonymous
    assert codes(await gateway.query(ANSWER, variables, as_="party-wang")) == ["FORBIDDEN"]
    staff_create = await gateway.query(
        CREATE, {"court": YUEXIU, "category": "URGE", "content": "内部", "n": None}, as_="clerk-0104"
    )
    assert codes(staff_create) == ["FORBIDDEN"]
    assert codes(await gateway.query(RATE, {"id": ticket["id"], "rating": 5}, as_="clerk-0104")) == ["FORBIDDEN"]
    anonymous = await gateway.query(CREATE, {"court": YUEXIU, "category": "URGE", "content": "x", "n": None})
    assert codes(anonymous) == ["UNAUTHENTICATED"]
    assert codes(await gateway.query(MINE, {"first": 5}, as_="judge-0104")) == ["FORBIDDEN"]
    assert codes(await gateway.query(COURT, {"overdue": False, "first": 5}, as_="lawyer-chen")) == ["FORBIDDEN"]
    # a phone-only identity may still ask (any identity level)
    phone_only = mint(world, settings, "lawyer-chen", level="PHONE")
    asked = await gateway.query(
        CREATE, {"court": YUEXIU, "category": "SUGGESTION", "content": "建议", "n": None}, token=phone_only
    )
    assert asked["data"]["createTicket"]["status"] == "OPEN"


async def test_the_report_is_for_division_heads_and_leaders_of_that_court(
    gateway: GraphQLClient, world: World, settings: Settings
) -> None:
    period = {"court": YUEXIU, "from": "2026-01-01", "to": "2026-12-31"}
    assert codes(await gateway.query(REPORT, period, as_="clerk-0104")) == ["FORBIDDEN"]
    assert codes(await gateway.query(REPORT, period, as_="lawyer-chen")) == ["FORBIDDEN"]
    assert codes(await gateway.query(REPORT, {**period, "court": "粤01"}, as_="leader-0104")) == ["FORBIDDEN"]
    other_head = mint(world, settings, "head-0104", court="粤0106")
    assert codes(await gateway.query(REPORT, period, token=other_head)) == ["FORBIDDEN"]
    unknown = await gateway.query(REPORT, {**period, "court": "粤9999"}, as_="leader-0104")
    assert codes(unknown) == ["BAD_USER_INPUT"] and reasons(unknown) == ["UNKNOWN_COURT"]
    backwards = await gateway.query(REPORT, {**period, "from": "2026-12-31", "to": "2026-01-01"}, as_="leader-0104")
    assert reasons(backwards) == ["PERIOD"]

    # a division head sees their own division only
    mine = (await gateway.query(REPORT, period, as_="head-0104"))["data"]["ticketReport"]
    assert {r["division"] for r in mine["byDivision"]} <= {"民一庭"}


# -- bad input -------------------------------------------------------------------------------------------


async def test_bad_input_is_refused_with_a_reason(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    async def ask(**variables: Any) -> dict[str, Any]:
        base = {"court": YUEXIU, "category": "URGE", "content": "请尽快处理", "n": None}
        return await gateway.query(CREATE, {**base, **variables}, as_="lawyer-chen")

    # an unknown category is not in the schema: refused before anything runs, naming the enum
    inline = 'mutation { createTicket(court: "粤0104", category: GOSSIP, content: "x") { id } }'
    status, unknown = await gateway.post(
        inline, as_="lawyer-chen", headers={"Accept": "application/graphql-response+json"}
    )
    assert status == 400 and "data" not in unknown
    assert "TicketCategory" in unknown["errors"][0]["message"]
    assert reasons(await ask(content="   ")) == ["CONTENT_MISSING"]
    assert reasons(await ask(content="长" * 2001)) == ["CONTENT_TOO_LONG"]
    assert reasons(await ask(court="粤9999")) == ["UNKNOWN_COURT"]
    assert reasons(await ask(court="全国送达平台")) == ["UNKNOWN_COURT"], "the service platform takes no tickets"
    assert codes(await ask(n="not a case number")) == ["INVALID_CASE_NUMBER"]

    chens = {c.case_number for c in cases_of(cluster, world, "lawyer-chen", YUEXIU)}
    not_chens = next(c for c in cluster.court_state(YUEXIU).all_cases() if c.case_number not in chens)
    assert codes(await ask(n=not_chens.case_number)) == ["NOT_FOUND"]
    other_court = cases_of(cluster, world, "lawyer-chen", "粤0106")[0]
    assert reasons(await ask(n=other_court.case_number)) == ["CASE_OF_ANOTHER_COURT"]

    ticket = await create(gateway, None)
    staff_answer = await gateway.query(ANSWER, {"id": ticket["id"], "answer": " "}, as_="leader-0104")
    assert reasons(staff_answer) == ["ANSWER_MISSING"]
    wrong_kind = global_id("Filing", key_of(ticket))
    assert codes(await gateway.query(TICKET, {"id": wrong_kind}, as_="lawyer-chen")) == ["NOT_FOUND"]
    assert codes(await gateway.query(TICKET, {"id": "%%%"}, as_="lawyer-chen")) == ["BAD_USER_INPUT"]
    assert codes(await gateway.query(MINE, {"first": 5, "after": "garbage"}, as_="lawyer-chen")) == ["BAD_USER_INPUT"]


async def test_a_moved_gateway_clock_dates_and_times_tickets_over_graphql(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    """``services.clock`` is the gateway's "now" for every ticket a request creates, lists or shows."""
    services = services_of(gateway)
    real = services.clock
    created_at = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    case = panel_case(cluster, world, "lawyer-chen", YUEXIU, skip=2)
    async with background_paused(gateway.app):  # type: ignore[attr-defined]
        try:
            services.clock = lambda: created_at
            ticket = await create(gateway, case)
            assert datetime.fromisoformat(ticket["createdAt"]) == created_at
            assert ticket["overdue"] is False
            due_at = datetime.fromisoformat(ticket["dueAt"])
            services.clock = lambda: due_at + timedelta(minutes=1)
            shown = (await gateway.query(TICKET, {"id": ticket["id"]}, as_="lawyer-chen"))["data"]["ticket"]
            assert shown["overdue"] is True and shown["workingHoursLeft"] <= 0
        finally:
            services.clock = real
