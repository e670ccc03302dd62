"""Case-file reading (电子阅卷) end to end: direct downloads by parties and agents of record, archive
applications and their reading windows, watermark and seal on what is delivered, and the audit trail.

GraphQL tests run against the session's gateway (SQLite, real HTTP, real simulators); "now" is moved
through ``Services.clock``. The service tests build their own services on a fresh database of each kind
(SQLite, and PostgreSQL when ``GATEWAY_TEST_POSTGRES_URL`` is set).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import aiohttp
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from gateway.adapters.model import CHINA_TZ, Case, CaseStatus, PersonRef, VolumeKind
from gateway.archive.reading import readable
from gateway.archive.service import (
    Access,
    ApplicationStatus,
    NeedsApplication,
    NoSuchApplication,
    NoSuchCase,
    ReadingGrant,
    WindowClosed,
    pending_for_archivist,
    reading_grant,
)
from gateway.config import Settings
from gateway.core.access import mask_id_number
from gateway.core.deadlines import calendar_for
from gateway.core.uploads import IncomingFile, InvalidInput
from gateway.identity import Viewer, viewer_from_claims
from gateway.notifications.service import person_key
from gateway.schema.common import parse_global_id
from gateway.services import Services, build_services
from gateway.store.archive import ArchiveApplicationRecord
from gateway.store.audit import verify
from gateway.store.migrate import upgrade_async
from gateway.store.models import AuditRecord
from gateway.store.notifications import InAppNotification, SmsMessage
from gateway.store.testing import postgres_schema, sqlite_url
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from simulators.identities import demo_claims
from tests.conftest import GraphQLClient, mint

POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="GATEWAY_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped"
)

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ZIP = b"PK\x03\x04" + bytes(64)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(32)

DOWNLOAD = """
mutation($n: String!, $m: ID!) {
  downloadMaterial(caseNumber: $n, materialId: $m) { url expiresAt traceId access caseNumber material { id title } }
}
"""
APPLY = """
mutation($n: String!, $reason: String!, $files: [Upload!]) {
  applyForArchiveAccess(caseNumber: $n, reason: $reason, attachments: $files) {
    id caseNumber courtCode status ofRecord dueAt windowOpen attachments { name contentType sha256 }
  }
}
"""
DECIDE = """
mutation($id: ID!, $approve: Boolean!, $note: String) {
  decideArchiveAccess(applicationId: $id, approve: $approve, note: $note) {
    id status decidedByName decisionNote windowOpensAt windowClosesAt windowOpen
  }
}
"""
CASE_FILE = """
query($n: String!) { case(caseNumber: $n) { caseNumber caseFile { kind materials { id published } } } }
"""
APPLICATION_FILE = """
query($id: ID!) { archiveApplication(id: $id) { status caseFile { kind materials { id published } } } }
"""
MINE = """
query { myArchiveApplications(first: 50) { totalCount edges { node { id caseNumber status } } } }
"""
OF_COURT = """
query($status: ArchiveApplicationStatus) {
  archiveApplications(status: $status, first: 100) { totalCount edges { node { id courtCode caseNumber status } } }
}
"""


# -- finding the right cases in the seeded world --------------------------------------------------------


def person_ref(world: World, login: str) -> PersonRef:
    person = world.demo[login]
    return PersonRef(person.kind, person.number)


def cases_of(cluster: SimulatorCluster, world: World, login: str) -> list[Case]:
    found: list[Case] = []
    for code in world.courts:
        with contextlib.suppress(AssertionError):
            found += cluster.court_state(code).cases_of(person_ref(world, login))
    return found


def wangs_case(cluster: SimulatorCluster, world: World, status: CaseStatus, court: str | None = None) -> Case:
    """One of party-wang's public cases in ``status`` (the seed gives her closed and archived ones), at
    ``court`` or, without one, at any court but 粤0104 (whose archived case the application tests use)."""
    return next(
        c
        for c in cases_of(cluster, world, "party-wang")
        if c.status == status and c.public_hearing and (c.court_code == court if court else c.court_code != "粤0104")
    )


def main_material(cluster: SimulatorCluster, case: Case) -> str:
    volumes = cluster.court_state(case.court_code).volumes(case.case_id)
    return next(v for v in volumes if v.kind == VolumeKind.MAIN).materials[0].material_id


def internal_material(cluster: SimulatorCluster, case: Case) -> str:
    volumes = cluster.court_state(case.court_code).volumes(case.case_id)
    return next(v for v in volumes if v.kind == VolumeKind.INTERNAL).materials[0].material_id


def archived_cases_at_0104_not_of(cluster: SimulatorCluster, world: World, login: str) -> list[Case]:
    """Archived public cases of 粤0104 where ``login`` (a lawyer) is not of record, in a stable order."""
    licence = world.demo[login].number
    state = cluster.court_state("粤0104")
    cases = [state.case(case_id) for case_id in sorted(world.courts["粤0104"].cases)]
    return [
        c
        for c in cases
        if c.status == CaseStatus.ARCHIVED and c.public_hearing and all(a.licence_number != licence for a in c.agents)
    ]


# -- helpers over HTTP ----------------------------------------------------------------------------------


def services_of(gateway: GraphQLClient) -> Services:
    services: Services = gateway.app.state.services  # type: ignore[attr-defined]
    return services


@contextlib.contextmanager
def moved_clock(services: Services, by: timedelta) -> Iterator[None]:
    """The gateway's "now" moved by ``by`` for the block (links, windows and deadlines follow it)."""
    real = services.clock
    services.clock = lambda: real() + by
    try:
        yield
    finally:
        services.clock = real


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def reasons(body: dict[str, Any]) -> list[str]:
    return [e["extensions"].get("reason", "") for e in body.get("errors", [])]


