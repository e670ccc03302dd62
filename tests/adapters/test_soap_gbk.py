"""The soap-gbk family: its simulator and its adapter against each other, and the WSDL against both.

What a user would notice if this family went wrong: a case list that skips or repeats cases across
pages, a case that differs from what the court holds, a session that expires and takes a request with
it, "court busy" reported as "court down", a filing or signature recorded twice, a change missed or
reported twice because the court's feed only knows whole seconds, a rare character in a name lost to
GBK, a WSDL that lies about the service, a roster short of a page, a lawyer entered twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta

import aiohttp
import pytest
from lxml import etree

import adapters.basic_courts.soap_gbk as wire
from adapters.basic_courts.soap_gbk import SoapGbkAdapter
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
    PartyKind,
    PersonRef,
    ServedDocument,
    Signature,
)
from gateway.config import Settings
from simulators.cluster import SimulatorCluster
from simulators.soap_gbk import ENDPOINT, SoapGbkSimulator
from simulators.state import CourtState

COURT = "粤0105"  # 海珠
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
AJ = "http://ws.court.gd.cn/aj"
#: operations for which the session alone is a complete request (the whole court's cases or staff, page 1)
SESSION_ONLY_IS_COMPLETE = {"QueryFyAjList", "QueryRyList"}


@pytest.fixture
async def adapter(settings: Settings, cluster: SimulatorCluster) -> AsyncIterator[SoapGbkAdapter]:
    adapter = SoapGbkAdapter(settings.court(COURT))
    try:
        yield adapter
    finally:
        await adapter.aclose()


def court(cluster: SimulatorCluster) -> CourtState:
    return cluster.court_state(COURT)


def endpoint(settings: Settings) -> str:
    return settings.court(COURT).base_url + ENDPOINT


def bystander_case(state: CourtState, status: CaseStatus, skip: int = 0) -> Case:
    """A case of nobody the demo or contract tests look at, so changing it disturbs no other test."""
    demo = {p.number for p in state.world.demo.values()}
    cases = [
        c
        for c in state.all_cases()
        if c.status == status and not ({p.id_number for p in c.parties} | {a.licence_number for a in c.agents}) & demo
    ]
    return cases[-1 - skip]


# -- the raw wire ----------------------------------------------------------------------------------------


def raw_envelope(operation: str, parts: dict[str, str], encoding: str = "GBK") -> bytes:
    """Built by hand, independently of the adapter, the way a developer would try the service."""
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in parts.items())
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:aj="http://ws.court.gd.cn/aj">'
        f"<soapenv:Body><aj:{operation}>{inner}</aj:{operation}></soapenv:Body></soapenv:Envelope>"
    )
    return text.encode(encoding)


async def raw_post(settings: Settings, body: bytes, action: str | None) -> tuple[int, str, bytes]:
    headers = {"Content-Type": "text/xml; charset=GBK"}
    if action is not None:
        headers["SOAPAction"] = f'"{action}"'
    async with aiohttp.ClientSession() as http, http.post(endpoint(settings), data=body, headers=headers) as r:
        return r.status, r.headers["Content-Type"], await r.read()


def faultstring(body: bytes) -> str:
    fault = etree.fromstring(body).find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    assert fault is not None, body
    return fault.findtext("faultstring") or ""


async def raw_login(settings: Settings) -> str:
    credentials = settings.court(COURT).credentials
    status, _, body = await raw_post(
        settings, raw_envelope("Login", {"yhm": credentials["username"], "mm": credentials["password"]}), "urn:Login"
    )
    assert status == 200
    session_id = etree.fromstring(body).findtext(f".//{{{SOAP_ENV}}}Body/*/sessionId")
    assert session_id
    return session_id


# -- the WSDL tells the truth ------------------------------------------------------------------------------

Described = dict[str, tuple[str, list[str], list[str]]]  # operation → (SOAPAction, input parts, output parts)


def _strings(node: etree._Element, path: str) -> list[str]:
    found = node.xpath(path, namespaces={"wsdl": WSDL, "soap": WSDL_SOAP})
    assert isinstance(found, list)
    return [str(x) for x in found]


@pytest.fixture
async def described(settings: Settings, cluster: SimulatorCluster) -> Described:
    async with aiohttp.ClientSession() as http, http.get(endpoint(settings) + "?wsdl") as r:
        assert r.status == 200
        root = etree.fromstring(await r.read())
    assert _strings(root, "wsdl:service/wsdl:port/soap:address/@location") == [endpoint(settings)]
    assert _strings(root, "wsdl:binding/soap:binding/@style") == ["rpc"]

    def parts(message: str) -> list[str]:
        return _strings(root, f"wsdl:message[@name='{message.partition(':')[2]}']/wsdl:part/@name")

    result: Described = {}
    for name in _strings(root, "wsdl:portType/wsdl:operation/@name"):
        [action] = _strings(root, f"wsdl:binding/wsdl:operation[@name='{name}']/soap:operation/@soapAction")
        [request] = _strings(root, f"wsdl:portType/wsdl:operation[@name='{name}']/wsdl:input/@message")
        [response] = _strings(root, f"wsdl:portType/wsdl:operation[@name='{name}']/wsdl:output/@message")
        result[name] = (action, parts(request), parts(response))
    bound = _strings(root, "wsdl:binding/wsdl:operation/@name")
    assert sorted(bound) == sorted(result), "binding and portType list the same operations"
    return result


async def test_wsdl_describes_exactly_the_operations_the_service_dispatches(
    described: Described, settings: Settings
) -> None:
    assert set(described) == set(SoapGbkSimulator.OPERATIONS)
    session_id = await raw_login(settings)
    for operation, (action, inputs, _) in described.items():
        if operation == "Login":
            continue
        assert inputs[0] == "sessionId", f"{operation} carries the session first"
        # the documented action is accepted (the answer is about parameters, not about the operation) …
        status, _, body = await raw_post(settings, raw_envelope(operation, {"sessionId": session_id}), action)
        if operation in SESSION_ONLY_IS_COMPLETE:
            answer = etree.fromstring(body).find(f"{{{SOAP_ENV}}}Body/{{{AJ}}}{operation}Response")
            assert status == 200 and answer is not None, operation
        else:
            assert status == 500, operation
            assert faultstring(body).startswith(("参数错误", "未找到")), (operation, faultstring(body))
        # … and any other is refused
        _, _, body = await raw_post(settings, raw_envelope(operation, {"sessionId": session_id}), "urn:Login")
        assert faultstring(body).startswith("SOAPAction与请求操作不一致")
    _, _, body = await raw_post(settings, raw_envelope("BatchGetAjxx", {"sessionId": session_id}), "urn:BatchGetAjxx")
    assert faultstring(body).startswith("不支持的操作"), "no batch get, whatever one hopes"


async def test_adapter_sends_and_reads_exactly_the_documented_parts(
    described: Described, adapter: SoapGbkAdapter, cluster: SimulatorCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: dict[str, list[str]] = {}
    answered: dict[str, list[str]] = {}
    envelope, answer = wire._envelope, wire._answer

    def record_envelope(operation: str, parts: dict[str, wire.Part]) -> bytes:
        sent[operation] = list(parts)
        return envelope(operation, parts)

    def record_answer(code: str, operation: str, status: int, raw: bytes) -> etree._Element:
        response = answer(code, operation, status, raw)
        answered[operation] = [etree.QName(c).localname for c in response]
        return response

    monkeypatch.setattr(wire, "_envelope", record_envelope)
    monkeypatch.setattr(wire, "_answer", record_answer)

    state = court(cluster)
    case = bystander_case(state, CaseStatus.IN_TRIAL)
    party = next(p for p in case.parties if p.kind == PartyKind.PERSON)
    doc = cluster.desk(COURT).serve_document(case.case_id, PersonRef.party(party.id_number), "举证通知书")
    await adapter.list_cases(PersonRef.party(party.id_number))
    await adapter.list_court_cases(CaseScope(staff_id=case.panel[0].staff_id))
    await adapter.get_cases([case.case_id])
    await adapter.find_case(case.case_number)
    await adapter.list_documents(PersonRef.party(party.id_number))
    await adapter.sign_document(
        Signature(str(uuid.uuid4()), doc.document_id, party.name, party.id_number, "REAL_NAME", datetime.now(CHINA_TZ))
    )
    await adapter.submit_filing(_filing(case, party.name, party.id_number))
    volumes = await adapter.list_volumes(case.case_id)
    await adapter.read_material(case.case_id, volumes[0].materials[0].material_id)
    await adapter.changes(None)
    await adapter.list_staff()
    lawyer = Agent("冼律师", "14401201110300777", "广东海珠测试律师事务所", party.id_number, "13800138000")
    await adapter.add_agent(case.case_id, lawyer, idempotency_key=str(uuid.uuid4()))

    assert set(sent) == set(described), "the adapter uses every documented operation and nothing else"
    for operation, (_, inputs, outputs) in described.items():
        assert sent[operation] == inputs, f"{operation} request parts"
        assert answered[operation] == outputs, f"{operation} response parts"


# -- encoding ----------------------------------------------------------------------------------------------


async def test_bodies_are_gbk_both_ways(settings: Settings, cluster: SimulatorCluster) -> None:
    credentials = settings.court(COURT).credentials
    status, content_type, body = await raw_post(
        settings, raw_envelope("Login", {"yhm": credentials["username"], "mm": credentials["password"]}), "urn:Login"
    )
    assert status == 200
    assert content_type.replace(" ", "").lower() == "text/xml;charset=gbk"
    assert body.startswith(b'<?xml version="1.0" encoding="GBK"?>')
    assert "登录成功".encode("gbk") in body
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")

    # the service refuses a UTF-8 envelope, and says so in GBK
    utf8 = raw_envelope("Login", {"yhm": credentials["username"], "mm": credentials["password"]}, "UTF-8")
    status, _, body = await raw_post(settings, utf8, "urn:Login")
    assert status == 500 and faultstring(body).startswith("报文编码必须为GBK")
    status, _, body = await raw_post(settings, raw_envelope("Login", {"yhm": "x", "mm": "y"}), None)
    assert status == 500 and faultstring(body) == "缺少SOAPAction"


async def test_a_name_gbk_cannot_encode_survives_the_round_trip(
    adapter: SoapGbkAdapter, cluster: SimulatorCluster
) -> None:
    case = bystander_case(court(cluster), CaseStatus.IN_TRIAL, skip=1)
    filing = _filing(case, "陈𬌗", "440105199001011234")  # 𬌗 is not in GBK: it travels as &#117523;
    with pytest.raises(UnicodeEncodeError):
        "𬌗".encode("gbk")
    await adapter.submit_filing(filing)
    assert court(cluster).filings[filing.idempotency_key].filing == filing


# -- reads ---------------------------------------------------------------------------------------------


async def _all_pages(adapter: SoapGbkAdapter, who: PersonRef, limit: int) -> tuple[list[Case], int, set[int | None]]:
    cases: list[Case] = []
    totals: set[int | None] = set()
    position: str | None = None
    for pages in range(1, 100):
        page = await adapter.list_cases(who, position=position, limit=limit)
        assert len(page.cases) <= min(limit, 20)
        cases += page.cases
        totals.add(page.total)
        if page.next_position is None:
            return cases, pages, totals
        position = page.next_position
    raise AssertionError("pagination does not terminate")


async def test_case_lists_page_through_everything_newest_first(
    adapter: SoapGbkAdapter, cluster: SimulatorCluster
) -> None:
    state = court(cluster)
    chen = PersonRef.lawyer(state.world.demo["lawyer-chen"].number)
    lawyers = [n for n in state.slice.by_person if len(n) == 17 and n.isdigit()]
    busiest = PersonRef.lawyer(max(lawyers, key=lambda n: len(state.slice.by_person[n])))
    for who in (chen, busiest):
        expected = state.cases_of(who)
        assert len(expected) >= 3
        cases, pages, totals = await _all_pages(adapter, who, limit=2)
        assert cases == expected
        assert pages == -(-len(expected) // 2) and totals == {len(expected)}
    # more than the court's page size is asked for: the adapter caps it instead of drawing a Fault
    page = await adapter.list_cases(chen, limit=50)
    assert list(page.cases) == state.cases_of(chen)[:20]


async def test_page_size_over_twenty_is_a_fault(settings: Settings, cluster: SimulatorCluster) -> None:
    session_id = await raw_login(settings)
    body = raw_envelope(
        "QueryAjList",
        {"sessionId": session_id, "zjhm": "", "zyzh": "14401200910100001", "pageNo": "1", "pageSize": "21"},
    )
    status, _, answer = await raw_post(settings, body, "urn:QueryAjList")
    assert status == 500 and faultstring(answer).startswith("参数错误")


async def test_court_case_list_pages_by_twenty_for_one_member_or_division(
    settings: Settings, cluster: SimulatorCluster
) -> None:
    """QueryFyAjList: at most 20 rows a page with the total zs, and 承办人 or 部门 but not both."""
    state = court(cluster)
    division = state.all_cases()[0].division
    expected = state.cases_in_scope(CaseScope(division=division))
    assert len(expected) > 20, "more than one page"
    session_id = await raw_login(settings)

    async def query(**parts: str) -> tuple[int, bytes]:
        body = raw_envelope("QueryFyAjList", {"sessionId": session_id, **parts})
        status, _, answer = await raw_post(settings, body, "urn:QueryFyAjList")
        return status, answer

    status, answer = await query(cbrbh="", bm=division, pageNo="2", pageSize="20")
    response = etree.fromstring(answer).find(f"{{{SOAP_ENV}}}Body/{{{AJ}}}QueryFyAjListResponse")
    assert status == 200 and response is not None
    assert response.findtext("zs") == str(len(expected))
    assert [aj.findtext("ajbh") for aj in response.iterfind("ajList/aj")] == [c.case_id for c in expected[20:40]]
    status, answer = await query(bm=division, pageNo="1", pageSize="21")
    assert status == 500 and faultstring(answer).startswith("参数错误")
    status, answer = await query(cbrbh=expected[0].panel[0].staff_id, bm=division)
    assert status == 500 and faultstring(answer) == "参数错误：承办人编号与部门至多填写一项"


async def test_every_case_of_the_court_round_trips_exactly(adapter: SoapGbkAdapter, cluster: SimulatorCluster) -> None:
    state = court(cluster)
    expected = state.all_cases()
    ids = [c.case_id for c in expected]
    before = state.counters["get_cases"]
    got = await adapter.get_cases([*ids[:5], "0105-nope", *ids[5:], "also-not-there"])
    assert got == expected, "every field exactly, in the order asked, unknown ids left out"
    assert state.counters["get_cases"] - before == len(ids) + 2, "one GetAjxx per id: there is no batch get"
    assert any(p.phone is None for c in got for p in c.parties), "organisations without a phone stay None"


async def test_find_documents_volumes_and_materials(adapter: SoapGbkAdapter, cluster: SimulatorCluster) -> None:
    state = court(cluster)
    wang = PersonRef.party(state.world.demo["party-wang"].number)
    case = state.cases_of(wang)[0]
    assert await adapter.find_case(case.case_number) == case
    assert await adapter.find_case(case.case_number.replace("号", "999999号")) is None
    assert await adapter.list_documents(wang) == state.documents_of(wang)
    volumes = await adapter.list_volumes(case.case_id)
    assert tuple(volumes) == state.volumes(case.case_id)
    material = volumes[-1].materials[-1]
    content = await adapter.read_material(case.case_id, material.material_id)
    assert content.content == state.material(case.case_id, material.material_id)
    assert len(content.content) > 76, "long enough that the court wrapped its base64"
    with pytest.raises(NotFoundAtCourt):
        await adapter.read_material(case.case_id, f"{case.case_id}-Z99")
    with pytest.raises(NotFoundAtCourt):
        await adapter.list_volumes("0105-nope")


async def test_hearing_times_keep_their_seconds(adapter: SoapGbkAdapter, cluster: SimulatorCluster) -> None:
    case = bystander_case(court(cluster), CaseStatus.IN_TRIAL, skip=2)
    cluster.desk(COURT).schedule_hearing(case.case_id, datetime(2026, 12, 8, 9, 30, 15, 250000, tzinfo=CHINA_TZ))
    [got] = await adapter.get_cases([case.case_id])
    assert got == court(cluster).case(case.case_id)
    assert got.hearings[-1].starts_at.second == 15 and got.hearings[-1].starts_at.tzinfo == CHINA_TZ


# -- sessions and faults ---------------------------------------------------------------------------------


async def test_expired_session_is_renewed_once_and_transparently(
    adapter: SoapGbkAdapter, sims: SimulatorCluster
) -> None:
    state = court(sims)
    chen = PersonRef.lawyer(state.world.demo["lawyer-chen"].number)
    before = await adapter.list_cases(chen)
    # count this adapter's own logins: other clients of the court (a running gateway) log in too
    logins = 0
    login = adapter._login

    async def counted_login() -> str:
        nonlocal logins
        logins += 1
        return await login()

    adapter._login = counted_login  # type: ignore[method-assign]
    await sims.set_faults(COURT, expire_sessions=True)
    assert await adapter.list_cases(chen) == before  # the call that met the expiry is retried
    await sims.set_faults(COURT, expire_sessions=True)
    ids = [c.case_id for c in state.all_cases()[:12]]
    assert len(await adapter.get_cases(ids)) == 12  # twelve parallel calls all meet the expired session
    assert logins == 2, "one Login per expiry, however many calls noticed it"


async def test_wrong_password_is_an_auth_failure(settings: Settings, cluster: SimulatorCluster) -> None:
    config = settings.court(COURT)
    wrong = config.model_copy(update={"credentials": {**config.credentials, "password": "wrong"}})
    async with SoapGbkAdapter(wrong) as adapter:
        with pytest.raises(CourtAuthFailed) as error:
            await adapter.find_case("（2023）粤0105民初1号")
    assert error.value.court_code == COURT and "用户名或密码错误" in error.value.message


async def test_busy_and_broken_are_different_errors(adapter: SoapGbkAdapter, sims: SimulatorCluster) -> None:
    case = court(sims).all_cases()[0]
    assert await adapter.find_case(case.case_number) == case  # logged in before the faults
    await sims.set_faults(COURT, rate_limit_per_s=0.0001)
    with pytest.raises(CourtRateLimited) as busy:
        await adapter.find_case(case.case_number)
    assert busy.value.retry_after is None or busy.value.retry_after <= 5
    await sims.clear_faults(COURT)
    await sims.set_faults(COURT, error_rate=1.0)
    with pytest.raises(CourtUnavailable) as broken:
        await adapter.find_case(case.case_number)
    assert "系统异常" in broken.value.message
    assert not isinstance(broken.value, CourtRateLimited)


async def test_connection_refused_is_unavailable(adapter: SoapGbkAdapter, sims: SimulatorCluster) -> None:
    await sims.set_outage(COURT, True)
    with pytest.raises(CourtUnavailable):
        await adapter.list_documents(PersonRef.lawyer("14401200910100001"))


# -- writes ----------------------------------------------------------------------------------------------


def _filing(case: Case, filer_name: str, filer_id: str, title: str = "补充证据材料（二）") -> Filing:
    return Filing(
        idempotency_key=str(uuid.uuid4()),
        case_id=case.case_id,
        case_number=case.case_number,
        kind=FilingKind.EVIDENCE,
        title=title,
        filer_name=filer_name,
        filer_id_number=filer_id,
        attachments=(
            Attachment("证据目录.pdf", "application/pdf", b"%PDF-1.4 " + bytes(range(256)) * 3),
            Attachment("照片.jpg", "image/jpeg", b"\xff\xd8\xff\xe0 photo"),
        ),
    )


async def test_filing_is_recorded_once_per_key(adapter: SoapGbkAdapter, cluster: SimulatorCluster) -> None:
    state = court(cluster)
    case = bystander_case(state, CaseStatus.IN_TRIAL, skip=3)
    filing = _filing(case, case.parties[0].name, case.parties[0].id_number)
    first = await adapter.submit_filing(filing)
    assert await adapter.submit_filing(filing) == first
    record = state.filings[filing.idempotency_key]
    assert record.deliveries == 2 and record.receipt == first and record.filing == filing
    assert [r.receipt.receipt_number for r in state.filings.values()].count(first.receipt_number) == 1

    changed = replace(filing, title="代理词")
    with pytest.raises(CourtRejected) as error:
        await adapter.submit_filing(changed)
    assert not isinstance(error.value, CourtAuthFailed)
    assert state.filings[filing.idempotency_key].filing == filing, "the court keeps the first content"
    with pytest.raises(NotFoundAtCourt):
        await adapter.submit_filing(replace(filing, idempotency_key=str(uuid.uuid4()), case_id="0105-nope"))


async def test_signing_twice_keeps_the_first_signature(adapter: SoapGbkAdapter, cluster: SimulatorCluster) -> None:
    state = court(cluster)
    case = bystander_case(state, CaseStatus.IN_TRIAL, skip=4)
    party = next(p for p in case.parties if p.kind == PartyKind.PERSON)
    who = PersonRef.party(party.id_number)
    doc: ServedDocument = cluster.desk(COURT).serve_document(case.case_id, who, "开庭传票", "传票")
    signed_at = datetime.now(CHINA_TZ)
    first = await adapter.sign_document(
        Signature(str(uuid.uuid4()), doc.document_id, party.name, party.id_number, "FACE", signed_at, "E_SEAL")
    )
    later = Signature(
        str(uuid.uuid4()), doc.document_id, party.name, party.id_number, "PHONE", signed_at + timedelta(hours=3)
    )
    assert await adapter.sign_document(later) == first
    assert first.signed_at == signed_at.replace(microsecond=0), "the court keeps the first signature's moment"
    record = state.signatures[doc.document_id]
    assert record.deliveries == 2
    assert (record.signature.identity_level, record.signature.method) == ("FACE", "E_SEAL")
    listed = {d.document_id: d for d in await adapter.list_documents(who)}
    assert listed[doc.document_id].signed_at == signed_at.replace(microsecond=0)

    with pytest.raises(CourtRejected):  # not the addressee
        await adapter.sign_document(
            Signature(str(uuid.uuid4()), doc.document_id, "路人", "440105199001011234", "REAL_NAME", signed_at)
        )
    with pytest.raises(NotFoundAtCourt):
        await adapter.sign_document(
            Signature(str(uuid.uuid4()), f"{case.case_id}-S999", party.name, party.id_number, "REAL_NAME", signed_at)
        )


# -- the change feed ---------------------------------------------------------------------------------------


async def _at_start_of_a_second(state: CourtState) -> None:
    """Wait until the court's clock has just turned a second, so what follows shares that second."""
    now = state.now()
    await asyncio.sleep(1 - now.microsecond / 1e6 + 0.01)


