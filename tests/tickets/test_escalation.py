"""Deadlines and the escalation ladder, at simulated times, on SQLite and PostgreSQL.

Tickets are created through the service with an explicit ``now`` (the real simulators answer for cases
and rosters), and the scheduler is run round by round at chosen moments: nothing before the deadline,
the division head just after it, the court leaders after the second threshold, each exactly once, also
with two schedulers (two store engines, as two gateway processes have) racing on the same database.
National Day 2026 (Oct 1–7 off; Sep 20, a Sunday, and Oct 10, a Saturday, are make-up working days)
puts both the deadline and the second threshold across the 调休.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.adapters.model import CHINA_TZ, Case, PersonRef, Staff, StaffRole
from gateway.cli import main
from gateway.config import Settings
from gateway.core import deadlines
from gateway.core.deadlines import EscalationScheduler
from gateway.identity import Viewer, viewer_from_claims
from gateway.services import Services, build_services
from gateway.store import Store
from gateway.store.audit import verify
from gateway.store.deadlines import EscalationRecord
from gateway.store.migrate import upgrade_async
from gateway.store.models import AuditRecord
from gateway.store.notifications import InAppNotification, SmsMessage
from gateway.store.testing import postgres_schema, sqlite_url
from gateway.tickets.service import (
    FILING_DIVISION,
    TicketCategory,
    TicketView,
    court_report,
    panel_handlers,
)
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from simulators.identities import demo_claims

POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="GATEWAY_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped"
)
YUEXIU = "粤0104"


def at(text: str) -> datetime:
    """A moment in court time (China Standard Time)."""
    return datetime.fromisoformat(text).replace(tzinfo=CHINA_TZ)


def viewer(world: World, settings: Settings, login: str, **overrides: Any) -> Viewer:
    return viewer_from_claims({**demo_claims(world, settings.seed_file, login), **overrides})


def staff_viewer(member: Staff, court: str) -> Viewer:
    """A staff member of the seeded court, signed in as themselves."""
    role = {StaffRole.PRESIDING_JUDGE: "JUDGE"}.get(member.role, member.role.value)
    return viewer_from_claims(
        {
            "sub": f"staff-{member.staff_id}",
            "name": member.name,
            "phone": member.phone,
            "roles": [role],
            "level": "FACE",
            "staff_id": member.staff_id,
            "court": court,
            "division": member.division,
        }
    )


def court_staff(world: World, court: str) -> tuple[Staff, ...]:
    return world.courts[court].staff


def head_of(world: World, court: str, division: str) -> Staff:
    return next(s for s in court_staff(world, court) if s.role == StaffRole.DIVISION_HEAD and s.division == division)


def leaders_of(world: World, court: str) -> list[Staff]:
    return [s for s in court_staff(world, court) if s.role == StaffRole.COURT_LEADER]


def cases_of(cluster: SimulatorCluster, world: World, login: str, court: str) -> list[Case]:
    person = world.demo[login]
    return cluster.court_state(court).cases_of(PersonRef(person.kind, person.number))


def panel_case(cluster: SimulatorCluster, world: World, login: str, court: str, *, skip: int = 0) -> Case:
    """One of the person's cases at the court, heard by a division other than 立案庭, whose panel has a
    clerk and a judge with phones."""
    found = [
        c
        for c in cases_of(cluster, world, login, court)
        if c.division != FILING_DIVISION
        and panel_handlers(c)
        and all(s.phone for s in panel_handlers(c))
        and any(s.role == StaffRole.CLERK for s in c.panel)
    ]
    return found[skip]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
async def own(
    request: pytest.FixtureRequest, tmp_path: Path, settings: Settings, cluster: SimulatorCluster
) -> AsyncIterator[Services]:
    """Services of their own on a new database, with no background workers: every round is the test's."""
    async with database(request.param, tmp_path) as url:
        await upgrade_async(url)
        services = build_services(Settings(court_overrides=settings.court_overrides, database_url=url))
        try:
            yield services
        finally:
            await services.registry.aclose()
            await services.cache.close()
            await services.store.dispose()