async def apply(
    gateway: GraphQLClient,
    case_number: str,
    reason: str,
    files: list[tuple[str, bytes, str]],
    *,
    as_: str = "lawyer-li",
) -> dict[str, Any]:
    """applyForArchiveAccess as a GraphQL multipart request."""
    variables: dict[str, Any] = {"n": case_number, "reason": reason, "files": [None] * len(files)}
    form = aiohttp.FormData()
    form.add_field("operations", json.dumps({"query": APPLY, "variables": variables}), content_type="application/json")
    form.add_field("map", json.dumps({str(i): [f"variables.files.{i}"] for i in range(len(files))}))
    for i, (name, content, content_type) in enumerate(files):
        form.add_field(str(i), content, filename=name, content_type=content_type)
    headers = {"Authorization": f"Bearer {gateway.tokens[as_]}"}
    async with aiohttp.ClientSession() as session, session.post(gateway.url, data=form, headers=headers) as response:
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body


async def fetch(gateway: GraphQLClient, url: str) -> tuple[int, bytes, dict[str, str]]:
    """GET a download link (relative to the gateway unless ``public_url`` is set)."""
    async with aiohttp.ClientSession() as session, session.get(urljoin(gateway.url, url)) as response:
        return response.status, await response.read(), dict(response.headers)


def page_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages]


async def audit_of(services: Services, action: str, trace_id: str) -> list[AuditRecord]:
    async with services.store.session(read_only=True) as session:
        rows = await session.scalars(select(AuditRecord).where(AuditRecord.action == action))
        return [r for r in rows if (r.details or {}).get("trace_id") == trace_id]


async def decision_notices(services: Services, application_id: str) -> tuple[list[SmsMessage], list[InAppNotification]]:
    key = f"archive:{application_id}:decided"
    async with services.store.session(read_only=True) as session:
        sms = list(await session.scalars(select(SmsMessage).where(SmsMessage.dedupe_key == key)))
        notices = list(await session.scalars(select(InAppNotification).where(InAppNotification.dedupe_key == key)))
    return sms, notices


# -- direct access: parties and agents of record -----------------------------------------------------------