async def test_change_feed_loses_and_repeats_nothing_at_second_boundaries(
    adapter: SoapGbkAdapter, cluster: SimulatorCluster
) -> None:
    state = court(cluster)
    desk = cluster.desk(COURT)
    case = bystander_case(state, CaseStatus.IN_TRIAL, skip=5)
    cursor = (await adapter.changes(None)).cursor
    start = len(state.events)
    seen: list[str] = []

    def hearing(n: int) -> None:
        desk.schedule_hearing(case.case_id, datetime(2027, 1, 4, 9, 0, n, tzinfo=CHINA_TZ), f"第{n}法庭")

    for attempt in range(3):
        await _at_start_of_a_second(state)
        mark = len(state.events)
        hearing(1)
        desk.close_case(case.case_id) if attempt == 0 else hearing(2)
        page = await adapter.changes(cursor)
        assert page.events == tuple(state.events[mark:]), "both events, oldest first, exactly as the court has them"
        seen += [e.event_id for e in page.events]
        cursor = page.cursor
        # more in the very same second, more than one page of them: the court returns the whole second again
        for n in range(25):
            hearing(n)
        page = await adapter.changes(cursor)
        assert page.events == tuple(state.events[mark + 2 :]), "only the new ones, none of the second's old ones"
        seen += [e.event_id for e in page.events]
        cursor = page.cursor
        if state.events[-1].occurred_at.replace(microsecond=0) == state.events[mark].occurred_at.replace(microsecond=0):
            break  # the boundary really was exercised; a slow machine may cross a second, then try again
    else:
        pytest.skip("could not keep 27 events inside one second on this machine")

    await _at_start_of_a_second(state)
    hearing(59)
    page = await adapter.changes(cursor)
    assert page.events == (state.events[-1],)
    seen += [e.event_id for e in page.events]
    assert (await adapter.changes(page.cursor)).events == ()
    assert seen == [e.event_id for e in state.events[start:]], "nothing lost, nothing twice"