def database(kind: str, tmp_path: Path) -> Any:
    if kind == "postgresql":
        return postgres_schema(str(POSTGRES_URL))

    class _Sqlite:
        async def __aenter__(self) -> str:
            return sqlite_url(tmp_path)

        async def __aexit__(self, *exc: object) -> None:
            return None

    return _Sqlite()


async def urge(
    services: Services, who: Viewer, case: Case | None, created: str, *, category: TicketCategory = TicketCategory.URGE
) -> TicketView:
    return await services.tickets.create(
        who,
        court_code=YUEXIU,
        category=category,
        content="本案立案已满三个月，请尽快安排开庭。",
        case_number=case.case_number if case else None,
        now=at(created),
    )


async def sms_of(services: Services, dedupe_key: str) -> list[SmsMessage]:
    async with services.store.session(read_only=True) as session:
        query = select(SmsMessage).where(SmsMessage.dedupe_key == dedupe_key).order_by(SmsMessage.phone)
        return list(await session.scalars(query))


async def count(services: Services, model: Any, *where: Any) -> int:
    async with services.store.session(read_only=True) as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def deadline_id(services: Services, ticket: TicketView) -> str:
    async with services.store.session(read_only=True) as session:
        found = await deadlines.deadline_of(session, "ticket", ticket.id)
    assert found is not None
    return found.id


async def current(services: Services, who: Viewer, ticket: TicketView) -> TicketView:
    found = await services.tickets.get(who, ticket.id)
    assert found is not None
    return found


# -- deadlines on the State Council calendar ---------------------------------------------------------