async def test_the_internal_file_is_never_issued_to_a_lawyer_of_record(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    licence = world.demo["lawyer-li"].number
    case = next(
        c
        for c in cases_of(cluster, world, "lawyer-li")
        if c.public_hearing and c.status != CaseStatus.ARCHIVED and any(a.licence_number == licence for a in c.agents)
    )
    body = await gateway.query(
        DOWNLOAD, {"n": case.case_number, "m": internal_material(cluster, case)}, as_="lawyer-li"
    )
    # not FORBIDDEN: the answer must not tell that a 副卷 material with this id exists (ids are sequential)
    assert codes(body) == ["NOT_FOUND"] and body["data"] is None
    missing = await gateway.query(DOWNLOAD, {"n": case.case_number, "m": "no-such-material"}, as_="lawyer-li")
    assert missing["errors"][0]["message"] == body["errors"][0]["message"]
    assert missing["errors"][0]["extensions"] == body["errors"][0]["extensions"]
    # the same lawyer reads the 正卷 of that case
    ok = await gateway.query(DOWNLOAD, {"n": case.case_number, "m": main_material(cluster, case)}, as_="lawyer-li")
    assert "errors" not in ok and ok["data"]["downloadMaterial"]["access"] == "DIRECT"


async def test_strangers_low_identity_levels_and_archived_cases_are_refused(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    closed = wangs_case(cluster, world, CaseStatus.CLOSED)
    variables = {"n": closed.case_number, "m": main_material(cluster, closed)}
    # a lawyer who is no party's agent in her case
    assert codes(await gateway.query(DOWNLOAD, variables, as_="lawyer-li")) == ["NOT_FOUND"]
    # her own case, but with a phone-verified identity only
    phone = mint(world, settings, "party-wang", level="PHONE")
    assert codes(await gateway.query(DOWNLOAD, variables, token=phone)) == ["FORBIDDEN"]
    # another court's staff
    elsewhere = "archivist-01" if closed.court_code != "粤01" else "archivist-0104"
    assert codes(await gateway.query(DOWNLOAD, variables, as_=elsewhere)) == ["NOT_FOUND"]
    # her archived case needs an application first
    archived = wangs_case(cluster, world, CaseStatus.ARCHIVED)
    body = await gateway.query(
        DOWNLOAD, {"n": archived.case_number, "m": main_material(cluster, archived)}, as_="party-wang"
    )
    assert codes(body) == ["APPLICATION_REQUIRED"]
    listed = await gateway.query(CASE_FILE, {"n": archived.case_number}, as_="party-wang")
    assert codes(listed) == ["APPLICATION_REQUIRED"] and listed["data"]["case"]["caseFile"] is None
    # her closed case lists the 正卷's published materials only
    listed = await gateway.query(CASE_FILE, {"n": closed.case_number}, as_="party-wang")
    assert [v["kind"] for v in listed["data"]["case"]["caseFile"]] == ["MAIN"]
    assert all(m["published"] for m in listed["data"]["case"]["caseFile"][0]["materials"])
    # no such material, and no token at all
    body = await gateway.query(DOWNLOAD, {"n": closed.case_number, "m": "nope"}, as_="party-wang")
    assert codes(body) == ["NOT_FOUND"]
    assert codes(await gateway.query(DOWNLOAD, variables)) == ["UNAUTHENTICATED"]


def test_only_the_main_files_published_materials_of_public_cases_are_readable(
    cluster: SimulatorCluster, world: World
) -> None:
    case = next(c for c in world.courts["粤0104"].cases.values() if c.public_hearing)
    volumes = cluster.court_state("粤0104").volumes(case.case_id)
    direct = readable(case, volumes, ReadingGrant(Access.DIRECT))
    assert [v.kind for v in direct] == [VolumeKind.MAIN]
    assert direct[0].materials and all(m.published for m in direct[0].materials)
    private = replace(case, public_hearing=False)
    assert all(not v.materials for v in readable(private, volumes, ReadingGrant(Access.WINDOW)))
    assert {v.kind for v in readable(private, volumes, ReadingGrant(Access.STAFF))} == {
        VolumeKind.MAIN,
        VolumeKind.INTERNAL,
    }


# -- applications: apply, decide, read in the window, the window closes --------------------------------------


async def test_a_lawyer_applies_for_an_archived_case_reads_in_the_window_and_not_after(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    services = services_of(gateway)
    case = archived_cases_at_0104_not_of(cluster, world, "lawyer-li")[0]
    material = {"n": case.case_number, "m": main_material(cluster, case)}
    # not of record: no direct access at all
    assert codes(await gateway.query(DOWNLOAD, material, as_="lawyer-li")) == ["NOT_FOUND"]

    body = await apply(
        gateway, case.case_number, "准备申请再审，需查阅原审卷宗", [("授权委托书.pdf", PDF, "application/pdf")]
    )
    assert "errors" not in body, body
    application = body["data"]["applyForArchiveAccess"]
    assert application["status"] == "PENDING" and application["courtCode"] == "粤0104"
    assert application["ofRecord"] is False and application["attachments"][0]["contentType"] == "application/pdf"
    app_id = application["id"]
    key = parse_global_id(app_id)[1]
    # applying twice while it waits is refused
    again = await apply(gateway, case.case_number, "再次申请", [("授权委托书.pdf", PDF, "application/pdf")])
    assert reasons(again) == ["ALREADY_PENDING"]
    # before the decision: no window, and the error says to wait for the decision, due when
    waiting_body = await gateway.query(DOWNLOAD, material, as_="lawyer-li")
    assert codes(waiting_body) == ["ACCESS_WINDOW_CLOSED"]
    assert reasons(waiting_body) == ["APPLICATION_PENDING"]
    assert datetime.fromisoformat(waiting_body["errors"][0]["extensions"]["dueAt"]) == datetime.fromisoformat(
        application["dueAt"]
    )
    waiting_file = await gateway.query(APPLICATION_FILE, {"id": app_id}, as_="lawyer-li")
    assert "errors" not in waiting_file and waiting_file["data"]["archiveApplication"]["caseFile"] is None
    # the archive office of 粤0104 sees it; 粤01's does not, and may not decide it; nor may the applicant
    mine = await gateway.query(OF_COURT, {"status": "PENDING"}, as_="archivist-0104")
    assert app_id in {e["node"]["id"] for e in mine["data"]["archiveApplications"]["edges"]}
    assert {e["node"]["courtCode"] for e in mine["data"]["archiveApplications"]["edges"]} == {"粤0104"}
    other = await gateway.query(OF_COURT, {"status": "PENDING"}, as_="archivist-01")
    assert app_id not in {e["node"]["id"] for e in other["data"]["archiveApplications"]["edges"]}
    assert codes(await gateway.query(OF_COURT, {}, as_="lawyer-li")) == ["FORBIDDEN"]
    waiting = await pending_for_archivist(services.store, viewer_of_token(gateway, world, "archivist-0104"))
    assert key in {p.id for p in waiting}
    assert next(p for p in waiting if p.id == key).due_at > next(p for p in waiting if p.id == key).received_at
    assert await pending_for_archivist(services.store, viewer_of_token(gateway, world, "archivist-01")) == []
    decide = {"id": app_id, "approve": True, "note": "同意查阅正卷"}
    assert codes(await gateway.query(DECIDE, decide, as_="archivist-01")) == ["NOT_FOUND"]
    assert codes(await gateway.query(DECIDE, decide, as_="lawyer-li")) == ["FORBIDDEN"]

    approved = await gateway.query(DECIDE, decide, as_="archivist-0104")
    assert "errors" not in approved, approved
    decided = approved["data"]["decideArchiveAccess"]
    assert decided["status"] == "APPROVED" and decided["windowOpen"] is True
    opens = datetime.fromisoformat(decided["windowOpensAt"])
    closes = datetime.fromisoformat(decided["windowClosesAt"])
    assert closes - opens == timedelta(hours=services.settings.archive_window_hours)
    # deciding again changes nothing, and the applicant is told once, by SMS and in-app
    assert reasons(await gateway.query(DECIDE, decide, as_="archivist-0104")) == ["ALREADY_DECIDED"]
    sms, notices = await decision_notices(services, key)
    assert len(sms) == 1 and len(notices) == 1
    assert sms[0].phone == world.demo["lawyer-li"].phone
    assert sms[0].text.startswith("【") and case.case_number in sms[0].text and "批准" in sms[0].text
    assert notices[0].recipient_key == person_key(person_ref(world, "lawyer-li"))

    # in the window: the 正卷, watermarked with her masked licence number; never the 副卷
    body = await gateway.query(DOWNLOAD, material, as_="lawyer-li")
    assert "errors" not in body, body
    link = body["data"]["downloadMaterial"]
    assert link["access"] == "WINDOW"
    status, pdf, _ = await fetch(gateway, link["url"])
    assert status == 200
    masked = mask_id_number(world.demo["lawyer-li"].number)
    assert all(masked in t and world.demo["lawyer-li"].name in t for t in page_texts(pdf))
    internal = {"n": case.case_number, "m": internal_material(cluster, case)}
    listed = await gateway.query(APPLICATION_FILE, {"id": app_id}, as_="lawyer-li")
    volumes = listed["data"]["archiveApplication"]["caseFile"]
    assert [v["kind"] for v in volumes] == ["MAIN"]
    assert material["m"] in {m["id"] for m in volumes[0]["materials"]}
    assert internal["m"] not in {m["id"] for v in volumes for m in v["materials"]}
    assert codes(await gateway.query(DOWNLOAD, internal, as_="lawyer-li")) == ["NOT_FOUND"]
    # someone else does not ride on her approval
    assert codes(await gateway.query(DOWNLOAD, material, as_="lawyer-chen")) in (["NOT_FOUND"], ["FORBIDDEN"])
    mine = await gateway.query(MINE, as_="lawyer-li")
    assert {"id": app_id, "caseNumber": case.case_number, "status": "APPROVED"} in [
        e["node"] for e in mine["data"]["myArchiveApplications"]["edges"]
    ]

    # a link issued just before the window closes and followed just after it, and a new request after it
    to_close = closes - datetime.now(UTC)
    with moved_clock(services, to_close - timedelta(seconds=30)):
        edge = await gateway.query(DOWNLOAD, material, as_="lawyer-li")
        assert "errors" not in edge, edge
        assert (await fetch(gateway, edge["data"]["downloadMaterial"]["url"]))[0] == 200
    with moved_clock(services, to_close + timedelta(seconds=30)):
        status, content, _ = await fetch(gateway, edge["data"]["downloadMaterial"]["url"])
        assert status == 403 and b"ACCESS_WINDOW_CLOSED" in content and b"%PDF" not in content
        closed = await gateway.query(DOWNLOAD, material, as_="lawyer-li")
        assert codes(closed) == ["ACCESS_WINDOW_CLOSED"]
        listed = await gateway.query(APPLICATION_FILE, {"id": app_id}, as_="lawyer-li")
        assert codes(listed) == ["ACCESS_WINDOW_CLOSED"]
        assert listed["data"]["archiveApplication"]["caseFile"] is None
    # the audit trail holds the application, the decision, every link and download
    async with services.store.session(read_only=True) as session:
        actions = [r.action for r in await session.scalars(select(AuditRecord).where(AuditRecord.subject_id == key))]
        assert actions == ["archive.applied", "archive.approved"]
        assert (await verify(session)).ok


async def test_a_rejected_application_opens_no_window_and_says_why(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    services = services_of(gateway)
    case = archived_cases_at_0104_not_of(cluster, world, "lawyer-li")[1]
    body = await apply(gateway, case.case_number, "了解案情", [("执业证.png", PNG, "image/png")])
    assert "errors" not in body, body
    app_id = body["data"]["applyForArchiveAccess"]["id"]
    # a rejection needs a note
    no_note = await gateway.query(DECIDE, {"id": app_id, "approve": False}, as_="archivist-0104")
    assert reasons(no_note) == ["NOTE_MISSING"]
    rejected = await gateway.query(
        DECIDE, {"id": app_id, "approve": False, "note": "未提交有效授权委托书"}, as_="archivist-0104"
    )
    assert rejected["data"]["decideArchiveAccess"]["status"] == "REJECTED"
    assert rejected["data"]["decideArchiveAccess"]["windowOpen"] is False
    material = {"n": case.case_number, "m": main_material(cluster, case)}
    assert codes(await gateway.query(DOWNLOAD, material, as_="lawyer-li")) == ["ACCESS_WINDOW_CLOSED"]
    sms, notices = await decision_notices(services, parse_global_id(app_id)[1])
    assert len(sms) == 1 and len(notices) == 1 and "未提交有效授权委托书" in sms[0].text


async def test_bad_applications_are_refused_with_a_reason(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    case = archived_cases_at_0104_not_of(cluster, world, "lawyer-li")[2]
    pdf = [("授权委托书.pdf", PDF, "application/pdf")]
    assert codes(await apply(gateway, "（2020）粤0104民初99999号", "查阅", pdf)) == ["NOT_FOUND"]
    assert codes(await apply(gateway, "not a case number", "查阅", pdf)) == ["INVALID_CASE_NUMBER"]
    assert reasons(await apply(gateway, case.case_number, "   ", pdf)) == ["REASON_MISSING"]
    assert reasons(await apply(gateway, case.case_number, "查阅", [("卷宗.zip", ZIP, "application/zip")])) == [
        "FILE_TYPE"
    ]
    # a lawyer not of record attaches the power of attorney
    assert reasons(await apply(gateway, case.case_number, "查阅", [])) == ["NO_FILES"]
    # a party may not apply for a case that is not hers; a party of a closed case reads it directly
    assert codes(await apply(gateway, case.case_number, "查阅", pdf, as_="party-wang")) == ["NOT_FOUND"]
    closed = wangs_case(cluster, world, CaseStatus.CLOSED)
    assert reasons(await apply(gateway, closed.case_number, "查阅", [], as_="party-wang")) == ["DIRECT_ACCESS"]
    # staff do not apply
    assert codes(await apply(gateway, case.case_number, "查阅", pdf, as_="clerk-0104")) == ["FORBIDDEN"]
    # nothing was stored by any of these
    mine = await gateway.query(MINE, as_="lawyer-li")
    assert case.case_number not in {e["node"]["caseNumber"] for e in mine["data"]["myArchiveApplications"]["edges"]}


async def test_a_party_applies_for_her_own_archived_case(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    case = wangs_case(cluster, world, CaseStatus.ARCHIVED, "粤0104")
    body = await apply(gateway, case.case_number, "查阅判决书及庭审笔录", [], as_="party-wang")
    assert "errors" not in body, body
    application = body["data"]["applyForArchiveAccess"]
    assert application["ofRecord"] is True and application["courtCode"] == case.court_code
    decided = await gateway.query(DECIDE, {"id": application["id"], "approve": True}, as_="archivist-0104")
    assert decided["data"]["decideArchiveAccess"]["status"] == "APPROVED"
    body = await gateway.query(DOWNLOAD, {"n": case.case_number, "m": main_material(cluster, case)}, as_="party-wang")
    assert body["data"]["downloadMaterial"]["access"] == "WINDOW"


def viewer_of_token(gateway: GraphQLClient, world: World, login: str) -> Viewer:
    services = services_of(gateway)
    return viewer_from_claims(demo_claims(world, services.settings.seed_file, login))


# -- the service and store, on SQLite and PostgreSQL --------------------------------------------------------


@contextlib.asynccontextmanager
async def service_stack(kind: str, tmp_path: Path, settings: Settings) -> AsyncIterator[Services]:
    async with contextlib.AsyncExitStack() as stack:
        if kind == "sqlite":
            url = sqlite_url(tmp_path)
        else:
            url = await stack.enter_async_context(postgres_schema(str(POSTGRES_URL)))
        await upgrade_async(url)
        services = build_services(settings.model_copy(update={"database_url": url}))
        try:
            yield services
        finally:
            await services.registry.aclose()
            await services.cache.close()
            await services.store.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
async def stack(
    request: pytest.FixtureRequest, tmp_path: Path, settings: Settings, sims: SimulatorCluster
) -> AsyncIterator[Services]:
    async with service_stack(request.param, tmp_path, settings) as services:
        yield services


def viewer_of(world: World, settings: Settings, login: str) -> Viewer:
    return viewer_from_claims(demo_claims(world, settings.seed_file, login))


async def test_the_review_is_due_in_working_days_and_the_window_is_exact(
    stack: Services, cluster: SimulatorCluster, world: World
) -> None:
    settings = stack.settings
    service = stack.archive
    lawyer = viewer_of(world, settings, "lawyer-li")
    archivist = viewer_of(world, settings, "archivist-0104")
    case = archived_cases_at_0104_not_of(cluster, world, "lawyer-li")[3]
    number = stack.parser.parse(case.case_number)
    # the day before National Day 2026 (1–7 October off): two working days are 8 and 9 October
    applied_at = datetime(2026, 9, 30, 10, 0, tzinfo=CHINA_TZ)
    files = [IncomingFile("授权委托书.pdf", "application/pdf", PDF)]
    view = await service.apply(lawyer, number, "再审", files, now=applied_at)
    assert view.due_at == calendar_for(settings).deadline(applied_at, 2)
    assert view.due_at.astimezone(CHINA_TZ).date() == date(2026, 10, 9)
    with pytest.raises(WindowClosed):
        await reading_grant(stack.store, lawyer, case, now=applied_at)
    with pytest.raises(NoSuchApplication):
        await service.decide(
            viewer_of(world, settings, "archivist-01"), view.id, approve=True, note=None, now=applied_at
        )
    waiting = await pending_for_archivist(stack.store, archivist)
    assert [(p.id, p.court_code, p.case_number, p.received_at, p.due_at) for p in waiting] == [
        (view.id, "粤0104", case.case_number, applied_at, view.due_at)
    ]
    assert await pending_for_archivist(stack.store, viewer_of(world, settings, "archivist-01")) == []
    assert await pending_for_archivist(stack.store, lawyer) == []
    decided_at = applied_at + timedelta(days=9)
    decided = await service.decide(archivist, view.id, approve=True, note=None, now=decided_at)
    assert decided.status == ApplicationStatus.APPROVED
    assert decided.window_closes_at == decided_at + timedelta(hours=72)
    grant = await reading_grant(stack.store, lawyer, case, now=decided_at + timedelta(hours=71, minutes=59))
    assert grant.access == Access.WINDOW and grant.application_id == view.id
    with pytest.raises(WindowClosed):
        await reading_grant(stack.store, lawyer, case, now=decided_at + timedelta(hours=72))
    assert await pending_for_archivist(stack.store, archivist) == []
    # after the window a new application may be made
    again = await service.apply(lawyer, number, "再审补充", files, now=decided_at + timedelta(hours=73))
    assert again.status == ApplicationStatus.PENDING
    # a stranger to the case is not told anything about it
    with pytest.raises(NoSuchCase):
        await reading_grant(stack.store, viewer_of(world, settings, "lawyer-chen"), case, now=decided_at)


async def test_of_record_but_archived_needs_an_application_and_bad_input_stores_nothing(
    stack: Services, cluster: SimulatorCluster, world: World
) -> None:
    settings = stack.settings
    service = stack.archive
    wang = viewer_of(world, settings, "party-wang")
    archived = wangs_case(cluster, world, CaseStatus.ARCHIVED)
    now = datetime(2026, 11, 2, 9, 0, tzinfo=CHINA_TZ)
    with pytest.raises(NeedsApplication):
        await reading_grant(stack.store, wang, archived, now=now)
    closed = wangs_case(cluster, world, CaseStatus.CLOSED)
    assert (await reading_grant(stack.store, wang, closed, now=now)).access == Access.DIRECT
    number = stack.parser.parse(archived.case_number)
    with pytest.raises(InvalidInput) as refused:
        await service.apply(wang, number, "", [], now=now)
    assert refused.value.reason == "REASON_MISSING"
    with pytest.raises(InvalidInput) as refused:
        await service.apply(wang, number, "查阅", [IncomingFile("x.zip", "application/zip", ZIP)], now=now)
    assert refused.value.reason == "FILE_TYPE"
    async with stack.store.session(read_only=True) as session:
        assert list(await session.scalars(select(ArchiveApplicationRecord))) == []


async def test_two_archivists_deciding_at_once_decide_once_and_notify_once(
    stack: Services, cluster: SimulatorCluster, world: World
) -> None:
    settings = stack.settings
    service = stack.archive
    wang = viewer_of(world, settings, "party-wang")
    case = wangs_case(cluster, world, CaseStatus.ARCHIVED, "粤0104")
    now = datetime(2026, 11, 2, 9, 0, tzinfo=CHINA_TZ)
    view = await service.apply(wang, stack.parser.parse(case.case_number), "查阅", [], now=now)
    archivist = viewer_of(world, settings, "archivist-0104")
    results = await asyncio.gather(
        service.decide(archivist, view.id, approve=True, note=None, now=now),
        service.decide(archivist, view.id, approve=False, note="重复", now=now),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, InvalidInput) for r in results if isinstance(r, BaseException))
    async with stack.store.session(read_only=True) as session:
        key = f"archive:{view.id}:decided"
        assert len(list(await session.scalars(select(SmsMessage).where(SmsMessage.dedupe_key == key)))) == 1
        assert (await verify(session)).ok


# -- errors that say what the user can do; the archive office decides archived cases only ------------------


def in_trial_cases_at_0104_not_of(cluster: SimulatorCluster, world: World, login: str) -> list[Case]:
    """Public cases of 粤0104 still in trial where ``login`` (a lawyer) is not of record."""
    licence = world.demo[login].number
    state = cluster.court_state("粤0104")
    cases = [state.case(case_id) for case_id in sorted(world.courts["粤0104"].cases)]
    return [
        c
        for c in cases
        if c.status == CaseStatus.IN_TRIAL and c.public_hearing and all(a.licence_number != licence for a in c.agents)
    ]


async def test_case_file_errors_say_what_the_reader_can_do_next(
    stack: Services, cluster: SimulatorCluster, world: World
) -> None:
    """A window that closed, then a new application pending: "wait for the decision (due …)", not "apply
    again" (which answers ALREADY_PENDING); rejected: "apply again", and applying again works."""
    settings = stack.settings
    service = stack.archive
    lawyer = viewer_of(world, settings, "lawyer-li")
    archivist = viewer_of(world, settings, "archivist-0104")
    case = archived_cases_at_0104_not_of(cluster, world, "lawyer-li")[4]
    number = stack.parser.parse(case.case_number)
    files = [IncomingFile("授权委托书.pdf", "application/pdf", PDF)]
    first_at = datetime(2026, 11, 2, 9, 0, tzinfo=CHINA_TZ)
    first = await service.apply(lawyer, number, "再审", files, now=first_at)
    await service.decide(archivist, first.id, approve=True, note=None, now=first_at + timedelta(hours=1))
    after_window = first_at + timedelta(hours=80)
    with pytest.raises(WindowClosed) as closed:
        await reading_grant(stack.store, lawyer, case, now=after_window)
    assert closed.value.details["reason"] == "WINDOW_CLOSED" and "apply again" in str(closed.value)

    second = await service.apply(lawyer, number, "再审补充", files, now=after_window)
    with pytest.raises(WindowClosed) as pending:
        await reading_grant(stack.store, lawyer, case, now=after_window + timedelta(minutes=5))
    assert pending.value.details == {"reason": "APPLICATION_PENDING", "dueAt": "2026-11-09T17:30:00+08:00"}
    assert datetime.fromisoformat(pending.value.details["dueAt"]) == second.due_at
    assert "apply again" not in str(pending.value) and "waiting for the archive office" in str(pending.value)
    with pytest.raises(InvalidInput) as again:
        await service.apply(lawyer, number, "再审补充", files, now=after_window + timedelta(minutes=6))
    assert again.value.reason == "ALREADY_PENDING", "what the error says agrees with what applying does"

    await service.decide(archivist, second.id, approve=False, note="材料不全", now=after_window + timedelta(hours=1))
    with pytest.raises(WindowClosed) as rejected:
        await reading_grant(stack.store, lawyer, case, now=after_window + timedelta(hours=2))
    assert rejected.value.details == {"reason": "APPLICATION_REJECTED"} and "apply again" in str(rejected.value)
    third = await service.apply(lawyer, number, "再审，补充材料", files, now=after_window + timedelta(hours=3))
    assert third.status == ApplicationStatus.PENDING


async def test_a_case_still_in_trial_is_not_the_archive_offices_to_open(
    stack: Services, cluster: SimulatorCluster, world: World
) -> None:
    """A lawyer not of record applying for a case in trial is pointed to case binding (the panel reviews
    it); an application for such a case already stored cannot be approved by the archive office."""
    settings = stack.settings
    lawyer = viewer_of(world, settings, "lawyer-li")
    archivist = viewer_of(world, settings, "archivist-0104")
    case = in_trial_cases_at_0104_not_of(cluster, world, "lawyer-li")[0]
    now = datetime(2026, 11, 2, 9, 0, tzinfo=CHINA_TZ)
    files = [IncomingFile("授权委托书.pdf", "application/pdf", PDF)]
    with pytest.raises(InvalidInput) as refused:
        await stack.archive.apply(lawyer, stack.parser.parse(case.case_number), "了解案情", files, now=now)
    assert refused.value.reason == "NOT_ARCHIVED" and "applyForCaseBinding" in str(refused.value)
    async with stack.store.session(read_only=True) as session:
        assert list(await session.scalars(select(ArchiveApplicationRecord))) == []

    # one stored before this rule: the archive office may only reject it
    legacy = ArchiveApplicationRecord(
        id="legacy-in-trial",
        applicant_subject=lawyer.subject,
        applicant_name=lawyer.name,
        applicant_phone=lawyer.phone,
        applicant_kind="LICENCE_NUMBER",
        applicant_number=world.demo["lawyer-li"].number,
        of_record=False,
        court_code=case.court_code,
        case_number=case.case_number,
        case_id=case.case_id,
        case_status=CaseStatus.IN_TRIAL.value,
        reason="了解案情",
        status=ApplicationStatus.PENDING.value,
        submitted_at=now,
        due_at=now + timedelta(days=2),
    )
    async with stack.store.session() as session:
        session.add(legacy)
    with pytest.raises(InvalidInput) as not_theirs:
        await stack.archive.decide(archivist, legacy.id, approve=True, note=None, now=now + timedelta(hours=1))
    assert not_theirs.value.reason == "NOT_ARCHIVED"
    with pytest.raises(WindowClosed):
        await reading_grant(stack.store, lawyer, case, now=now + timedelta(hours=2))
    rejected = await stack.archive.decide(
        archivist, legacy.id, approve=False, note="请通过案件绑定申请", now=now + timedelta(hours=1)
    )
    assert rejected.status == ApplicationStatus.REJECTED and rejected.window_opens_at is None