# -- the roster and entering lawyers -------------------------------------------------------------------------


async def test_roster_comes_twenty_a_page_in_the_courts_own_words(
    adapter: SoapGbkAdapter, settings: Settings, cluster: SimulatorCluster
) -> None:
    state = court(cluster)
    session_id = await raw_login(settings)
    status, _, body = await raw_post(
        settings,
        raw_envelope("QueryRyList", {"sessionId": session_id, "pageNo": "1", "pageSize": "21"}),
        "urn:QueryRyList",
    )
    assert status == 500 and faultstring(body) == "参数错误：pageSize不能大于20"
    status, _, body = await raw_post(
        settings, raw_envelope("QueryRyList", {"sessionId": session_id, "pageNo": "2"}), "urn:QueryRyList"
    )
    assert status == 200 and body.startswith(b'<?xml version="1.0" encoding="GBK"?>')
    answer = etree.fromstring(body).find(f"{{{SOAP_ENV}}}Body/{{{AJ}}}QueryRyListResponse")
    assert answer is not None
    rows = answer.findall("ryList/ry")
    staff = state.staff()
    assert int(answer.findtext("zs") or 0) == len(staff) > 40
    assert [r.findtext("rybh") for r in rows] == [s.staff_id for s in staff[20:40]]
    assert [etree.QName(c).localname for c in rows[0]] == ["rybh", "xm", "js", "bm", "sjhm"]
    assert {r.findtext("js") for r in rows} <= {"庭长", "审判员", "书记员", "人民陪审员", "院领导", "档案管理员"}
    assert "书记员".encode("gbk") in body

    before = state.counters["list_staff"]
    assert await adapter.list_staff() == list(staff)
    assert state.counters["list_staff"] - before == -(-len(staff) // 20), "one call per page of twenty"


async def test_entering_a_lawyer_is_recorded_once_per_ywlsh(adapter: SoapGbkAdapter, cluster: SimulatorCluster) -> None:
    state = court(cluster)
    case = bystander_case(state, CaseStatus.FILED, skip=2)
    client = case.parties[-1]
    lawyer = Agent("麦律师", "14401201210300888", "广东海珠测试律师事务所", client.id_number)  # no phone: left out
    cursor = (await adapter.changes(None)).cursor
    key = str(uuid.uuid4())
    first = await adapter.add_agent(case.case_id, lawyer, idempotency_key=key)
    assert (first.case_id, first.licence_number) == (case.case_id, lawyer.licence_number)
    assert first.recorded_at.microsecond == 0 and first.recorded_at.tzinfo is not None
    assert await adapter.add_agent(case.case_id, lawyer, idempotency_key=key) == first
    assert state.agent_writes[key].deliveries == 2
    assert state.case(case.case_id).agents == (*case.agents, lawyer)
    events = (await adapter.changes(cursor)).events
    assert [(e.kind, e.licence_number) for e in events] == [(ChangeKind.AGENT_ADDED, lawyer.licence_number)]
    assert case.case_id in {
        c.case_id for c in (await adapter.list_cases(PersonRef.lawyer(lawyer.licence_number))).cases
    }

    # the same 业务流水号 for someone else, a second entry of the same lawyer, a stranger's lawyer: refused
    with pytest.raises(CourtRejected):
        await adapter.add_agent(case.case_id, replace(lawyer, licence_number="14401201210300889"), idempotency_key=key)
    with pytest.raises(CourtRejected):
        await adapter.add_agent(case.case_id, lawyer, idempotency_key=str(uuid.uuid4()))
    with pytest.raises(CourtRejected):
        await adapter.add_agent(
            case.case_id, replace(lawyer, client_id_number="440105199001011234"), idempotency_key=str(uuid.uuid4())
        )
    with pytest.raises(NotFoundAtCourt):
        await adapter.add_agent("0105-nope", lawyer, idempotency_key=str(uuid.uuid4()))
    assert state.case(case.case_id).agents == (*case.agents, lawyer), "nothing more was entered"
    assert (await adapter.changes(cursor)).events == events, "and the feed says so once"


def test_a_record_read_once_answers_as_findtext_does() -> None:
    """Rows are read into a dict once (for speed); every lookup must still answer as lxml's findtext: the
    first child of a tag, "" for an empty one, None for none, comments and nested text ignored."""
    row = etree.fromstring(
        "<aj><ah>first</ah><!-- a comment --><ah>second</ah><jarq/><ay>x<i>nested</i></ay>"
        "<dsrList><dsr><xm>n</xm></dsr></dsrList></aj>"
    )
    record = wire._Record(row)
    for name in ("ah", "jarq", "ay", "missing", "dsrList", "xm"):
        assert record.findtext(name) == row.findtext(name), name
    assert [r.findtext("xm") for r in wire._children(record, "dsrList/dsr")] == ["n"]
    assert wire._date(record, "jarq") is None
    with pytest.raises(ValueError):
        wire._date(wire._Record(etree.fromstring("<aj><larq>2024-01-01</larq></aj>")), "larq")
    assert str(wire._date(wire._Record(etree.fromstring("<aj><larq>20240131</larq></aj>")), "larq")) == "2024-01-31"
    moment = wire._time(wire._Record(etree.fromstring("<kt><ktsj>2024-01-31 09:30:05</ktsj></kt>")), "ktsj")
    assert moment is not None and (moment.isoformat(), moment.tzinfo) == ("2024-01-31T09:30:05+08:00", wire.CHINA_TZ)
