"""The csv-export family: its simulator and its adapter against each other, and the raw wire against both.

What a user would notice if this family went wrong: a case list that skips or repeats cases across the
pages the adapter cuts, a case that differs from what the court holds (a name with a ``|`` in it, a
rare character GBK lacks, a phone that should be empty), every page of a list downloading the whole
export again, a wrong password or a busy court reported as "court down", a filing or signature
recorded twice, a receipt number lost in an HTML page, and a staff action missed or reported twice
because the court only publishes journals, a roster downloaded again although unchanged, and a lawyer
"entered" at a court whose system has no way to take one.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from urllib.parse import quote

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from adapters.basic_courts.csv_export import CsvExportAdapter
from gateway.adapters.errors import (
    CourtAuthFailed,
    CourtRateLimited,
    CourtRejected,
    CourtUnavailable,
    CourtUnsupported,
    NotFoundAtCourt,
    NotSupported,
)
from gateway.adapters.model import (
    CHINA_TZ,
    Agent,
    Attachment,
    Case,
    CaseScope,
    CaseStatus,
    Filing,
    FilingKind,
    Party,
    PartyKind,
    PartyRole,
    PersonRef,
    ServedDocument,
    Signature,
    StaffRole,
)
from gateway.adapters.resilience import ResilientAdapter
from gateway.config import Settings
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from simulators.state import CourtState
from tests.conftest import GraphQLClient, background_paused

COURT = "粤0115"  # 南沙
DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")
TIME = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日 \d{1,2}时\d{2}分(\d{2}秒)?")


@pytest.fixture(autouse=True)
async def _courts_counters_are_ours(gateway: GraphQLClient) -> AsyncIterator[None]:
    """These tests count the court's requests; the session gateway's follower re-reads csv exports (304s)
    in the background, so it is paused meanwhile."""
    async with background_paused(gateway.app):
        yield


@pytest.fixture
async def adapter(settings: Settings, cluster: SimulatorCluster) -> AsyncIterator[CsvExportAdapter]:
    """A fresh adapter per test: its case-list cache starts empty."""
    adapter = CsvExportAdapter(settings.court(COURT))
    try:
        yield adapter
    finally:
        await adapter.aclose()


def court(cluster: SimulatorCluster) -> CourtState:
    return cluster.court_state(COURT)


def chen(world: World) -> PersonRef:
    return PersonRef.lawyer(world.demo["lawyer-chen"].number)


def bystander_cases(state: CourtState, status: CaseStatus) -> list[Case]:
    """Cases of nobody the demo or contract tests look at, newest last, so changing them disturbs no one."""
    demo = {p.number for p in state.world.demo.values()}
    return [
        c
        for c in state.all_cases()
        if c.status == status and not ({p.id_number for p in c.parties} | {a.licence_number for a in c.agents}) & demo
    ]


def person_of(case: Case) -> Party:
    return next(p for p in case.parties if p.kind == PartyKind.PERSON)


# -- the raw wire --------------------------------------------------------------------------------------------


async def raw(
    settings: Settings,
    method: str,
    path: str,
    *,
    password: str | None = None,
    headers: dict[str, str] | None = None,
    data: object = None,
) -> tuple[int, CIMultiDictProxy[str], bytes]:
    """A request as a developer would try it, independently of the adapter."""
    credentials = settings.court(COURT).credentials
    auth = aiohttp.encode_basic_auth(credentials["username"], password or credentials["password"])
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method, settings.court(COURT).base_url + path, headers={"Authorization": auth, **(headers or {})}, data=data
        ) as r,
    ):
        return r.status, r.headers, await r.read()


def read_csv(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("gb18030"), newline="")))


async def test_exports_are_gb18030_csv_with_chinese_headers_and_dates(
    settings: Settings, cluster: SimulatorCluster, world: World
) -> None:
    status, headers, body = await raw(settings, "GET", f"/export/dlr/{chen(world).number}/ajlb.csv")
    assert status == 200
    assert headers["Content-Type"].replace(" ", "").lower() == "text/csv;charset=gb18030"
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    header, *rows = read_csv(body)
    assert header[:5] == ["案号", "案件编号", "案由", "案件类型", "立案日期"]
    expected = court(cluster).cases_of(chen(world))
    assert [r[1] for r in rows] == [c.case_id for c in expected], "every row, newest filing first, no paging"
    first = expected[0]
    assert rows[0][4] == f"{first.filed_on.year}年{first.filed_on.month}月{first.filed_on.day}日"
    assert all(DATE.fullmatch(r[4]) for r in rows)
    assert "陈志明|14401200910100001|" in rows[0][header.index("代理人")], "agents packed into one cell"

    status, _, body = await raw(settings, "GET", f"/export/dlr/{chen(world).number}/sdws.csv")
    header, *rows = read_csv(body)
    assert status == 200 and header[0] == "文书编号" and rows
    assert all(TIME.fullmatch(r[header.index("送达时间")]) for r in rows)


async def test_if_none_match_answers_304_without_a_body(settings: Settings, cluster: SimulatorCluster) -> None:
    case = bystander_cases(court(cluster), CaseStatus.CLOSED)[0]
    path = f"/export/aj/{case.case_id}.csv"
    status, headers, body = await raw(settings, "GET", path)
    assert status == 200 and body
    etag = headers["ETag"]
    status, headers, body = await raw(settings, "GET", path, headers={"If-None-Match": etag})
    assert (status, body, headers["ETag"]) == (304, b"", etag)
    status, _, body = await raw(settings, "GET", path, headers={"If-None-Match": '"something-else"'})
    assert status == 200 and body


async def test_unknown_files_are_404_pages_and_credentials_are_checked(
    settings: Settings, cluster: SimulatorCluster
) -> None:
    status, headers, body = await raw(settings, "GET", "/export/aj/does-not-exist.csv")
    assert status == 404 and "文件不存在" in body.decode("gb18030")
    status, headers, body = await raw(settings, "GET", "/export/tz/jatz.csv", password="wrong")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")


async def test_staff_exports_are_whole_lists_with_etags_that_the_adapter_pages(
    adapter: CsvExportAdapter, settings: Settings, cluster: SimulatorCluster
) -> None:
    """/export/ry|bm/…/ajlb.csv and /export/fy/ajlb.csv: every row, no paging, 304 when unchanged."""
    state = court(cluster)
    every = state.cases_in_scope(CaseScope())
    division, member = every[0].division, every[0].panel[0].staff_id
    for path, scope in (
        (f"/export/ry/{member}/ajlb.csv", CaseScope(staff_id=member)),
        (f"/export/bm/{quote(division)}/ajlb.csv", CaseScope(division=division)),
        ("/export/fy/ajlb.csv", CaseScope()),
    ):
        status, headers, body = await raw(settings, "GET", path)
        header, *rows = read_csv(body)
        assert status == 200 and header[0] == "案号"
        assert [r[1] for r in rows] == [c.case_id for c in state.cases_in_scope(scope)], path
        status, _, body = await raw(settings, "GET", path, headers={"If-None-Match": headers["ETag"]})
        assert (status, body) == (304, b"")
    assert (await raw(settings, "GET", f"/export/xx/{member}/ajlb.csv"))[0] == 404
    before = state.counters.copy()
    first = await adapter.list_court_cases(CaseScope(), limit=50)
    assert len(first.cases) == 20 and first.total == len(every), "the adapter cuts pages of at most 20"
    second = await adapter.list_court_cases(CaseScope(), position=first.next_position, limit=50)
    assert second.cases == tuple(every[20:40])
    assert state.counters["list_court_cases"] - before["list_court_cases"] == 2
    assert state.counters["not_modified"] - before["not_modified"] == 1, "the second page is a 304"


# -- reads -----------------------------------------------------------------------------------------------------


async def _all_pages(adapter: CsvExportAdapter, who: PersonRef, limit: int, total: int) -> tuple[list[Case], int]:
    cases: list[Case] = []
    position: str | None = None
    for pages in range(1, 100):
        page = await adapter.list_cases(who, position=position, limit=limit)
        assert len(page.cases) <= min(limit, 20)
        assert page.total == total
        cases += page.cases
        if page.next_position is None:
            return cases, pages
        position = page.next_position
    raise AssertionError("pagination does not terminate")


async def test_lawyer_chens_cases_across_pages_are_what_the_court_holds(
    adapter: CsvExportAdapter, cluster: SimulatorCluster, world: World
) -> None:
    expected = court(cluster).cases_of(chen(world))
    assert len(expected) > 2, "enough cases for several pages"
    for limit in (2, 3, 20, 50):
        cases, pages = await _all_pages(adapter, chen(world), limit, len(expected))
        assert cases == expected, f"pages of {limit}"
        assert pages == -(-len(expected) // min(limit, 20))


async def test_the_next_page_costs_a_304_not_a_new_export(
    adapter: CsvExportAdapter, cluster: SimulatorCluster, world: World
) -> None:
    counters = court(cluster).counters
    before = counters.copy()
    first = await adapter.list_cases(chen(world), limit=2)
    assert counters["list_cases"] - before["list_cases"] == 1
    assert counters["not_modified"] == before["not_modified"], "the first read downloads the export"
    assert first.next_position is not None
    second = await adapter.list_cases(chen(world), position=first.next_position, limit=2)
    assert counters["list_cases"] - before["list_cases"] == 2
    assert counters["not_modified"] - before["not_modified"] == 1, "the second page is a 304"
    assert second.cases == tuple(court(cluster).cases_of(chen(world))[2:4])


async def test_a_changed_list_is_read_again_not_served_from_the_cache(
    adapter: CsvExportAdapter, cluster: SimulatorCluster
) -> None:
    case = bystander_cases(court(cluster), CaseStatus.IN_TRIAL)[-3]
    who = PersonRef.party(person_of(case).id_number)
    await adapter.list_cases(who)
    cluster.desk(COURT).schedule_hearing(case.case_id, datetime(2026, 12, 9, 14, 30, tzinfo=CHINA_TZ), "第7法庭")
    page = await adapter.list_cases(who)
    assert list(page.cases) == court(cluster).cases_of(who)
    assert any(h.room == "第7法庭" for c in page.cases for h in c.hearings)


async def test_every_case_of_the_court_round_trips_exactly(
    adapter: CsvExportAdapter, cluster: SimulatorCluster
) -> None:
    cases = court(cluster).all_cases()
    ids = [c.case_id for c in cases]
    got = await adapter.get_cases([*ids[:3], "does-not-exist", *ids[3:], ids[0]])
    assert got == [*cases, cases[0]], "in the order asked, unknown ids left out"


async def test_find_by_number(adapter: CsvExportAdapter, cluster: SimulatorCluster) -> None:
    case = bystander_cases(court(cluster), CaseStatus.ARCHIVED)[0]
    assert await adapter.find_case(case.case_number) == case
    assert await adapter.find_case(case.case_number.replace("号", "999999号")) is None


async def test_single_case_reads_run_at_most_concurrency_at_a_time(
    adapter: CsvExportAdapter, sims: SimulatorCluster
) -> None:
    ids = [c.case_id for c in court(sims).all_cases()[:6]]
    await sims.set_faults(COURT, latency_ms=150)
    started = time.monotonic()
    assert len(await adapter.get_cases(ids)) == 6
    # concurrency 2: three rounds of 150 ms, not one
    assert adapter.court.concurrency == 2
    assert time.monotonic() - started >= 0.9 * 3 * 0.150


async def test_lists_with_separators_quotes_and_rare_characters_survive(
    adapter: CsvExportAdapter, cluster: SimulatorCluster
) -> None:
    state = court(cluster)
    original = bystander_cases(state, CaseStatus.CLOSED)[-1]
    with pytest.raises(UnicodeEncodeError):
        "𬌗".encode("gbk")  # GB18030 has it, GBK does not
    odd = replace(
        original,
        cause='合同纠纷,"其他"',
        parties=(
            Party("陈𬌗", "440115199001011234", PartyRole.PLAINTIFF, PartyKind.PERSON, "13900000000"),
            Party('广州"甲|乙;丙"有限公司', "91440101MA5XXXXX0X", PartyRole.DEFENDANT, PartyKind.ORGANISATION, None),
        ),
        agents=(Agent("李|律师", "14401201000000001", "", "440115199001011234", None),),
        related_case_numbers=("（2024）粤0115民初1;2号", ""),
    )
    previous = state.overrides.get(original.case_id)
    state.overrides[original.case_id] = odd  # as if the clerk had typed these names in
    try:
        assert await adapter.get_cases([original.case_id]) == [odd]
        assert await adapter.find_case(odd.case_number) == odd
    finally:
        if previous is None:
            del state.overrides[original.case_id]
        else:
            state.overrides[original.case_id] = previous


async def test_documents_volumes_and_material_bytes_are_what_the_court_holds(
    adapter: CsvExportAdapter, cluster: SimulatorCluster, world: World
) -> None:
    state = court(cluster)
    party = PersonRef.party(world.demo["party-wang"].number)
    for who in (chen(world), party):
        documents = await adapter.list_documents(who)
        assert documents == state.documents_of(who) and documents
    case = state.cases_of(chen(world))[0]
    volumes = await adapter.list_volumes(case.case_id)
    assert tuple(volumes) == state.volumes(case.case_id)
    material = volumes[0].materials[0]
    content = await adapter.read_material(case.case_id, material.material_id)
    assert content.content == state.material(case.case_id, material.material_id)
    assert (content.material_id, content.content_type) == (material.material_id, "application/pdf")
    with pytest.raises(NotFoundAtCourt):
        await adapter.read_material(case.case_id, "no-such-material")
    with pytest.raises(NotFoundAtCourt):
        await adapter.list_volumes("no-such-case")


async def test_bad_positions_and_cursors_are_rejected(adapter: CsvExportAdapter, world: World) -> None:
    with pytest.raises(CourtRejected):
        await adapter.list_cases(chen(world), position="page-two")
    with pytest.raises(CourtRejected):
        await adapter.changes("not a cursor")


# -- failures --------------------------------------------------------------------------------------------------


async def test_wrong_password_is_an_auth_failure(settings: Settings, cluster: SimulatorCluster, world: World) -> None:
    config = settings.court(COURT)
    wrong = config.model_copy(update={"credentials": {**config.credentials, "password": "wrong"}})
    async with CsvExportAdapter(wrong) as adapter:
        with pytest.raises(CourtAuthFailed) as error:
            await adapter.list_cases(chen(world))
    assert error.value.court_code == COURT


async def test_busy_is_rate_limited_with_retry_after(
    adapter: CsvExportAdapter, sims: SimulatorCluster, settings: Settings, world: World
) -> None:
    await sims.set_faults(COURT, rate_limit_per_s=0.001)
    status, headers, body = await raw(settings, "GET", "/export/tz/jatz.csv")
    assert status == 503 and headers["Retry-After"] == "1" and "服务器繁忙" in body.decode("gb18030")
    with pytest.raises(CourtRateLimited) as error:
        await adapter.list_cases(chen(world))
    assert error.value.retry_after == 1.0


async def test_server_error_and_refused_connection_are_unavailable(
    adapter: CsvExportAdapter, sims: SimulatorCluster, world: World
) -> None:
    await sims.set_faults(COURT, error_rate=1.0)
    with pytest.raises(CourtUnavailable) as error:
        await adapter.list_documents(chen(world))
    assert not isinstance(error.value, CourtRateLimited)
    await sims.clear_faults(COURT)
    await sims.set_outage(COURT, True)
    with pytest.raises(CourtUnavailable):
        await adapter.list_documents(chen(world))


# -- writes ----------------------------------------------------------------------------------------------------


def _filing(case: Case, name: str, id_number: str, content: bytes = b"%PDF-1.4 defence") -> Filing:
    return Filing(
        idempotency_key=str(uuid.uuid4()),
        case_id=case.case_id,
        case_number=case.case_number,
        kind=FilingKind.DEFENCE_STATEMENT,
        title="答辩状（补充）",
        filer_name=name,
        filer_id_number=id_number,
        attachments=(
            Attachment("答辩状.pdf", "application/pdf", content),
            Attachment('证据 "目录".pdf', "application/pdf", b"%PDF-1.4 list"),
        ),
    )


async def test_the_receipt_is_read_out_of_the_courts_html_page(
    adapter: CsvExportAdapter, cluster: SimulatorCluster, settings: Settings
) -> None:
    case = bystander_cases(court(cluster), CaseStatus.IN_TRIAL)[0]
    filing = _filing(case, "陈𬌗", person_of(case).id_number)
    receipt = await adapter.submit_filing(filing)
    record = court(cluster).filings[filing.idempotency_key]
    assert record.receipt == receipt, "number and time exactly as the court recorded them"
    assert record.filing == filing, "fields, Chinese file names and bytes arrive intact"

    # the same form by hand: the answer is a GBK-declared HTML page naming the same receipt
    form = aiohttp.FormData(charset="gb18030", quote_fields=False)
    for name, value in [
        ("lsh", filing.idempotency_key),
        ("ajbh", case.case_id),
        ("ah", case.case_number),
        ("cllx", "答辩状"),
        ("clmc", filing.title),
        ("tjrxm", filing.filer_name),
        ("tjrzjhm", filing.filer_id_number),
    ]:
        form.add_field(name, value)
    for a in filing.attachments:
        form.add_field("fj", a.content, filename=a.filename, content_type=a.content_type)
    status, headers, body = await raw(settings, "POST", "/upload/tjcl.do", data=form)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'<meta http-equiv="Content-Type" content="text/html; charset=GBK">' in body
    assert f"该材料已提交，回执号：{receipt.receipt_number}" in body.decode("gb18030")
    assert record.deliveries == 2


async def test_the_same_serial_number_twice_is_one_record_with_one_receipt(
    adapter: CsvExportAdapter, cluster: SimulatorCluster
) -> None:
    case = bystander_cases(court(cluster), CaseStatus.IN_TRIAL)[1]
    filing = _filing(case, person_of(case).name, person_of(case).id_number)
    first = await adapter.submit_filing(filing)
    assert await adapter.submit_filing(filing) == first
    records = court(cluster).filings
    assert records[filing.idempotency_key].deliveries == 2
    assert [r.receipt.receipt_number for r in records.values()].count(first.receipt_number) == 1


async def test_a_reused_serial_number_with_other_content_is_rejected(
    adapter: CsvExportAdapter, cluster: SimulatorCluster
) -> None:
    case = bystander_cases(court(cluster), CaseStatus.IN_TRIAL)[2]
    filing = _filing(case, person_of(case).name, person_of(case).id_number)
    await adapter.submit_filing(filing)
    with pytest.raises(CourtRejected) as error:
        await adapter.submit_filing(
            replace(filing, attachments=(Attachment("另一份.pdf", "application/pdf", b"%PDF"),))
        )
    assert "流水号" in error.value.message
    assert court(cluster).filings[filing.idempotency_key].deliveries == 1
    with pytest.raises(NotFoundAtCourt):
        await adapter.submit_filing(replace(filing, idempotency_key=str(uuid.uuid4()), case_id="no-such-case"))


SIGNED: set[str] = set()


def _unsigned_document(state: CourtState) -> ServedDocument:
    demo = {p.number for p in state.world.demo.values()}
    for case in state.all_cases():
        for doc in state.case_documents(case.case_id):
            if (
                doc.signed_at is None
                and doc.addressee.number not in demo
                and doc.document_id not in SIGNED
                and doc.document_id not in state.signatures
            ):
                SIGNED.add(doc.document_id)
                return doc
    raise AssertionError("no unsigned document at the court")


async def test_signing_twice_records_once(adapter: CsvExportAdapter, cluster: SimulatorCluster) -> None:
    doc = _unsigned_document(court(cluster))
    signed_at = datetime(2026, 11, 2, 10, 15, 42, tzinfo=CHINA_TZ)
    signature = Signature(
        str(uuid.uuid4()), doc.document_id, doc.addressee_name, doc.addressee.number, "FACE", signed_at, "E_SEAL"
    )
    first = await adapter.sign_document(signature)
    assert first.document_id == doc.document_id and first.signed_at == signed_at
    later = replace(signature, signed_at=datetime(2026, 11, 3, 9, 0, tzinfo=CHINA_TZ))
    assert await adapter.sign_document(later) == first, "the first signature wins"
    record = court(cluster).signatures[doc.document_id]
    assert record.deliveries == 2 and record.signature == signature
    listed = {d.document_id: d for d in await adapter.list_documents(doc.addressee)}
    assert listed[doc.document_id].signed_at == signed_at

    other = _unsigned_document(court(cluster))
    with pytest.raises(CourtRejected):
        await adapter.sign_document(replace(signature, document_id=other.document_id))


# -- changes -----------------------------------------------------------------------------------------------------


async def test_staff_actions_come_out_of_the_journals_once_each(
    adapter: CsvExportAdapter, cluster: SimulatorCluster, settings: Settings
) -> None:
    state, desk = court(cluster), cluster.desk(COURT)
    start = await adapter.changes(None)
    seen = len(state.events)

    case = bystander_cases(state, CaseStatus.IN_TRIAL)[3]
    party = person_of(case)
    receipt = await adapter.submit_filing(_filing(case, party.name, party.id_number))
    desk.handle_filing(receipt.receipt_number, "已阅，材料已入卷")
    desk.serve_document(case.case_id, PersonRef.party(party.id_number), "举证通知书")
    desk.schedule_hearing(case.case_id, datetime(2026, 12, 8, 9, 30, tzinfo=CHINA_TZ), "第3法庭")
    desk.close_case(case.case_id)
    desk.archive_case(case.case_id)
    desk.add_agent(case.case_id, Agent("周律师", "14401202000000077", "广东南沙律师事务所", party.id_number))
    emitted = state.events[seen:]
    assert len(emitted) == 6

    page = await adapter.changes(start.cursor)
    # the court's clock keeps whole seconds; everything else is exactly what it recorded
    assert page.events == tuple(replace(e, occurred_at=e.occurred_at.replace(microsecond=0)) for e in emitted)
    assert [e.kind.value for e in page.events] == [
        "FILING_HANDLED",
        "DOCUMENT_SERVED",
        "HEARING_SCHEDULED",
        "CASE_CLOSED",
        "CASE_ARCHIVED",
        "AGENT_ADDED",
    ]

    before = state.counters.copy()
    again = await adapter.changes(page.cursor)
    assert again.events == ()
    assert state.counters["changes"] - before["changes"] == 6, "one read per journal"
    assert state.counters["not_modified"] - before["not_modified"] == 6, "and every one a 304"

    # the journal itself: an append-only CSV whose 序号 counts 1, 2, 3, …
    _, _, body = await raw(settings, "GET", "/export/tz/pqtz.csv")
    header, *rows = read_csv(body)
    assert header[:2] == ["序号", "登记号"] and "排期编号" in header
    assert [r[0] for r in rows] == [str(n) for n in range(1, len(rows) + 1)]
    assert TIME.fullmatch(rows[-1][-1])


async def test_changes_from_the_start_include_everything_once(
    adapter: CsvExportAdapter, cluster: SimulatorCluster
) -> None:
    page = await adapter.changes(None)
    assert [e.event_id for e in page.events] == [e.event_id for e in court(cluster).events]
    assert len({e.event_id for e in page.events}) == len(page.events)
    assert [e.occurred_at for e in page.events] == sorted(e.occurred_at for e in page.events)


async def test_journals_are_read_concurrently_but_politely(adapter: CsvExportAdapter, sims: SimulatorCluster) -> None:
    await sims.set_faults(COURT, latency_ms=100)
    started = time.monotonic()
    await asyncio.wait_for(adapter.changes(None), timeout=5)
    # six journals through two connections: three rounds, not six in a row and not six at once
    assert 0.27 <= time.monotonic() - started < 0.55


# -- the roster, and no online way to enter a lawyer -----------------------------------------------------------


async def test_the_roster_is_one_gb18030_export_with_chinese_headers_and_an_etag(
    adapter: CsvExportAdapter, settings: Settings, cluster: SimulatorCluster
) -> None:
    state = court(cluster)
    staff = state.staff()
    status, headers, body = await raw(settings, "GET", "/export/fy/rylb.csv")
    assert status == 200 and headers["Content-Type"].replace(" ", "").lower() == "text/csv;charset=gb18030"
    header, *rows = read_csv(body)
    assert header == ["人员编号", "姓名", "角色", "部门", "手机号"]
    words = {
        StaffRole.DIVISION_HEAD: "庭长",
        StaffRole.JUDGE: "审判员",
        StaffRole.CLERK: "书记员",
        StaffRole.PEOPLES_ASSESSOR: "人民陪审员",
        StaffRole.COURT_LEADER: "院领导",
        StaffRole.ARCHIVE_ADMIN: "档案管理员",
    }
    assert rows == [[s.staff_id, s.name, words[s.role], s.division, s.phone or ""] for s in staff]
    assert "档案管理员".encode("gb18030") in body
    status, _, body = await raw(settings, "GET", "/export/fy/rylb.csv", headers={"If-None-Match": headers["ETag"]})
    assert (status, body) == (304, b"")

    before = state.counters.copy()
    assert await adapter.list_staff() == list(staff)
    assert await adapter.list_staff() == list(staff), "asked again: the same roster"
    assert state.counters["list_staff"] - before["list_staff"] == 2
    assert state.counters["not_modified"] - before["not_modified"] == 1, "the second read is a 304, not the file"


async def test_entering_a_lawyer_is_unsupported_and_changes_nothing(
    adapter: CsvExportAdapter, settings: Settings, cluster: SimulatorCluster
) -> None:
    state = court(cluster)
    case = bystander_cases(state, CaseStatus.IN_TRIAL)[4]
    lawyer = Agent("冯律师", "14401201510300444", "广东南沙测试律师事务所", case.parties[-1].id_number)
    assert adapter.supports_agent_writes is False
    before, events = state.counters.copy(), len(state.events)
    async with ResilientAdapter(CsvExportAdapter(settings.court(COURT))) as resilient:
        assert resilient.supports_agent_writes is False
        for candidate in (adapter, resilient):
            with pytest.raises(CourtUnsupported) as error:
                await candidate.add_agent(case.case_id, lawyer, idempotency_key=str(uuid.uuid4()))
            assert isinstance(error.value, NotSupported) and error.value.code == "COURT_UNSUPPORTED"
            assert error.value.court_code == COURT
        assert resilient.health().state == "HEALTHY", "a missing feature is not an outage"
    assert state.counters == before, "refused without asking the court"
    assert state.case(case.case_id) == case and len(state.events) == events and not state.agent_writes
    # and there really is no such form to post to
    status, _, _ = await raw(settings, "POST", "/upload/tjdlr.do", data={"ajbh": case.case_id})
    assert status == 404
