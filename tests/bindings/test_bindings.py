"""Case binding (案件绑定申请): apply with a power of attorney, the panel decides, the case is the applicant's.

Over real HTTP against the simulators: lawyer-li (as a session of her own, so the other tests' view of
lawyer-li is untouched by the gateway-held bindings made here) applies to a 粤0104 (jsonrpc-sign) case
she is not on, the clerk approves, the case is in her cases at once and the court records her exactly
once; at a csv-export court there is no court write and the case is hers all the same; a court that is
down at approval records her when it is back. Denials, bad input, the 3-working-day deadline and its
escalation. The service layer and the outbox also run on SQLite and PostgreSQL (the ``stack`` fixture).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from sqlalchemy import func, select

from gateway.adapters.model import CHINA_TZ, Case, CaseStatus, Staff, StaffRole
from gateway.bindings import service
from gateway.bindings.outbox import BindingOutbox
from gateway.cases.service import CaseFilter, CaseOrder
from gateway.config import Settings
from gateway.core import deadlines
from gateway.core.outbox import RetryPolicy
from gateway.core.uploads import IncomingFile, InvalidInput
from gateway.identity import mint_hs256, viewer_from_claims
from gateway.schema.common import parse_global_id
from gateway.services import Services
from gateway.store.audit import verify
from gateway.store.bindings import BindingRecord
from gateway.store.deadlines import DeadlineRecord
from gateway.store.models import AuditRecord
from gateway.store.notifications import InAppNotification, SmsMessage
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from simulators.identities import demo_claims
from tests.conftest import GraphQLClient, mint
from tests.documents.test_signing import needs_postgres, service_stack

JSONRPC = "粤0104"
CSV = "粤0117"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
T = TypeVar("T")

APPLY = """
mutation ($n: String!, $files: [Upload!]!, $note: String, $client: String, $firm: String) {
  applyForCaseBinding(caseNumber: $n, powerOfAttorney: $files, note: $note, clientName: $client, lawFirm: $firm) {
    id caseNumber courtCode status dueAt appliedAt clientName asLawyer
    powerOfAttorney { name contentType size }
    reviewers { staffId role }
  }
}"""
DECIDE = """
mutation ($id: ID!, $approve: Boolean!, $note: String) {
  decideCaseBinding(applicationId: $id, approve: $approve, note: $note) {
    id status courtWrite decidedByName decisionNote
  }
}"""
ONE = """
query ($id: ID!) {
  caseBindingApplication(id: $id) { id status courtWrite recordedAt lastError dueAt }
}"""
MINE = "{ myCaseBindings(first: 50) { totalCount edges { node { id caseNumber status } } } }"
FOR_PANEL = """
query ($status: CaseBindingStatus) {
  caseBindingApplications(status: $status, first: 100) { totalCount edges { node { id caseNumber status } } }
}"""
MY_CASES = "{ myCases(first: 100) { totalCount edges { node { caseNumber courtCode } } } }"
CASE = "query ($n: String!) { case(caseNumber: $n) { caseNumber agents { licenceNumber } } }"
CASE_FILE = "query ($n: String!) { case(caseNumber: $n) { caseFile { kind materials { id } } } }"

#: cases taken by earlier tests of this session (each test works on cases of its own)
USED: set[str] = set()


# -- helpers --------------------------------------------------------------------------------------------


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def reasons(body: dict[str, Any]) -> list[str | None]:
    return [e["extensions"].get("reason") for e in body.get("errors", [])]


def services_of(gateway: GraphQLClient) -> Services:
    services: Services = gateway.app.state.services  # type: ignore[attr-defined]
    return services


def li_token(world: World, settings: Settings, **overrides: Any) -> str:
    """lawyer-li, in a session of her own (her licence, her name, a subject no other test uses); an override
    of None drops that claim (``firm=None``: an identity provider that does not name her law firm)."""
    claims = {**demo_claims(world, settings.seed_file, "lawyer-li"), "sub": f"lawyer-li-{uuid.uuid4().hex[:8]}"}
    claims.update(overrides)
    return mint_hs256({k: v for k, v in claims.items() if v is not None}, settings.jwt_hs256_secret)


def staff_token(world: World, settings: Settings, member: Staff, court: str) -> str:
    """A token for any staff member (the demo logins name one per role; panels have others)."""
    return mint(
        world,
        settings,
        "clerk-0104",
        sub=f"staff-{court}-{member.staff_id}",
        name=member.name,
        phone=member.phone,
        roles=["JUDGE" if member.role in (StaffRole.JUDGE, StaffRole.PRESIDING_JUDGE) else member.role.value],
        staff_id=member.staff_id,
        court=court,
        division=member.division,
    )


def fresh_case(
    cluster: SimulatorCluster, world: World, court: str, *, staff_id: str | None = None, not_staff: str | None = None
) -> Case:
    """A case lawyer-li is not on, with a clerk (``staff_id`` when given) on its panel, parties of distinct
    names, and none of the other demo people in it; one no other test here has used."""
    li = world.demo["lawyer-li"].number
    others = {world.demo[login].number for login in ("lawyer-chen", "party-wang")}
    for case in cluster.court_state(court).all_cases():
        names = [p.name for p in case.parties]
        panel = {s.staff_id for s in case.panel}
        if (
            case.case_number in USED
            or (staff_id and staff_id not in panel)
            or (not_staff and not_staff in panel)
            or not any(s.role == StaffRole.CLERK for s in case.panel)
            or any(a.licence_number in {li, *others} for a in case.agents)
            or any(p.id_number in others for p in case.parties)
            or len(set(names)) != len(names)
        ):
            continue
        USED.add(case.case_number)
        return case
    raise AssertionError(f"no fresh case at {court}")


def clerk_of(case: Case) -> Staff:
    return next(s for s in case.panel if s.role == StaffRole.CLERK)


async def apply(
    gateway: GraphQLClient,
    token: str,
    case_number: str,
    *,
    client: str | None = None,
    files: list[tuple[str, bytes, str]] | None = None,
    note: str | None = "本人受委托担任诉讼代理人，特申请绑定本案。",
    firm: str | None = None,
) -> dict[str, Any]:
    """applyForCaseBinding as a GraphQL multipart request (operations, map, then one part per file)."""
    files = files if files is not None else [("授权委托书.pdf", PDF, "application/pdf")]
    variables: dict[str, Any] = {
        "n": case_number,
        "files": [None] * len(files),
        "note": note,
        "client": client,
        "firm": firm,
    }
    form = aiohttp.FormData()
    form.add_field("operations", json.dumps({"query": APPLY, "variables": variables}), content_type="application/json")
    form.add_field("map", json.dumps({str(i): [f"variables.files.{i}"] for i in range(len(files))}))
    for i, (name, content, content_type) in enumerate(files):
        form.add_field(str(i), content, filename=name, content_type=content_type)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session, session.post(gateway.url, data=form, headers=headers) as response:
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body


async def applied(gateway: GraphQLClient, token: str, case: Case) -> dict[str, Any]:
    body = await apply(gateway, token, case.case_number, client=case.parties[0].name)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["applyForCaseBinding"]
    return result


async def my_case_numbers(gateway: GraphQLClient, token: str) -> list[str]:
    body = await gateway.query(MY_CASES, token=token)
    assert "errors" not in body, body
    return [e["node"]["caseNumber"] for e in body["data"]["myCases"]["edges"]]


async def eventually(check: Callable[[], Awaitable[T | None]], seconds: float = 10.0) -> T | None:
    for _ in range(int(seconds / 0.05)):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.05)
    return None


async def count(services: Services, model: Any, *where: Any) -> int:
    async with services.store.session(read_only=True) as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def outbox_of(services: Services) -> BindingOutbox:
    return next(w for w in services.workers.workers if isinstance(w, BindingOutbox))


@contextlib.contextmanager
def held(outbox: BindingOutbox, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The outbox does nothing meanwhile (the court has not recorded anything yet)."""
    run = outbox.run_once
    monkeypatch.setattr(outbox, "run_once", lambda: asyncio.sleep(0, 0))
    try:
        yield
    finally:
        monkeypatch.setattr(outbox, "run_once", run)