async def test_deadlines_across_national_day_and_its_make_up_days(
    own: Services, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    chen = viewer(world, settings, "lawyer-chen")
    case = panel_case(cluster, world, "lawyer-chen", YUEXIU)
    # the last working day before National Day 2026: Oct 8 and 9 are the two working days after it
    before_holiday = await urge(own, chen, case, "2026-09-30 16:00")
    assert before_holiday.due_at == at("2026-10-09 17:30")
    # the make-up Saturday Oct 10: Monday Oct 12 and Tuesday Oct 13 follow
    make_up_saturday = await urge(own, chen, None, "2026-10-10 10:00")
    assert make_up_saturday.due_at == at("2026-10-13 17:30")
    # the make-up Sunday Sep 20 (a working day): Sep 21 and 22
    make_up_sunday = await urge(own, chen, case, "2026-09-20 09:00", category=TicketCategory.CONSULTATION)
    assert make_up_sunday.due_at == at("2026-09-22 17:30")
    # during the holiday: the first working day after it is Oct 8
    in_holiday = await urge(own, chen, None, "2026-10-03 11:00")
    assert in_holiday.due_at == at("2026-10-09 17:30")


async def test_deadlines_are_configured_per_court_and_category(
    tmp_path: Path, settings: Settings, cluster: SimulatorCluster, world: World
) -> None:
    url = sqlite_url(tmp_path)
    await upgrade_async(url)
    configured = Settings(
        court_overrides=settings.court_overrides,
        database_url=url,
        ticket_working_days={"粤0104:URGE": 1, "COMPLAINT": 5, "粤0105": 3},
    )
    services = build_services(configured)
    try:
        chen = viewer(world, settings, "lawyer-chen")
        case = panel_case(cluster, world, "lawyer-chen", YUEXIU)
        assert (await urge(services, chen, case, "2026-09-30 16:00")).due_at == at("2026-10-08 17:30")
        complaint = await urge(services, chen, case, "2026-09-30 16:00", category=TicketCategory.COMPLAINT)
        assert complaint.due_at == at("2026-10-13 17:30"), "Oct 8, 9, 10 (调休), 12, 13"
        consultation = await urge(services, chen, case, "2026-09-30 16:00", category=TicketCategory.CONSULTATION)
        assert consultation.due_at == at("2026-10-09 17:30"), "the default: 2"
    finally:
        await services.registry.aclose()
        await services.cache.close()
        await services.store.dispose()
    assert deadlines.configured_days(configured.ticket_working_days, "粤0105", "URGE", 2) == 3
    assert deadlines.configured_days(configured.ticket_working_days, "粤0106", "URGE", 2) == 2


# -- the ladder ------------------------------------------------------------------------------------------


async def test_overdue_tickets_escalate_to_the_division_head_then_the_court_leaders_once(
    own: Services, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    chen = viewer(world, settings, "lawyer-chen")
    case = panel_case(cluster, world, "lawyer-chen", YUEXIU)
    ticket = await urge(own, chen, case, "2026-09-30 16:00")
    assert ticket.due_at == at("2026-10-09 17:30")
    scheduler = EscalationScheduler(own)

    assert await scheduler.run_once(at("2026-10-08 10:00")) == 0
    assert await scheduler.run_once(at("2026-10-09 17:30")) == 0, "at the deadline it is not overdue yet"
    assert await scheduler.run_once(at("2026-10-09 17:31")) == 1
    assert await scheduler.run_once(at("2026-10-09 17:45")) == 0, "sent once"

    head = head_of(world, YUEXIU, case.division)
    handlers = "、".join(s.name for s in panel_handlers(case))
    level_one = await sms_of(own, f"deadline:{await deadline_id(own, ticket)}:escalated:1")
    assert ticket.number == "12368-粤0104-20260930-0001"
    assert [(m.phone, m.text) for m in level_one] == [
        (
            head.phone,
            f"【越秀法院】{case.case_number}的12368催办诉求（编号：{ticket.number}）已于10月9日17:30到期仍未办结"
            f"（承办人：{handlers}），请督促办理。详情请登录审判管理系统查看。",
        )
    ]
    seen = await current(own, chen, ticket)
    assert [(e.level, e.at, [r.staff_id for r in e.recipients]) for e in seen.escalations] == [
        (1, at("2026-10-09 17:31"), [head.staff_id])
    ]

    # the second threshold: one more working day, which is the make-up Saturday Oct 10
    assert await scheduler.run_once(at("2026-10-10 17:30")) == 0
    assert await scheduler.run_once(at("2026-10-10 17:31")) == 1
    leaders = leaders_of(world, YUEXIU)
    level_two = await sms_of(own, f"deadline:{await deadline_id(own, ticket)}:escalated:2")
    assert sorted(m.phone for m in level_two) == sorted(s.phone or "" for s in leaders)
    assert all(
        m.text == f"【越秀法院】{case.case_number}的12368催办诉求（编号：{ticket.number}）已于10月9日17:30到期仍未办结"
        f"（承办人：{handlers}），逾期已超过1个工作日，经庭长督办仍未办结，请督促办理。详情请登录审判管理系统查看。"
        for m in level_two
    )
    assert await scheduler.run_once(at("2026-10-30 09:00")) == 0, "the ladder has two rungs"

    seen = await current(own, chen, ticket)
    assert [(e.level, sorted(r.staff_id for r in e.recipients)) for e in seen.escalations] == [
        (1, [head.staff_id]),
        (2, sorted(s.staff_id for s in leaders)),
    ]
    # in-app notices went to the same seats
    async with own.store.session(read_only=True) as session:
        notices = list(
            await session.scalars(select(InAppNotification).where(InAppNotification.kind == "DEADLINE_ESCALATED"))
        )
    assert sorted(n.recipient_key for n in notices) == sorted(f"STAFF:{YUEXIU}:{s.staff_id}" for s in [head, *leaders])
    # and the audit log says so, intact
    escalated = await count(own, AuditRecord, AuditRecord.action == "ticket.escalated")
    assert escalated == 2
    async with own.store.session(read_only=True) as session:
        assert (await verify(session)).ok


async def test_an_answered_ticket_never_escalates(
    own: Services, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    chen = viewer(world, settings, "lawyer-chen")
    case = panel_case(cluster, world, "lawyer-chen", YUEXIU)
    ticket = await urge(own, chen, case, "2026-09-30 16:00")
    clerk = next(s for s in panel_handlers(case) if s.role == StaffRole.CLERK)
    answered = await own.tickets.answer(
        staff_viewer(clerk, YUEXIU), ticket.id, "已转承办法官，将于十月中旬排期。", now=at("2026-10-09 17:00")
    )
    assert answered.settled_at == at("2026-10-09 17:00")
    assert await EscalationScheduler(own).run_once(at("2026-10-20 09:00")) == 0
    assert (await current(own, chen, ticket)).escalations == ()


async def test_an_escalation_answered_late_stops_the_ladder(
    own: Services, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    chen = viewer(world, settings, "lawyer-chen")
    case = panel_case(cluster, world, "lawyer-chen", YUEXIU)
    ticket = await urge(own, chen, case, "2026-09-30 16:00")
    scheduler = EscalationScheduler(own)
    assert await scheduler.run_once(at("2026-10-10 09:00")) == 1
    head = head_of(world, YUEXIU, case.division)
    await own.tickets.answer(staff_viewer(head, YUEXIU), ticket.id, "已督办。", now=at("2026-10-10 10:00"))
    assert await scheduler.run_once(at("2026-10-12 09:00")) == 0, "no court leaders for an answered ticket"
    assert [e.level for e in (await current(own, chen, ticket)).escalations] == [1]


async def test_two_schedulers_racing_send_each_level_once(
    own: Services, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    chen = viewer(world, settings, "lawyer-chen")
    tickets = [
        await urge(own, chen, panel_case(cluster, world, "lawyer-chen", YUEXIU), "2026-09-30 16:00"),
        await urge(own, chen, panel_case(cluster, world, "lawyer-chen", YUEXIU, skip=1), "2026-09-30 16:05"),
        await urge(own, chen, None, "2026-09-30 16:10"),
    ]
    other = replace(own, store=Store(own.store.url))  # a second gateway process: its own engine and pool
    try:
        first, second = EscalationScheduler(own), EscalationScheduler(other)
        sent = await asyncio.gather(*(s.run_once(at("2026-10-12 09:00")) for s in (first, second)))
        assert sum(sent) == 2 * len(tickets), f"each of 2 levels once per ticket, not {sent}"
        again = await asyncio.gather(*(s.run_once(at("2026-10-12 10:00")) for s in (first, second)))
        assert again == [0, 0]
    finally:
        await other.store.dispose()

    assert await count(own, EscalationRecord) == 2 * len(tickets)
    assert await count(own, AuditRecord, AuditRecord.action == "ticket.escalated") == 2 * len(tickets)
    leaders = leaders_of(world, YUEXIU)
    texts = await count(own, SmsMessage, SmsMessage.kind == "DEADLINE_ESCALATED")
    # the panel tickets: their division head, then every leader; the 立案庭 ticket is handled by the 立案庭
    # head, who is not asked to urge themselves: every leader at both levels
    assert texts == 2 * (1 + len(leaders)) + 2 * len(leaders), "each level's recipients once each"
    no_case = await current(own, chen, tickets[2])
    assert no_case.division == FILING_DIVISION
    filing_head = head_of(world, YUEXIU, FILING_DIVISION)
    assert [h.staff_id for h in no_case.handlers] == [filing_head.staff_id]
    assert sorted(r.staff_id for r in no_case.escalations[0].recipients) == sorted(s.staff_id for s in leaders)


# -- subjects the scheduler does not know ------------------------------------------------------------


async def test_any_subject_can_be_tracked_and_escalated(own: Services, world: World) -> None:
    """A case binding (another workflow's subject) and one nobody registered wording for."""
    judge = next(s for s in court_staff(world, YUEXIU) if s.role == StaffRole.JUDGE and s.division == "民二庭")
    calendar = deadlines.calendar_for(own.settings)
    async with own.store.session() as session:
        binding = await deadlines.track(
            session,
            subject_type="binding",
            subject_id="B-1",
            court_code=YUEXIU,
            division="民二庭",
            handlers=[judge.staff_id],
            started_at=at("2026-11-20 10:00"),  # a Friday
            working_days=3,
            calendar=calendar,
            case_number="（2026）粤0104民初1号",
        )
        again = await deadlines.track(
            session,
            subject_type="binding",
            subject_id="B-1",
            court_code=YUEXIU,
            division="民二庭",
            handlers=[],
            started_at=at("2026-11-23 10:00"),
            working_days=9,
            calendar=calendar,
        )
        await deadlines.track(
            session,
            subject_type="something-new",
            subject_id="X-1",
            court_code=YUEXIU,
            division=None,
            handlers=[judge.staff_id],
            started_at=at("2026-11-20 10:00"),
            working_days=1,
            calendar=calendar,
        )
    assert binding.due_at == at("2026-11-25 17:30") and binding.handlers == (judge.staff_id,)
    assert again == binding, "tracking twice keeps the first deadline"

    scheduler = EscalationScheduler(own)
    # X-1 was due Mon Nov 23 17:30; with no division, the court leaders are its first rung too
    assert await scheduler.run_once(at("2026-11-24 09:00")) == 1
    async with own.store.session(read_only=True) as session:
        unknown = await deadlines.deadline_of(session, "something-new", "X-1")
        assert unknown is not None
        found = await deadlines.escalations_of(session, "something-new", ["X-1"])
    leaders = sorted(s.staff_id for s in leaders_of(world, YUEXIU))
    assert [sorted(r.staff_id for r in e.recipients) for e in found["X-1"]] == [leaders]
    texts = await sms_of(own, f"deadline:{unknown.id}:escalated:1")
    assert len(texts) == len(leaders)
    assert all(m.text.startswith("【越秀法院】待办事项已于11月23日17:30到期仍未办结") for m in texts), "generic wording"

    # the binding's level 1 and X-1's level 2 (one working day after Nov 23: Nov 24 17:30)
    assert await scheduler.run_once(at("2026-11-25 18:00")) == 2
    head = head_of(world, YUEXIU, "民二庭")
    [text] = await sms_of(own, f"deadline:{binding.id}:escalated:1")
    assert text.phone == head.phone
    assert text.text == (
        f"【越秀法院】（2026）粤0104民初1号的案件绑定申请已于11月25日17:30到期仍未办结（承办人：{judge.name}），"
        "请督促办理。详情请登录审判管理系统查看。"
    )

    async with own.store.session() as session:
        await deadlines.settle(session, subject_type="binding", subject_id="B-1", at=at("2026-11-26 09:00"))
        await deadlines.settle(session, subject_type="binding", subject_id="B-1", at=at("2026-11-27 09:00"))
        await deadlines.settle(session, subject_type="binding", subject_id="nothing", at=at("2026-11-27 09:00"))
    assert await scheduler.run_once(at("2026-12-10 09:00")) == 0, "B-1 is settled, X-1 is at the top"
    async with own.store.session(read_only=True) as session:
        settled = await deadlines.deadline_of(session, "binding", "B-1")
        ladder = await deadlines.escalations_of(session, "binding", ["B-1"])
    assert settled is not None and settled.settled_at == at("2026-11-26 09:00"), "the first settlement counts"
    assert [e.level for e in ladder["B-1"]] == [1]


# -- the 通报 ----------------------------------------------------------------------------------------


async def test_the_report_counts_a_hand_built_week(
    own: Services, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    """Week of Mon Nov 2 2026: A answered on time (24 h), B late (72 h, escalated once), C never answered
    (立案庭, escalated), D before the period; reported on Nov 10."""
    chen = viewer(world, settings, "lawyer-chen")
    case = panel_case(cluster, world, "lawyer-chen", YUEXIU)
    service = own.tickets
    a = await urge(own, chen, case, "2026-11-02 09:00")
    b = await urge(own, chen, case, "2026-11-02 10:00", category=TicketCategory.CONTACT_JUDGE)
    c = await urge(own, chen, None, "2026-11-03 09:00", category=TicketCategory.CONSULTATION)
    await urge(own, chen, case, "2026-10-30 09:00")  # D: before the period, answered never
    assert (a.due_at, b.due_at, c.due_at) == (at("2026-11-04 17:30"), at("2026-11-04 17:30"), at("2026-11-05 17:30"))

    clerk = staff_viewer(next(s for s in panel_handlers(case) if s.role == StaffRole.CLERK), YUEXIU)
    await service.answer(clerk, a.id, "已答复。", now=at("2026-11-03 09:00"))
    scheduler = EscalationScheduler(own)
    await scheduler.run_once(at("2026-11-05 09:00"))  # B (and D) overdue: level 1
    await service.answer(clerk, b.id, "已联系法官。", now=at("2026-11-05 10:00"))
    await scheduler.run_once(at("2026-11-06 09:00"))  # C overdue: level 1; B answered: no level 2

    report = await court_report(
        own.store, YUEXIU, at("2026-11-01 00:00").date(), at("2026-11-07 00:00").date(), now=at("2026-11-10 12:00")
    )
    total = report.total
    assert (total.received, total.settled_on_time, total.settled_late, total.overdue, total.escalated) == (
        3,
        1,
        1,
        1,
        2,
    )
    assert total.mean_hours_to_settle == 48.0

    divisions = {r.division: r.figures for r in report.by_division}
    assert set(divisions) == {case.division, FILING_DIVISION}
    panel = divisions[case.division]
    assert (panel.received, panel.settled_on_time, panel.settled_late, panel.overdue, panel.escalated) == (
        2,
        1,
        1,
        0,
        1,
    )
    assert panel.mean_hours_to_settle == 48.0
    desk = divisions[FILING_DIVISION]
    assert (desk.received, desk.settled_on_time, desk.settled_late, desk.overdue, desk.escalated) == (1, 0, 0, 1, 1)
    assert desk.mean_hours_to_settle is None

    handlers = {r.staff_id: r for r in report.by_handler}
    filing_head = head_of(world, YUEXIU, FILING_DIVISION)
    assert set(handlers) == {s.staff_id for s in panel_handlers(case)} | {filing_head.staff_id}
    for member in panel_handlers(case):
        row = handlers[member.staff_id]
        assert row.name == member.name and row.division == member.division
        assert (row.figures.received, row.figures.settled_on_time, row.figures.settled_late) == (2, 1, 1)
    assert handlers[filing_head.staff_id].figures.overdue == 1

    # a division head's 通报 is their division's
    head = staff_viewer(head_of(world, YUEXIU, case.division), YUEXIU)
    own_division = await service.report(head, YUEXIU, report.start, report.end, now=at("2026-11-10 12:00"))
    assert [r.division for r in own_division.by_division] == [case.division]
    assert own_division.total.received == 2


# -- the CLI -------------------------------------------------------------------------------------------


async def test_cli_runs_a_round_at_a_given_time_and_prints_the_report(
    own: Services,
    cluster: SimulatorCluster,
    world: World,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    chen = viewer(world, settings, "lawyer-chen")
    case = panel_case(cluster, world, "lawyer-chen", YUEXIU)
    await urge(own, chen, case, "2026-09-30 16:00")
    monkeypatch.setenv("GATEWAY_DATABASE_URL", own.store.url.render_as_string(hide_password=False))
    for court in settings.courts:
        prefix = f"GATEWAY_COURT_OVERRIDES__{court.slug.upper()}__"
        monkeypatch.setenv(prefix + "BASE_URL", settings.court(court.code).base_url)

    await asyncio.to_thread(main, ["tickets", "escalate", "--now", "2026-10-09T17:00"])
    assert capsys.readouterr().out.strip() == "0 escalation(s) sent at 2026-10-09T17:00+08:00"
    await asyncio.to_thread(main, ["tickets", "escalate", "--now", "2026-10-12T09:00:00+08:00"])
    assert capsys.readouterr().out.strip() == "2 escalation(s) sent at 2026-10-12T09:00+08:00"
    await asyncio.to_thread(main, ["tickets", "escalate", "--now", "2026-10-12T09:00:00+08:00"])
    assert capsys.readouterr().out.startswith("0 escalation(s)"), "a second round sends nothing"

    await asyncio.to_thread(main, ["tickets", "report", YUEXIU, "2026-09-01", "2026-09-30"])
    out = capsys.readouterr().out
    assert out.startswith(f"12368 通报 {YUEXIU} 2026-09-01 – 2026-09-30")
    division_line = next(line for line in out.splitlines() if line.startswith(case.division))
    assert division_line.split() == [case.division, "1", "0", "0", "1", "1", "-", "0"]
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.split() == ["total", "1", "0", "0", "1", "1", "-", "0"]
    assert "closed unanswered" in out


# -- loose ends: closed unanswered, the head who is late, numbers to quote -----------------------------


async def test_a_ticket_closed_without_an_answer_is_never_counted_as_answered(
    own: Services, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    """Week of Mon Nov 2 2026, all due Wed Nov 4 17:30: E closed unanswered on time, F closed unanswered
    after its deadline, G answered on time and then closed; reported on Nov 10."""
    chen = viewer(world, settings, "lawyer-chen")
    case = panel_case(cluster, world, "lawyer-chen", YUEXIU)
    clerk = staff_viewer(next(s for s in panel_handlers(case) if s.role == StaffRole.CLERK), YUEXIU)
    e = await urge(own, chen, case, "2026-11-02 09:00")
    f = await urge(own, chen, case, "2026-11-02 10:00")
    g = await urge(own, chen, case, "2026-11-02 11:00")
    await own.tickets.close(clerk, e.id, now=at("2026-11-03 09:00"))
    await own.tickets.close(clerk, f.id, now=at("2026-11-06 09:00"))
    await own.tickets.answer(clerk, g.id, "已答复。", now=at("2026-11-02 15:00"))
    await own.tickets.close(clerk, g.id, now=at("2026-11-09 09:00"))

    async with own.store.session(read_only=True) as session:
        settled = await deadlines.deadlines_of(session, "ticket", [e.id, f.id, g.id])
    assert [settled[t.id].settlement for t in (e, f, g)] == [
        deadlines.Settlement.CLOSED_UNANSWERED,
        deadlines.Settlement.CLOSED_UNANSWERED,
        deadlines.Settlement.ANSWERED,
    ]
    report = await court_report(
        own.store, YUEXIU, at("2026-11-01 00:00").date(), at("2026-11-07 00:00").date(), now=at("2026-11-10 12:00")
    )
    total = report.total
    assert (total.received, total.settled_on_time, total.settled_late, total.closed_unanswered, total.overdue) == (
        3,
        1,
        0,
        2,
        1,
    ), "only G was answered; F was overdue when it was closed"
    assert total.mean_hours_to_settle == 4.0, "over the answered one only"
    for member in panel_handlers(case):
        row = next(r for r in report.by_handler if r.staff_id == member.staff_id).figures
        assert (row.settled_on_time, row.closed_unanswered, row.overdue) == (1, 2, 1)


async def test_a_ticket_handled_by_the_filing_division_head_escalates_past_them(
    own: Services, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    """A ticket without a case goes to the 立案庭 head; when it lapses, "请督促办理" goes to the court
    leaders, never to the head who is late, and the ladder still sends each level once."""
    chen = viewer(world, settings, "lawyer-chen")
    ticket = await urge(own, chen, None, "2026-11-02 09:00")
    filing_head = head_of(world, YUEXIU, FILING_DIVISION)
    assert [h.staff_id for h in ticket.handlers] == [filing_head.staff_id]
    scheduler = EscalationScheduler(own)
    assert await scheduler.run_once(at("2026-11-04 18:00")) == 1
    leaders = leaders_of(world, YUEXIU)
    level_one = await sms_of(own, f"deadline:{await deadline_id(own, ticket)}:escalated:1")
    assert sorted(m.phone for m in level_one) == sorted(s.phone or "" for s in leaders)
    assert filing_head.phone not in {m.phone for m in level_one}
    assert all(f"（承办人：{filing_head.name}）" in m.text for m in level_one), "it names the one who is late"
    assert await scheduler.run_once(at("2026-11-06 09:00")) == 1
    seen = await current(own, chen, ticket)
    assert [(e.level, sorted(r.staff_id for r in e.recipients)) for e in seen.escalations] == [
        (1, sorted(s.staff_id for s in leaders)),
        (2, sorted(s.staff_id for s in leaders)),
    ]
    assert filing_head.staff_id not in {r.staff_id for e in seen.escalations for r in e.recipients}


async def test_tickets_get_numbers_to_quote_once_each_even_when_created_at_once(
    own: Services, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    """Twelve tickets at once at one court on one day: 0001 … 0012, none twice; the next day starts again;
    the texts about a ticket without a case name it by its number."""
    chen = viewer(world, settings, "lawyer-chen")
    created = await asyncio.gather(*(urge(own, chen, None, "2026-12-07 10:00") for _ in range(12)))
    assert sorted(t.number for t in created) == [f"12368-粤0104-20261207-{n:04d}" for n in range(1, 13)]
    late_evening = await urge(own, chen, None, "2026-12-07 23:59")
    assert late_evening.number == "12368-粤0104-20261207-0013", "the day is China's"
    next_day = await urge(own, chen, None, "2026-12-08 00:01")
    assert next_day.number == "12368-粤0104-20261208-0001"
    assert (await current(own, chen, next_day)).number == next_day.number

    head = head_of(world, YUEXIU, FILING_DIVISION)
    [assigned] = await sms_of(own, f"ticket:{next_day.id}:assigned")
    assert assigned.phone == head.phone
    assert f"您有一件新的12368催办诉求（编号：{next_day.number}）" in assigned.text
    answered = await own.tickets.answer(staff_viewer(head, YUEXIU), next_day.id, "已答复。", now=at("2026-12-08 09:00"))
    [text] = await sms_of(own, f"ticket:{answered.id}:answered")
    assert text.text == (
        f"【越秀法院】您好！您提交的12368催办诉求（编号：{next_day.number}）已答复，"
        "请登录广州法院AOL电子诉讼服务中心或广州微法院小程序查看答复并评价。"
    )
    await EscalationScheduler(own).run_once(at("2026-12-10 18:00"))
    escalated = await sms_of(own, f"deadline:{await deadline_id(own, created[0])}:escalated:1")
    assert escalated and all(
        m.text.startswith(f"【越秀法院】12368催办诉求（编号：{created[0].number}）") for m in escalated
    )


async def test_the_gateways_clock_stamps_tickets_and_times_the_escalation_rounds(
    own: Services, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    """Calls that name no time take ``services.clock``: a test that fixes the gateway's clock is not
    overtaken by the real date (the ticket would be stamped today and the round run today)."""
    chen = viewer(world, settings, "lawyer-chen")
    case = panel_case(cluster, world, "lawyer-chen", YUEXIU)
    own.clock = lambda: at("2026-09-30 16:00")
    ticket = await own.tickets.create(
        chen, court_code=YUEXIU, category=TicketCategory.URGE, content="请尽快安排开庭。", case_number=case.case_number
    )
    assert (ticket.created_at, ticket.due_at) == (at("2026-09-30 16:00"), at("2026-10-09 17:30"))
    scheduler = EscalationScheduler(own)
    own.clock = lambda: at("2026-10-09 17:31")
    assert await scheduler.run_once() == 1, "level 1 only: the real date is a year past both levels"
    assert [(e.level, e.at) for e in (await current(own, chen, ticket)).escalations] == [(1, at("2026-10-09 17:31"))]
