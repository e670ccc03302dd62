"""The jsonrpc-sign family: its simulator and its adapter against each other.

What a user would notice if this family went wrong: every call refused because our signature or clock
differs from the court's (or, worse, a forged or replayed call accepted), a case list that skips or
repeats cases across pages, a case that differs from what the court holds, a long batch cut off at the
court's limit, "court busy" reported as "court down", a filing or signature recorded twice, a change
missed because the feed had more than one page, a roster read short, a lawyer entered twice.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest

from adapters.basic_courts.jsonrpc_sign import JsonRpcSignAdapter
from gateway.adapters.errors import (
    CourtAuthFailed,
    CourtRateLimited,
    CourtRejected,
    CourtUnavailable,
    NotFoundAtCourt,
)
from gateway.adapters.model import (
    CHINA_TZ,
    Agent,
    Attachment,
    Case,
    CaseScope,
    CaseStatus,
    ChangeKind,
    Filing,
    FilingKind,
    PersonRef,
    ServedDocument,
    Signature,
)
from gateway.config import Settings
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from simulators.state import CourtState

COURT = "粤0104"  # 越秀
ENDPOINT = "/gateway.do"


@pytest.fixture
async def adapter(settings: Settings, cluster: SimulatorCluster) -> AsyncIterator[JsonRpcSignAdapter]:
    async with JsonRpcSignAdapter(settings.court(COURT)) as adapter:
        yield adapter


def court(cluster: SimulatorCluster, code: str = COURT) -> CourtState:
    return cluster.court_state(code)


def person(world: World, login: str) -> PersonRef:
    p = world.demo[login]
    return PersonRef(p.kind, p.number)


def bystander_cases(state: CourtState, status: CaseStatus | None = None) -> list[Case]:
    """Cases of nobody the demo or contract tests look at, so changing them disturbs no other test."""
    demo = {p.number for p in state.world.demo.values()}
    return [
        c
        for c in state.all_cases()
        if (status is None or c.status == status)
        and not ({p.id_number for p in c.parties} | {a.licence_number for a in c.agents}) & demo
    ]


# -- the raw wire, built by hand the way a developer would try the service ---------------------------------


def md5_sign(fields: dict[str, str], secret: str) -> str:
    joined = "&".join(f"{k}={v}" for k, v in sorted(fields.items()))
    return hashlib.md5((secret + joined + secret).encode("utf-8")).hexdigest().upper()


def signed_fields(
    settings: Settings,
    method: str,
    data: dict[str, Any],
    *,
    sent_at: datetime | None = None,
    app_key: str | None = None,
) -> dict[str, str]:
    credentials = settings.court(COURT).credentials
    fields = {
        "method": method,
        "appKey": app_key or credentials["app_key"],
        "timestamp": (sent_at or datetime.now(CHINA_TZ)).strftime("%Y-%m-%d %H:%M:%S"),
        "data": json.dumps(data, ensure_ascii=False),
    }
    return {**fields, "sign": md5_sign(fields, credentials["app_secret"])}


async def raw_post(settings: Settings, fields: dict[str, str]) -> dict[str, Any]:
    """POST the form; the family answers HTTP 200 whatever happened."""
    url = settings.court(COURT).base_url + ENDPOINT
    async with aiohttp.ClientSession() as http, http.post(url, data=fields) as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json(content_type=None)
        return body


async def test_a_correctly_signed_call_is_answered(settings: Settings, cluster: SimulatorCluster) -> None:
    case = court(cluster).all_cases()[0]
    body = await raw_post(settings, signed_fields(settings, "court.case.getByAh", {"ah": case.case_number}))
    assert (body["code"], body["msg"]) == ("0000", "成功")
    assert body["data"]["ajbh"] == case.case_id
    filed = datetime(case.filed_on.year, case.filed_on.month, case.filed_on.day, tzinfo=CHINA_TZ)
    assert body["data"]["larq"] == int(filed.timestamp() * 1000), "dates are epoch ms of Beijing midnight"


async def test_data_changed_after_signing_is_rejected(settings: Settings, cluster: SimulatorCluster) -> None:
    cases = court(cluster).all_cases()
    fields = signed_fields(settings, "court.case.getByAh", {"ah": cases[0].case_number})
    forged = {**fields, "data": json.dumps({"ah": cases[1].case_number}, ensure_ascii=False)}
    body = await raw_post(settings, forged)
    assert body["code"] == "E1001" and body["data"] is None
    smuggled = {**fields, "pageSize": "500"}
    assert (await raw_post(settings, smuggled))["code"] == "E1001", "every field is covered by the sign"
    assert (await raw_post(settings, fields))["code"] == "0000"


async def test_a_stale_timestamp_is_rejected_even_when_correctly_signed(
    settings: Settings, cluster: SimulatorCluster
) -> None:
    case = court(cluster).all_cases()[0]
    stale = datetime.now(CHINA_TZ) - timedelta(minutes=10)
    body = await raw_post(
        settings, signed_fields(settings, "court.case.getByAh", {"ah": case.case_number}, sent_at=stale)
    )
    assert body["code"] == "E1002"
    recent = datetime.now(CHINA_TZ) - timedelta(minutes=4)
    body = await raw_post(
        settings, signed_fields(settings, "court.case.getByAh", {"ah": case.case_number}, sent_at=recent)
    )
    assert body["code"] == "0000", "within five minutes is fine"


async def test_an_unknown_app_key_is_rejected(settings: Settings, cluster: SimulatorCluster) -> None:
    body = await raw_post(settings, signed_fields(settings, "court.case.getByAh", {"ah": "x"}, app_key="stranger"))
    assert body["code"] == "E1003"


async def test_the_courts_limits_are_parameter_errors(
    settings: Settings, world: World, cluster: SimulatorCluster
) -> None:
    chen = world.demo["lawyer-chen"].number
    too_big_page = {"zyzh": chen, "pageNo": 1, "pageSize": 51}
    assert (await raw_post(settings, signed_fields(settings, "court.case.list", too_big_page)))["code"] == "E2001"
    ids = [c.case_id for c in court(cluster).all_cases()[:101]]
    too_big_batch = {"ajbhList": ids}
    assert (await raw_post(settings, signed_fields(settings, "court.case.batchGet", too_big_batch)))["code"] == "E2001"
    ok = await raw_post(settings, signed_fields(settings, "court.case.batchGet", {"ajbhList": ids[:100]}))
    assert ok["code"] == "0000" and len(ok["data"]["list"]) == 100


async def test_the_staff_case_list_is_signed_paged_by_fifty_and_takes_one_of_rybh_or_bm(
    settings: Settings, cluster: SimulatorCluster
) -> None:
    """court.case.listByStaff: a person (rybh) or a division (bm), never both; pages of at most 50."""
    state = court(cluster)
    every = state.cases_in_scope(CaseScope())
    assert len(every) > 50
    member, division = every[0].panel[0].staff_id, every[0].division

    async def list_by_staff(data: dict[str, Any]) -> dict[str, Any]:
        return await raw_post(settings, signed_fields(settings, "court.case.listByStaff", data))

    body = await list_by_staff({"pageNo": 2, "pageSize": 50})
    assert body["code"] == "0000" and body["data"]["total"] == len(every), "neither: the whole court"
    assert [aj["ajbh"] for aj in body["data"]["list"]] == [c.case_id for c in every[50:100]]
    body = await list_by_staff({"rybh": member})
    assert body["code"] == "0000" and body["data"]["total"] == len(state.cases_in_scope(CaseScope(staff_id=member)))
    assert (await list_by_staff({"bm": division, "pageSize": 51}))["code"] == "E2001"
    assert (await list_by_staff({"rybh": member, "bm": division}))["code"] == "E2001"
    forged = {**signed_fields(settings, "court.case.listByStaff", {"bm": division}), "data": "{}"}
    assert (await raw_post(settings, forged))["code"] == "E1001", "signed like every other method"


# -- credentials and clocks, as the adapter meets them -------------------------------------------------------


async def test_a_wrong_app_secret_is_an_auth_failure(
    settings: Settings, world: World, cluster: SimulatorCluster
) -> None:
    config = settings.court(COURT)
    wrong = config.model_copy(update={"credentials": {**config.credentials, "app_secret": "not-the-secret"}})
    async with JsonRpcSignAdapter(wrong) as adapter:
        with pytest.raises(CourtAuthFailed) as error:
            await adapter.list_cases(person(world, "lawyer-chen"))
    assert error.value.court_code == COURT
    assert "E1001" in error.value.message


async def test_a_court_clock_ten_minutes_off_is_an_auth_failure(
    adapter: JsonRpcSignAdapter, world: World, cluster: SimulatorCluster
) -> None:
    state = court(cluster)
    state.time_offset = timedelta(minutes=10)
    try:
        with pytest.raises(CourtAuthFailed) as error:
            await adapter.list_cases(person(world, "lawyer-chen"))
    finally:
        state.time_offset = timedelta()
    assert "E1002" in error.value.message


# -- reads ----------------------------------------------------------------------------------------------------


async def test_a_lawyers_cases_page_by_page_are_the_courts_list(
    adapter: JsonRpcSignAdapter, world: World, cluster: SimulatorCluster
) -> None:
    who = person(world, "lawyer-chen")
    expected = court(cluster).cases_of(who)
    assert len(expected) > 2, "the seed gives lawyer-chen several cases here"
    before = court(cluster).counters["list_cases"]
    cases: list[Case] = []
    position: str | None = None
    totals = set()
    while True:
        page = await adapter.list_cases(who, position=position, limit=2)
        assert len(page.cases) <= 2
        cases += page.cases
        totals.add(page.total)
        if page.next_position is None:
            break
        position = page.next_position
    assert cases == expected, "newest filing first, nothing skipped or repeated"
    assert totals == {len(expected)}
    assert court(cluster).counters["list_cases"] - before == -(-len(expected) // 2), "one call per page"


async def test_a_limit_above_the_courts_maximum_is_capped(
    adapter: JsonRpcSignAdapter, world: World, cluster: SimulatorCluster
) -> None:
    who = person(world, "lawyer-chen")
    page = await adapter.list_cases(who, limit=500)
    assert list(page.cases) == court(cluster).cases_of(who)[:50]


async def test_a_position_from_elsewhere_is_rejected(adapter: JsonRpcSignAdapter, world: World) -> None:
    with pytest.raises(CourtRejected):
        await adapter.list_cases(person(world, "lawyer-chen"), position="cursor:abc")


async def test_a_long_batch_is_chunked_and_comes_back_in_the_order_asked(
    adapter: JsonRpcSignAdapter, cluster: SimulatorCluster
) -> None:
    state = court(cluster)
    every = state.all_cases()
    assert len(every) > 200
    wanted = [c.case_id for c in reversed(every)]
    asked = [*wanted[:5], "no-such-case", *wanted[5:], wanted[0]]
    before = state.counters["get_cases"]
    got = await adapter.get_cases(asked)
    assert got == [state.case(i) for i in asked if i != "no-such-case"]
    assert state.counters["get_cases"] - before == -(-len(wanted) // 100), "batches of 100, duplicates asked once"
    assert await adapter.get_cases([]) == []


async def test_a_case_is_found_by_its_number(adapter: JsonRpcSignAdapter, cluster: SimulatorCluster) -> None:
    case = next(c for c in court(cluster).all_cases() if c.hearings and c.related_case_numbers)
    assert await adapter.find_case(case.case_number) == case
    assert await adapter.find_case(case.case_number.replace("号", "999999号")) is None


async def test_served_documents_are_the_courts_records(
    adapter: JsonRpcSignAdapter, world: World, cluster: SimulatorCluster
) -> None:
    for login in ("lawyer-chen", "party-wang"):
        who = person(world, login)
        documents = await adapter.list_documents(who)
        assert documents == court(cluster).documents_of(who)
        assert documents and {d.addressee for d in documents} == {who}


async def test_case_files_and_material_bytes_are_the_courts(
    adapter: JsonRpcSignAdapter, cluster: SimulatorCluster
) -> None:
    state = court(cluster)
    case = state.all_cases()[0]
    volumes = await adapter.list_volumes(case.case_id)
    assert tuple(volumes) == state.volumes(case.case_id)
    material = volumes[0].materials[-1]
    content = await adapter.read_material(case.case_id, material.material_id)
    assert content.content == state.material(case.case_id, material.material_id)
    assert content.content.startswith(b"%PDF")
    with pytest.raises(NotFoundAtCourt):
        await adapter.read_material(case.case_id, "no-such-material")
    with pytest.raises(NotFoundAtCourt):
        await adapter.list_volumes("no-such-case")


# -- faults ---------------------------------------------------------------------------------------------------


async def test_rate_limiting_is_told_apart_from_failure(
    adapter: JsonRpcSignAdapter, world: World, sims: SimulatorCluster
) -> None:
    await sims.set_faults(COURT, rate_limit_per_s=0.001)
    with pytest.raises(CourtRateLimited) as error:
        await adapter.list_cases(person(world, "lawyer-chen"))
    assert error.value.court_code == COURT and error.value.retryable


async def test_a_system_error_is_unavailable(adapter: JsonRpcSignAdapter, world: World, sims: SimulatorCluster) -> None:
    await sims.set_faults(COURT, error_rate=1.0)
    with pytest.raises(CourtUnavailable) as error:
        await adapter.list_cases(person(world, "lawyer-chen"))
    assert "E9999" in error.value.message


async def test_a_court_that_is_down_is_unavailable(
    adapter: JsonRpcSignAdapter, world: World, sims: SimulatorCluster
) -> None:
    await sims.set_outage(COURT, True)
    with pytest.raises(CourtUnavailable):
        await adapter.list_cases(person(world, "lawyer-chen"))


# -- writes ---------------------------------------------------------------------------------------------------


def _filing(case: Case, key: str, content: bytes) -> Filing:
    lawyer = case.agents[0] if case.agents else None
    return Filing(
        idempotency_key=key,
        case_id=case.case_id,
        case_number=case.case_number,
        kind=FilingKind.EVIDENCE,
        title="补充证据材料 & 质证意见=附件+说明 100%",  # characters that mean something in a form body
        filer_name=lawyer.name if lawyer else case.parties[0].name,
        filer_id_number=lawyer.licence_number if lawyer else case.parties[0].id_number,
        attachments=(Attachment("证据目录.pdf", "application/pdf", content),),
    )


async def test_a_filing_delivered_twice_is_recorded_once(
    adapter: JsonRpcSignAdapter, cluster: SimulatorCluster
) -> None:
    state = court(cluster)
    case = bystander_cases(state)[0]
    filing = _filing(case, str(uuid.uuid4()), b"%PDF-1.4 evidence \x00\xff")
    receipt = await adapter.submit_filing(filing)
    assert await adapter.submit_filing(filing) == receipt
    record = state.filings[filing.idempotency_key]
    assert record.deliveries == 2 and record.receipt.receipt_number == receipt.receipt_number
    assert record.filing == filing, "title and bytes arrive exactly as sent"

    other = _filing(case, filing.idempotency_key, b"%PDF-1.4 something else")
    with pytest.raises(CourtRejected) as error:
        await adapter.submit_filing(other)
    assert type(error.value) is CourtRejected and "E4090" in error.value.message
    assert state.filings[filing.idempotency_key].deliveries == 2

    with pytest.raises(NotFoundAtCourt):
        await adapter.submit_filing(replace(filing, idempotency_key=str(uuid.uuid4()), case_id="no-such-case"))


async def test_a_document_signed_twice_keeps_the_first_signature(
    adapter: JsonRpcSignAdapter, cluster: SimulatorCluster
) -> None:
    state = court(cluster)
    doc = _unsigned_document(state)
    first_at = datetime.now(CHINA_TZ).replace(microsecond=123456)
    first = Signature(str(uuid.uuid4()), doc.document_id, doc.addressee_name, doc.addressee.number, "FACE", first_at)
    receipt = await adapter.sign_document(first)
    assert receipt.signed_at == first_at.replace(microsecond=0), "the court records the first signature's second"

    later = Signature(
        str(uuid.uuid4()),
        doc.document_id,
        doc.addressee_name,
        doc.addressee.number,
        "REAL_NAME",
        first_at + timedelta(hours=1),
        "E_SEAL",
    )
    assert await adapter.sign_document(later) == receipt
    record = state.signatures[doc.document_id]
    assert record.deliveries == 2
    assert (record.signature.identity_level, record.signature.method) == ("FACE", "ONLINE_CONFIRMATION")
    listed = {d.document_id: d for d in await adapter.list_documents(doc.addressee)}
    assert listed[doc.document_id].signed_at == receipt.signed_at


async def test_signing_someone_elses_document_is_rejected(
    adapter: JsonRpcSignAdapter, cluster: SimulatorCluster
) -> None:
    doc = _unsigned_document(court(cluster))
    stranger = Signature(
        str(uuid.uuid4()), doc.document_id, "张三", "440104199001011234", "FACE", datetime.now(CHINA_TZ)
    )
    with pytest.raises(CourtRejected):
        await adapter.sign_document(stranger)
    assert doc.document_id not in court(cluster).signatures


def _unsigned_document(state: CourtState) -> ServedDocument:
    for case in bystander_cases(state):
        for doc in state.case_documents(case.case_id):
            if doc.signed_at is None and doc.document_id not in state.signatures:
                return doc
    raise AssertionError("no unsigned document at the court")


# -- the change feed ------------------------------------------------------------------------------------------


async def test_the_change_feed_reports_staff_actions_once(
    adapter: JsonRpcSignAdapter, cluster: SimulatorCluster
) -> None:
    state = court(cluster)
    cursor = (await adapter.changes(None)).cursor
    case = bystander_cases(state, CaseStatus.IN_TRIAL)[0]
    desk = cluster.desk(COURT)
    client = case.parties[0]
    desk.add_agent(case.case_id, Agent("周律师", "14401202010300999", "广东越秀律师事务所", client.id_number))
    hearing = desk.schedule_hearing(case.case_id, datetime(2026, 12, 8, 9, 30, tzinfo=CHINA_TZ), "第3法庭")

    page = await adapter.changes(cursor)
    assert [(e.kind, e.case_id, e.case_number) for e in page.events] == [
        (ChangeKind.AGENT_ADDED, case.case_id, case.case_number),
        (ChangeKind.HEARING_SCHEDULED, case.case_id, case.case_number),
    ]
    assert page.events[0].licence_number == "14401202010300999"
    assert page.events[1].hearing_id == hearing.hearing_id
    truth = state.events[-2:]
    for got, event in zip(page.events, truth, strict=True):
        assert got.event_id == event.event_id
        assert abs(got.occurred_at - event.occurred_at) < timedelta(milliseconds=1)
        assert got.occurred_at.tzinfo == CHINA_TZ
    assert (await adapter.changes(page.cursor)).events == ()


async def test_a_feed_longer_than_one_page_is_read_to_the_end(
    adapter: JsonRpcSignAdapter, cluster: SimulatorCluster
) -> None:
    state = court(cluster)
    cursor = (await adapter.changes(None)).cursor
    case = bystander_cases(state, CaseStatus.IN_TRIAL)[1]
    desk = cluster.desk(COURT)
    start = datetime(2027, 1, 4, 9, 0, tzinfo=CHINA_TZ)
    hearings = [desk.schedule_hearing(case.case_id, start + timedelta(days=n)) for n in range(130)]
    before = state.counters["changes"]
    page = await adapter.changes(cursor)
    assert [e.hearing_id for e in page.events] == [h.hearing_id for h in hearings]
    assert state.counters["changes"] - before == 2, "two pages of at most 100"
    assert page.cursor == state.events[-1].event_id


# -- the roster and entering lawyers -------------------------------------------------------------------------


async def test_the_roster_is_signed_paged_and_in_pinyin_fields(
    adapter: JsonRpcSignAdapter, settings: Settings, cluster: SimulatorCluster
) -> None:
    state = court(cluster)
    staff = state.staff()
    assert len(staff) > 50, "more than one page of fifty"
    body = await raw_post(settings, signed_fields(settings, "ry.list", {"pageNo": 2, "pageSize": 50}))
    assert body["code"] == "0000" and body["data"]["total"] == len(staff)
    rows = body["data"]["list"]
    assert [r["rybh"] for r in rows] == [s.staff_id for s in staff[50:100]]
    assert set(rows[0]) == {"rybh", "xm", "js", "bm", "sjhm"}
    assert {r["js"] for r in rows} <= {"庭长", "审判员", "书记员", "人民陪审员", "院领导", "档案管理员"}
    too_big = await raw_post(settings, signed_fields(settings, "ry.list", {"pageSize": 51}))
    assert too_big["code"] == "E2001"
    forged = {**signed_fields(settings, "ry.list", {}), "data": '{"pageSize":50}'}
    assert (await raw_post(settings, forged))["code"] == "E1001", "signed like every other method"

    before = state.counters["list_staff"]
    assert await adapter.list_staff() == list(staff)
    assert state.counters["list_staff"] - before == -(-len(staff) // 50), "one call per page of fifty"


async def test_a_lawyer_entered_twice_with_one_ywlsh_is_entered_once(
    adapter: JsonRpcSignAdapter, settings: Settings, cluster: SimulatorCluster
) -> None:
    state = court(cluster)
    case = bystander_cases(state, CaseStatus.IN_TRIAL)[2]
    lawyer = Agent("区律师", "14401202210300555", "广东越秀测试律师事务所", case.parties[-1].id_number, "13900139000")
    who = PersonRef.lawyer(lawyer.licence_number)
    assert (await adapter.list_cases(who)).cases == ()
    cursor = (await adapter.changes(None)).cursor
    key = str(uuid.uuid4())
    first = await adapter.add_agent(case.case_id, lawyer, idempotency_key=key)
    assert await adapter.add_agent(case.case_id, lawyer, idempotency_key=key) == first
    assert (first.case_id, first.licence_number) == (case.case_id, lawyer.licence_number)
    assert first.recorded_at == state.agent_writes[key].receipt.recorded_at and first.recorded_at.tzinfo == CHINA_TZ
    assert state.agent_writes[key].deliveries == 2 and state.counters["add_agent"] >= 2
    [listed] = (await adapter.list_cases(who)).cases
    assert listed.case_id == case.case_id and listed.agents == (*case.agents, lawyer)
    page = await adapter.changes(cursor)
    assert [(e.kind, e.licence_number) for e in page.events] == [(ChangeKind.AGENT_ADDED, lawyer.licence_number)]

    # the wire: pinyin fields, the key as 业务流水号; the same ywlsh for another lawyer is E4090
    data = {
        "ajbh": case.case_id,
        "xm": "谭律师",
        "zyzh": "14401202210300556",
        "lsswsmc": "广东越秀测试律师事务所",
        "wtrzjhm": case.parties[-1].id_number,
        "ywlsh": key,
    }
    assert (await raw_post(settings, signed_fields(settings, "aj.dlr.add", data)))["code"] == "E4090"
    no_key = {k: v for k, v in data.items() if k != "ywlsh"}
    assert (await raw_post(settings, signed_fields(settings, "aj.dlr.add", no_key)))["code"] == "E2001"
    stranger = {**data, "wtrzjhm": "440104199001011234", "ywlsh": str(uuid.uuid4())}
    assert (await raw_post(settings, signed_fields(settings, "aj.dlr.add", stranger)))["code"] == "E2001"
    with pytest.raises(CourtRejected):  # the same lawyer for the same client again, under a new key
        await adapter.add_agent(case.case_id, lawyer, idempotency_key=str(uuid.uuid4()))
    with pytest.raises(NotFoundAtCourt):
        await adapter.add_agent("no-such-case", lawyer, idempotency_key=str(uuid.uuid4()))
    assert state.case(case.case_id).agents == (*case.agents, lawyer), "nothing more was entered"
    assert (await adapter.changes(page.cursor)).events == ()