# -- over HTTP -----------------------------------------------------------------------------------------


async def test_a_lawyer_binds_to_a_case_the_clerk_approves_and_the_court_records_her_once(
    gateway: GraphQLClient,
    sims: SimulatorCluster,
    world: World,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = services_of(gateway)
    clerk = demo_claims(world, settings.seed_file, "clerk-0104")
    case = fresh_case(sims, world, JSONRPC, staff_id=clerk["staff_id"])
    li = li_token(world, settings)
    licence = world.demo["lawyer-li"].number
    assert case.case_number not in await my_case_numbers(gateway, li)

    application = await applied(gateway, li, case)
    assert application["status"] == "PENDING" and application["courtCode"] == JSONRPC and application["asLawyer"]
    assert application["powerOfAttorney"] == [
        {"name": "授权委托书.pdf", "contentType": "application/pdf", "size": len(PDF)}
    ]
    assert clerk["staff_id"] in {r["staffId"] for r in application["reviewers"]}
    key = parse_global_id(application["id"])[1]
    # the panel is told by SMS and in-app, in the courts' wording
    texts = [m.text for m in await sms_rows(services, f"binding:{key}:requested")]
    assert texts and all(t.startswith("【越秀法院】") and case.case_number in t and "授权委托书" in t for t in texts)
    assert await count(services, InAppNotification, InAppNotification.dedupe_key == f"binding:{key}:requested") == len(
        application["reviewers"]
    )
    panel = await gateway.query(FOR_PANEL, {"status": "PENDING"}, as_="clerk-0104")
    assert application["id"] in {e["node"]["id"] for e in panel["data"]["caseBindingApplications"]["edges"]}
    waiting = await service.pending_for_reviewer(services.store, viewer_from_claims(clerk))
    assert [(p.case_number, p.applicant_name) for p in waiting if p.id == key] == [(case.case_number, "李婉清")]

    outbox = outbox_of(services)
    with held(outbox, monkeypatch):
        body = await gateway.query(DECIDE, {"id": application["id"], "approve": True}, as_="clerk-0104")
        assert "errors" not in body, body
        decided = body["data"]["decideCaseBinding"]
        assert (decided["status"], decided["courtWrite"]) == ("APPROVED", "QUEUED")
        # in her cases at once, before the court has recorded anything; and the case opens for her
        assert case.case_number in await my_case_numbers(gateway, li)
        opened = await gateway.query(CASE, {"n": case.case_number}, token=li)
        assert opened["data"]["case"]["caseNumber"] == case.case_number
        assert licence not in {a["licenceNumber"] for a in opened["data"]["case"]["agents"]}
        assert not [r for r in sims.court_state(JSONRPC).agent_writes.values() if r.case_id == case.case_id]
        # off the panel's list of pending applications and out of the work queue
        waiting = await service.pending_for_reviewer(services.store, viewer_from_claims(clerk))
        assert key not in {p.id for p in waiting}
    services.workers.wake(outbox.name)

    async def recorded() -> dict[str, Any] | None:
        found = (await gateway.query(ONE, {"id": application["id"]}, token=li))["data"]["caseBindingApplication"]
        return found if found["status"] == "RECORDED" else None

    done = await eventually(recorded)
    assert done is not None and done["courtWrite"] == "RECORDED" and done["recordedAt"]
    writes = [r for r in sims.court_state(JSONRPC).agent_writes.values() if r.case_id == case.case_id]
    assert len(writes) == 1 and writes[0].deliveries == 1 and writes[0].agent.licence_number == licence
    at_court = sims.court_state(JSONRPC).case(case.case_id)
    assert [a.client_id_number for a in at_court.agents if a.licence_number == licence] == [case.parties[0].id_number]
    # listed once, from the court's own list now
    numbers = await my_case_numbers(gateway, li)
    assert numbers.count(case.case_number) == 1
    # the applicant was told; every step is audited and the log verifies
    decision = await sms_rows(services, f"binding:{key}:decided")
    assert [m.phone for m in decision] == [world.demo["lawyer-li"].phone] and "审核通过" in decision[0].text
    for action in ("binding.applied", "binding.decided", "binding.recorded"):
        assert await count(services, AuditRecord, AuditRecord.subject_id == key, AuditRecord.action == action) == 1
    async with services.store.session(read_only=True) as session:
        assert (await verify(session)).ok
    mine = await gateway.query(MINE, token=li)
    assert [e["node"]["status"] for e in mine["data"]["myCaseBindings"]["edges"]] == ["RECORDED"]


async def sms_rows(services: Services, dedupe_key: str) -> list[SmsMessage]:
    async with services.store.session(read_only=True) as session:
        return list(await session.scalars(select(SmsMessage).where(SmsMessage.dedupe_key == dedupe_key)))


async def test_at_a_csv_export_court_there_is_no_court_write_and_the_case_is_hers_all_the_same(
    gateway: GraphQLClient, sims: SimulatorCluster, world: World, settings: Settings
) -> None:
    case = fresh_case(sims, world, CSV)
    clerk = staff_token(world, settings, clerk_of(case), CSV)
    li = li_token(world, settings, firm=None)
    body = await apply(gateway, li, case.case_number, client=case.parties[0].name)
    assert reasons(body) == ["FIRM_MISSING"], "the court records a lawyer with their firm"
    body = await apply(gateway, li, case.case_number, client=case.parties[0].name, firm=world.demo["lawyer-li"].firm)
    assert "errors" not in body, body
    application = body["data"]["applyForCaseBinding"]
    body = await gateway.query(DECIDE, {"id": application["id"], "approve": True}, token=clerk)
    assert "errors" not in body, body
    assert (body["data"]["decideCaseBinding"]["status"], body["data"]["decideCaseBinding"]["courtWrite"]) == (
        "APPROVED",
        "UNSUPPORTED",
    )
    numbers = await my_case_numbers(gateway, li)
    assert numbers.count(case.case_number) == 1
    opened = await gateway.query(CASE, {"n": case.case_number}, token=li)
    assert opened["data"]["case"]["caseNumber"] == case.case_number
    # bound, she reads the case file as a lawyer of record would, though the court never recorded her
    read = await gateway.query(CASE_FILE, {"n": case.case_number}, token=li)
    if case.status == CaseStatus.ARCHIVED:
        assert codes(read) == ["APPLICATION_REQUIRED"]
    else:
        assert "errors" not in read, read
        assert {v["kind"] for v in read["data"]["case"]["caseFile"]} <= {"MAIN"}, "never the 副卷"
    await asyncio.sleep(0.3)  # the outbox has nothing to deliver at this court
    assert not [r for r in sims.court_state(CSV).agent_writes.values() if r.case_id == case.case_id]
    assert (await gateway.query(ONE, {"id": application["id"]}, token=li))["data"]["caseBindingApplication"][
        "status"
    ] == "APPROVED"
    # another lawyer still cannot open it
    other = await gateway.query(CASE, {"n": case.case_number}, as_="lawyer-chen")
    assert codes(other) == ["NOT_FOUND"]


async def test_the_court_down_at_approval_records_her_when_it_is_back(
    gateway: GraphQLClient, sims: SimulatorCluster, world: World, settings: Settings
) -> None:
    services = services_of(gateway)
    clerk = demo_claims(world, settings.seed_file, "clerk-0104")
    case = fresh_case(sims, world, JSONRPC, staff_id=clerk["staff_id"])
    li = li_token(world, settings)
    application = await applied(gateway, li, case)
    await sims.set_outage(JSONRPC, True)
    body = await gateway.query(DECIDE, {"id": application["id"], "approve": True}, as_="clerk-0104")
    assert body["data"]["decideCaseBinding"]["status"] == "APPROVED", "deciding does not wait for the court"

    async def failing() -> dict[str, Any] | None:
        found = (await gateway.query(ONE, {"id": application["id"]}, token=li))["data"]["caseBindingApplication"]
        return found if found["lastError"] else None

    waiting = await eventually(failing)
    assert waiting is not None and waiting["courtWrite"] == "QUEUED" and waiting["lastError"].startswith("COURT_")
    assert not [r for r in sims.court_state(JSONRPC).agent_writes.values() if r.case_id == case.case_id]

    await sims.set_outage(JSONRPC, False)
    hours = [1]
    later = BindingOutbox(
        services.store,
        services.registry,
        services.cache,
        RetryPolicy(base_s=0.05, cap_s=0.2),
        clock=lambda: datetime.now(UTC) + timedelta(hours=hours[0]),
    )
    state: dict[str, Any] = {}
    for _ in range(100):
        await later.run_once()
        state = (await gateway.query(ONE, {"id": application["id"]}, token=li))["data"]["caseBindingApplication"]
        if state["status"] == "RECORDED":
            break
        hours[0] += 1  # a failed round (the breaker still open) pushed the next attempt on: follow it
        await asyncio.sleep(0.1)
    assert state["status"] == "RECORDED" and state["lastError"] is None
    writes = [r for r in sims.court_state(JSONRPC).agent_writes.values() if r.case_id == case.case_id]
    assert len(writes) == 1 and writes[0].deliveries == 1


async def test_a_rejected_binding_lists_nothing_and_tells_the_applicant_why(
    gateway: GraphQLClient, sims: SimulatorCluster, world: World, settings: Settings
) -> None:
    services = services_of(gateway)
    clerk = demo_claims(world, settings.seed_file, "clerk-0104")
    case = fresh_case(sims, world, JSONRPC, staff_id=clerk["staff_id"])
    li = li_token(world, settings)
    application = await applied(gateway, li, case)
    body = await gateway.query(
        DECIDE, {"id": application["id"], "approve": False, "note": "授权委托书未经委托人签字"}, as_="clerk-0104"
    )
    decided = body["data"]["decideCaseBinding"]
    assert (decided["status"], decided["courtWrite"], decided["decisionNote"]) == (
        "REJECTED",
        None,
        "授权委托书未经委托人签字",
    )
    assert case.case_number not in await my_case_numbers(gateway, li)
    assert codes(await gateway.query(CASE, {"n": case.case_number}, token=li)) == ["NOT_FOUND"]
    [text] = [m.text for m in await sms_rows(services, f"binding:{parse_global_id(application['id'])[1]}:decided")]
    assert "未获通过" in text and "授权委托书未经委托人签字" in text
    again = await gateway.query(DECIDE, {"id": application["id"], "approve": True}, as_="clerk-0104")
    assert reasons(again) == ["ALREADY_DECIDED"]
    # a rejected application may be made again
    assert (await applied(gateway, li, case))["status"] == "PENDING"


async def test_only_the_cases_panel_decides_and_only_the_applicant_reads(
    gateway: GraphQLClient, sims: SimulatorCluster, world: World, settings: Settings
) -> None:
    clerk = demo_claims(world, settings.seed_file, "clerk-0104")
    judge = demo_claims(world, settings.seed_file, "judge-0104")
    case = fresh_case(sims, world, JSONRPC, staff_id=clerk["staff_id"], not_staff=judge["staff_id"])
    li = li_token(world, settings)
    application = await applied(gateway, li, case)
    variables = {"id": application["id"], "approve": True}
    # another court's clerk, a judge of the court off this panel, the division head: NOT_FOUND
    for login in ("clerk-01", "judge-01", "judge-0104", "head-0104"):
        assert codes(await gateway.query(DECIDE, variables, as_=login)) == ["NOT_FOUND"], login
        assert codes(await gateway.query(ONE, {"id": application["id"]}, as_=login)) == ["NOT_FOUND"], login
        listed = await gateway.query(FOR_PANEL, {}, as_=login)
        assert application["id"] not in {e["node"]["id"] for e in listed["data"]["caseBindingApplications"]["edges"]}
    # another lawyer reads nothing and decides nothing
    assert codes(await gateway.query(ONE, {"id": application["id"]}, as_="lawyer-chen")) == ["NOT_FOUND"]
    node = "query ($id: ID!) { node(id: $id) { id ... on CaseBindingApplication { status } } }"
    assert codes(await gateway.query(node, {"id": application["id"]}, as_="lawyer-chen")) == ["NOT_FOUND"]
    assert (await gateway.query(node, {"id": application["id"]}, token=li))["data"]["node"]["status"] == "PENDING"
    assert codes(await gateway.query(DECIDE, variables, as_="lawyer-chen")) == ["FORBIDDEN"]
    assert codes(await gateway.query(DECIDE, variables, token=li)) == ["FORBIDDEN"], "nor the applicant herself"
    mine = await gateway.query(MINE, as_="lawyer-chen")
    assert application["id"] not in {e["node"]["id"] for e in mine["data"]["myCaseBindings"]["edges"]}
    # still pending, for the panel
    state = await gateway.query(ONE, {"id": application["id"]}, as_="clerk-0104")
    assert state["data"]["caseBindingApplication"]["status"] == "PENDING"
    # a phone-verified identity may not apply
    phone_only = li_token(world, settings, level="PHONE")
    other = fresh_case(sims, world, JSONRPC)
    body = await apply(gateway, phone_only, other.case_number, client=other.parties[0].name)
    assert codes(body) == ["FORBIDDEN"]
    assert not await service.pending_for_reviewer(
        services_of(gateway).store, viewer_from_claims(demo_claims(world, settings.seed_file, "head-0104"))
    )


async def test_bad_input_is_typed(
    gateway: GraphQLClient, sims: SimulatorCluster, world: World, settings: Settings
) -> None:
    li = li_token(world, settings)
    case = fresh_case(sims, world, JSONRPC)
    client = case.parties[0].name
    assert codes(await apply(gateway, li, "（2024）粤0104民初999999号", client=client)) == ["NOT_FOUND"]
    assert codes(await apply(gateway, li, "hello", client=client)) == ["INVALID_CASE_NUMBER"]
    own = next(
        c
        for c in sims.court_state(JSONRPC).all_cases()
        if any(a.licence_number == world.demo["lawyer-li"].number for a in c.agents)
    )
    assert reasons(await apply(gateway, li, own.case_number, client=own.parties[0].name)) == ["ALREADY_ON_CASE"]
    assert reasons(await apply(gateway, li, case.case_number)) == ["CLIENT_MISSING"]
    # a client who is no party is the panel's to judge (tests/bindings/test_binding_probes.py); too long a name is not
    assert reasons(await apply(gateway, li, case.case_number, client="名" * 101)) == ["CLIENT_TOO_LONG"]
    text = [("授权委托书.pdf", b"just text, not a PDF", "application/pdf")]
    body = await apply(gateway, li, case.case_number, client=client, files=text)
    assert reasons(body) == ["FILE_TYPE"] and body["errors"][0]["extensions"]["file"] == "授权委托书.pdf"
    assert reasons(await apply(gateway, li, case.case_number, client=client, files=[])) == ["NO_FILES"]
    assert reasons(await apply(gateway, li, case.case_number, client=client, note="长" * 501)) == ["NOTE_TOO_LONG"]
    first = await applied(gateway, li, case)
    assert first["status"] == "PENDING"
    assert reasons(await apply(gateway, li, case.case_number, client=client)) == ["DUPLICATE_APPLICATION"]
    mine = await gateway.query(MINE, token=li)
    assert mine["data"]["myCaseBindings"]["totalCount"] == 1, "nothing of the refused ones was stored"


async def test_the_review_is_due_three_working_days_later(
    gateway: GraphQLClient, sims: SimulatorCluster, world: World, settings: Settings
) -> None:
    services = services_of(gateway)
    case = fresh_case(sims, world, JSONRPC)
    application = await applied(gateway, li_token(world, settings), case)
    key = parse_global_id(application["id"])[1]
    async with services.store.session(read_only=True) as session:
        row = await session.scalar(
            select(DeadlineRecord).where(DeadlineRecord.subject_type == "binding", DeadlineRecord.subject_id == key)
        )
    assert row is not None and row.working_days == 3 and row.case_number == case.case_number
    calendar = deadlines.calendar_for(settings)
    assert row.due_at == calendar.deadline(row.started_at, 3)
    assert datetime.fromisoformat(application["dueAt"]) == row.due_at
    assert row.due_at > row.started_at + timedelta(days=2)


# -- the service layer and the outbox, on SQLite and PostgreSQL ------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
async def stack(
    request: pytest.FixtureRequest, tmp_path: Path, settings: Settings, sims: SimulatorCluster
) -> AsyncIterator[Services]:
    async with service_stack(request.param, tmp_path, settings) as services:
        yield services


def binding_service(services: Services) -> service.BindingService:
    return services.bindings


def viewer_of(world: World, settings: Settings, login: str, **overrides: Any) -> Any:
    claims = {**demo_claims(world, settings.seed_file, login), **overrides}
    if login == "lawyer-li":
        claims.setdefault("firm", world.demo["lawyer-li"].firm)
    return viewer_from_claims(claims)


def attorney() -> list[IncomingFile]:
    return [IncomingFile("授权委托书.pdf", "application/pdf", PDF)]


def outbox(services: Services, now: datetime | None = None) -> BindingOutbox:
    """An outbox without backoff, running at ``now`` (a simulated time) or the real clock."""
    policy = RetryPolicy(base_s=0, cap_s=0, lease_s=60)
    if now is None:
        return BindingOutbox(services.store, services.registry, services.cache, policy)
    return BindingOutbox(services.store, services.registry, services.cache, policy, clock=lambda: now)


#: a Friday morning: three working days later is the Wednesday's end of office hours
FRIDAY = datetime(2026, 11, 20, 10, 0, tzinfo=CHINA_TZ)


async def test_apply_decide_record_on_each_database(
    stack: Services, sims: SimulatorCluster, world: World, settings: Settings
) -> None:
    clerk = viewer_of(world, settings, "clerk-0104")
    case = fresh_case(sims, world, JSONRPC, staff_id=clerk.staff_id)
    li = viewer_of(world, settings, "lawyer-li", sub=f"li-{uuid.uuid4().hex[:6]}")
    bindings = binding_service(stack)
    view = await bindings.apply(
        li, case_number=case.case_number, files=attorney(), client_name=case.parties[0].name, now=FRIDAY
    )
    assert view.due_at == datetime(2026, 11, 25, 17, 30, tzinfo=CHINA_TZ)
    assert [p.id for p in await service.pending_for_reviewer(stack.store, clerk)] == [view.id]

    # overdue: the division head is told first (the shared escalation engine)
    scheduler = deadlines.EscalationScheduler(stack)
    assert await scheduler.run_once(datetime(2026, 11, 26, 9, 0, tzinfo=CHINA_TZ)) == 1
    assert await scheduler.run_once(datetime(2026, 11, 26, 9, 5, tzinfo=CHINA_TZ)) == 0, "once only"
    async with stack.store.session(read_only=True) as session:
        escalated = await deadlines.escalations_of(session, "binding", [view.id])
    assert [e.level for e in escalated[view.id]] == [1]
    assert escalated[view.id][0].recipients[0].role == StaffRole.DIVISION_HEAD

    decided = await bindings.decide(clerk, view.id, approve=True, now=FRIDAY + timedelta(days=6))
    assert (decided.status, decided.court_write) == ("APPROVED", "QUEUED")
    assert not await service.pending_for_reviewer(stack.store, clerk)
    bound = await service.approved_bindings(stack.store, li.subject)
    assert [(b.court_code, b.case_number) for b in bound] == [(JSONRPC, case.case_number)]
    listed = await stack.cases.my_cases(
        li, first=100, after=None, filter=CaseFilter(), order=CaseOrder.FILED_DESC, bound=bound
    )
    assert [c.case_number for c in listed.cases].count(case.case_number) == 1

    later = FRIDAY + timedelta(days=6, minutes=1)
    workers = [outbox(stack, later), outbox(stack, later)]
    assert sum(await asyncio.gather(*(w.run_once() for w in workers))) == 1, "claimed by one worker only"
    async with stack.store.session(read_only=True) as session:
        row = await session.get(BindingRecord, view.id)
        assert row is not None and (row.status, row.court_write) == ("RECORDED", "RECORDED")
    writes = [r for r in sims.court_state(JSONRPC).agent_writes.values() if r.case_id == case.case_id]
    assert len(writes) == 1 and writes[0].deliveries == 1
    assert await outbox(stack, later + timedelta(hours=1)).run_once() == 0
    listed = await stack.cases.my_cases(
        li, first=100, after=None, filter=CaseFilter(), order=CaseOrder.FILED_DESC, bound=bound
    )
    assert [c.case_number for c in listed.cases].count(case.case_number) == 1, "never twice"


async def test_two_applications_at_once_store_one(
    stack: Services, sims: SimulatorCluster, world: World, settings: Settings
) -> None:
    case = fresh_case(sims, world, CSV)
    li = viewer_of(world, settings, "lawyer-li", sub=f"li-{uuid.uuid4().hex[:6]}")
    bindings = binding_service(stack)

    async def one() -> str:
        try:
            await bindings.apply(li, case_number=case.case_number, files=attorney(), client_name=case.parties[0].name)
        except InvalidInput as e:
            return e.reason
        return "stored"

    outcomes = sorted(await asyncio.gather(*(one() for _ in range(4))))
    assert outcomes == ["DUPLICATE_APPLICATION"] * 3 + ["stored"]
    assert await count(stack, BindingRecord, BindingRecord.applicant_subject == li.subject) == 1
    assert await count(stack, DeadlineRecord, DeadlineRecord.subject_type == "binding") == 1


# -- loose ends: role filters, the panel at decision time, what the deadline is ---------------------------

MY_CASES_AS = """
query ($roles: [PartyRole!], $order: CaseOrder!) {
  myCases(first: 100, filter: {roles: $roles}, orderBy: $order) { edges { node { caseNumber } } }
}"""


async def test_an_approved_binding_counts_for_role_filters_in_the_very_next_request(
    gateway: GraphQLClient,
    sims: SimulatorCluster,
    world: World,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Approved, not yet recorded at the court: myCases filtered by her client's role lists the case at
    once (in both orders); filtered by a role her client does not have, it does not."""
    clerk = demo_claims(world, settings.seed_file, "clerk-0104")
    case = fresh_case(sims, world, JSONRPC, staff_id=clerk["staff_id"])
    client = case.parties[0]
    other_roles = sorted({p.role.value for p in case.parties if p.role != client.role}) or ["THIRD_PARTY"]
    li = li_token(world, settings)
    application = await applied(gateway, li, case)
    with held(outbox_of(services_of(gateway)), monkeypatch):
        body = await gateway.query(DECIDE, {"id": application["id"], "approve": True}, as_="clerk-0104")
        assert body["data"]["decideCaseBinding"]["courtWrite"] == "QUEUED"
        for order in ("FILED_DESC", "LAST_ACTIVITY_DESC"):
            mine = await gateway.query(MY_CASES_AS, {"roles": [client.role.value], "order": order}, token=li)
            assert "errors" not in mine, mine
            numbers = [e["node"]["caseNumber"] for e in mine["data"]["myCases"]["edges"]]
            assert numbers.count(case.case_number) == 1, f"{order}: her client's side counts before the court's record"
            other = await gateway.query(MY_CASES_AS, {"roles": other_roles, "order": order}, token=li)
            assert case.case_number not in [e["node"]["caseNumber"] for e in other["data"]["myCases"]["edges"]]
        assert not [r for r in sims.court_state(JSONRPC).agent_writes.values() if r.case_id == case.case_id]


async def test_the_panel_at_decision_time_reviews_not_the_one_at_application_time(
    stack: Services, sims: SimulatorCluster, world: World, settings: Settings
) -> None:
    """The case is reassigned after the application: its old clerk may no longer decide (nor see it), the
    new clerk may, and the application's reviewers and its deadline's handlers follow the new panel."""
    old_clerk = viewer_of(world, settings, "clerk-0104")
    case = fresh_case(sims, world, JSONRPC, staff_id=old_clerk.staff_id)
    li = viewer_of(world, settings, "lawyer-li", sub=f"li-{uuid.uuid4().hex[:6]}")
    bindings = binding_service(stack)
    view = await bindings.apply(
        li, case_number=case.case_number, files=attorney(), client_name=case.parties[0].name, now=FRIDAY
    )
    assert old_clerk.staff_id in {r.staff_id for r in view.reviewers}

    roster = sims.court_state(JSONRPC).staff()
    on_panel = {s.staff_id for s in case.panel}
    new_clerk = next(
        s for s in roster if s.role == StaffRole.CLERK and s.division == case.division and s.staff_id not in on_panel
    )
    reassigned = replace(case, panel=tuple(new_clerk if s.staff_id == old_clerk.staff_id else s for s in case.panel))
    state = sims.court_state(JSONRPC)
    state.overrides[case.case_id] = reassigned
    try:
        new = viewer_from_claims(
            {
                "sub": f"staff-{new_clerk.staff_id}",
                "name": new_clerk.name,
                "phone": new_clerk.phone,
                "roles": ["CLERK"],
                "level": "FACE",
                "staff_id": new_clerk.staff_id,
                "court": JSONRPC,
                "division": new_clerk.division,
            }
        )
        with pytest.raises(service.NoSuchBinding):
            await bindings.decide(old_clerk, view.id, approve=True, now=FRIDAY + timedelta(days=1))
        seen = await bindings.get(new, view.id)
        assert seen is not None and seen.id == view.id, "on the case now: they may open it before deciding"
        decided = await bindings.decide(new, view.id, approve=True, now=FRIDAY + timedelta(days=1))
    finally:
        state.overrides[case.case_id] = case
    assert decided.status == "APPROVED" and decided.decided_by_name == new_clerk.name
    assert new_clerk.staff_id in {r.staff_id for r in decided.reviewers}
    assert old_clerk.staff_id not in {r.staff_id for r in decided.reviewers}
    async with stack.store.session(read_only=True) as session:
        tracked = await deadlines.deadline_of(session, "binding", view.id)
    assert tracked is not None and new_clerk.staff_id in tracked.handlers
    assert old_clerk.staff_id not in tracked.handlers
    assert tracked.settlement == deadlines.Settlement.DECIDED and tracked.due_at == view.due_at, "the deadline stays"


def test_the_binding_deadline_is_labelled_as_the_courts_review_target_not_art_10() -> None:
    """在线诉讼规则 art. 10's 三日 is the notified participant's time to link the case; what the gateway
    tracks is the panel's review of the application, the court's own configured target."""
    from gateway.schema import schema

    field = schema._schema.type_map["CaseBindingApplication"].fields["dueAt"]  # type: ignore[union-attr]
    description = field.description or ""
    assert "review target" in description and "participant's time to link the case" in description
    assert "3 working days later (在线诉讼规则 art. 10)" not in description
    assert Settings.model_fields["binding_review_working_days"].default == 3
