"""Filings end to end: submitFiling over the multipart spec, the outbox, the courts' own records, notices.

GraphQL tests run against the session's gateway (SQLite, real HTTP, real simulators). The service and
worker tests build their own services on a fresh database of each kind (SQLite, and PostgreSQL when
``GATEWAY_TEST_POSTGRES_URL`` is set), with no background worker, so every round is the test's own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from gateway.adapters.model import Case, FilingKind, PersonRef, StaffRole
from gateway.config import Settings
from gateway.core.outbox import RetryPolicy
from gateway.core.uploads import IncomingFile, InvalidInput, sniff
from gateway.filings.outbox import FilingOutbox
from gateway.filings.service import (
    FilingRequest,
    FilingService,
    FilingStatus,
    FilingView,
    NotFiled,
    court_key,
    mark_handled,
)
from gateway.identity import Viewer, viewer_from_claims
from gateway.notifications.service import person_key
from gateway.schema.common import global_id, parse_global_id
from gateway.services import Services, build_services
from gateway.store.audit import verify
from gateway.store.migrate import upgrade_async
from gateway.store.models import AuditRecord
from gateway.store.notifications import InAppNotification, SmsMessage
from gateway.store.testing import postgres_schema, sqlite_url
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from simulators.identities import demo_claims
from tests.conftest import GraphQLClient

POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="GATEWAY_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped"
)

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(32)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(32) + b"\xff\xd9"
ZIP = b"PK\x03\x04" + bytes(64)

SOAP_GBK, CSV_EXPORT = "粤0105", "粤0115"

SUBMIT = """
mutation ($n: String!, $kind: FilingKind!, $title: String!, $files: [Upload!]!, $key: String!) {
  submitFiling(caseNumber: $n, kind: $kind, title: $title, files: $files, idempotencyKey: $key) {
    id caseNumber courtCode kind title status attempts lastError lastErrorCode receiptNumber
    files { name contentType size sha256 }
  }
}"""

FILING = """
query ($id: ID!) {
  filing(id: $id) {
    id status attempts lastError lastErrorCode nextAttemptAt receiptNumber deliveredAt handledAt result
  }
}"""

MINE = """
query ($first: Int!, $after: String, $n: String) {
  myFilings(first: $first, after: $after, caseNumber: $n) {
    totalCount
    edges { cursor node { id title caseNumber status } }
    pageInfo { hasNextPage endCursor }
  }
}"""

FileSpec = tuple[str, bytes, str]


def unique(title: str) -> str:
    return f"{title}-{uuid.uuid4().hex[:8]}"


def cases_of(cluster: SimulatorCluster, world: World, login: str, court: str) -> list[Case]:
    person = world.demo[login]
    return cluster.court_state(court).cases_of(PersonRef(person.kind, person.number))


def staffed_case(cluster: SimulatorCluster, world: World, login: str, court: str) -> Case:
    """One of the person's cases at the court whose clerk and judge have phones."""
    return next(
        c
        for c in cases_of(cluster, world, login, court)
        if all(s.phone for s in c.panel if s.role in (StaffRole.CLERK, StaffRole.JUDGE, StaffRole.PRESIDING_JUDGE))
    )


async def upload(
    gateway: GraphQLClient,
    case_number: str,
    files: list[FileSpec],
    *,
    as_: str | None = "lawyer-chen",
    title: str = "答辩状",
    kind: str = "DEFENCE_STATEMENT",
    key: str | None = None,
) -> dict[str, Any]:
    """submitFiling as a GraphQL multipart request (operations, map, then one part per file)."""
    variables = {"n": case_number, "kind": kind, "title": title, "key": key or uuid.uuid4().hex, "files": []}
    variables["files"] = [None] * len(files)
    form = aiohttp.FormData()
    form.add_field("operations", json.dumps({"query": SUBMIT, "variables": variables}), content_type="application/json")
    form.add_field("map", json.dumps({str(i): [f"variables.files.{i}"] for i in range(len(files))}))
    for i, (name, content, content_type) in enumerate(files):
        form.add_field(str(i), content, filename=name, content_type=content_type)
    headers = {"Authorization": f"Bearer {gateway.tokens[as_]}"} if as_ else {}
    async with aiohttp.ClientSession() as session, session.post(gateway.url, data=form, headers=headers) as response:
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def wait_for(
    gateway: GraphQLClient, filing_id: str, done: Callable[[dict[str, Any]], bool], as_: str = "lawyer-chen"
) -> dict[str, Any]:
    for _ in range(200):
        body = await gateway.query(FILING, {"id": filing_id}, as_=as_)
        filing: dict[str, Any] = body["data"]["filing"]
        if done(filing):
            return filing
        await asyncio.sleep(0.05)
    raise AssertionError(f"filing never got there: {filing}")


def services_of(gateway: GraphQLClient) -> Services:
    services: Services = gateway.app.state.services  # type: ignore[attr-defined]
    return services


async def sms_for(services: Services, dedupe_key: str) -> list[SmsMessage]:
    async with services.store.session(read_only=True) as session:
        return list(await session.scalars(select(SmsMessage).where(SmsMessage.dedupe_key == dedupe_key)))


async def notices_for(services: Services, dedupe_key: str) -> list[InAppNotification]:
    async with services.store.session(read_only=True) as session:
        query = select(InAppNotification).where(InAppNotification.dedupe_key == dedupe_key)
        return list(await session.scalars(query))


def filing_key(filing_id: str) -> str:
    """The court's idempotency key of a filing, from its global ID."""
    return court_key(parse_global_id(filing_id)[1])


# -- submitting, over real HTTP ----------------------------------------------------------------------


@pytest.mark.parametrize("court", [SOAP_GBK, CSV_EXPORT])
async def test_a_filing_reaches_the_court_once_and_the_clerk_and_judge_are_told(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, settings: Settings, court: str
) -> None:
    case = staffed_case(cluster, world, "lawyer-chen", court)
    title = unique("民事答辩状")
    files = [("答辩状.pdf", PDF, "application/pdf"), ("证据1.png", PNG, "image/png"), ("scan.jpg", JPEG, "image/jpeg")]
    body = await upload(gateway, case.case_number.replace("（", "(").replace("）", ")"), files, title=title)
    filing = body["data"]["submitFiling"]
    assert filing["status"] == "SUBMITTED" and filing["caseNumber"] == case.case_number
    assert filing["courtCode"] == court and filing["title"] == title
    assert [(f["name"], f["contentType"], f["size"]) for f in filing["files"]] == [
        ("答辩状.pdf", "application/pdf", len(PDF)),
        ("证据1.png", "image/png", len(PNG)),
        ("scan.jpg", "image/jpeg", len(JPEG)),
    ]

    done = await wait_for(gateway, filing["id"], lambda f: f["status"] != "SUBMITTED")
    assert done["status"] == "DELIVERED" and done["attempts"] == 1 and done["lastError"] is None
    assert done["receiptNumber"] and done["deliveredAt"].endswith("+08:00")

    state = cluster.court_state(court)
    records = [r for r in state.filings.values() if r.filing.title == title]
    assert len(records) == 1, "the court keeps exactly one record"
    record = state.filings[filing_key(filing["id"])]
    assert record.receipt.receipt_number == done["receiptNumber"] and record.deliveries == 1
    assert record.filing.case_id == case.case_id and record.filing.kind == FilingKind.DEFENCE_STATEMENT
    assert record.filing.filer_id_number == world.demo["lawyer-chen"].number
    assert [(a.filename, a.content) for a in record.filing.attachments] == [(n, c) for n, c, _ in files]

    texts = {
        m.phone: m.text
        for m in await sms_for(services_of(gateway), f"filing:{parse_global_id(filing['id'])[1]}:received")
    }
    panel = {s.role: s for s in case.panel}
    clerk = panel[StaffRole.CLERK]
    judge = case.panel[0]
    assert judge.role in (StaffRole.PRESIDING_JUDGE, StaffRole.JUDGE)
    assert set(texts) == {clerk.phone, judge.phone}
    short = settings.court(court).short_name
    assert texts[clerk.phone] == (
        f"【{short}】{case.case_number}收到新提交的材料《{title}》（提交人：陈志明），请及时登录审判管理系统查看处理。"
    )


async def test_the_same_key_answers_the_same_filing_and_other_content_is_refused(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    case = cases_of(cluster, world, "lawyer-chen", "粤0104")[0]
    key, title = uuid.uuid4().hex, unique("代理词")
    first = await upload(gateway, case.case_number, [("a.pdf", PDF, "application/pdf")], title=title, key=key)
    again = await upload(gateway, case.case_number, [("a.pdf", PDF, "application/pdf")], title=title, key=key)
    assert again["data"]["submitFiling"]["id"] == first["data"]["submitFiling"]["id"]

    other = await upload(gateway, case.case_number, [("a.pdf", PDF + b"x", "application/pdf")], title=title, key=key)
    assert codes(other) == ["BAD_USER_INPUT"]
    assert other["errors"][0]["extensions"]["reason"] == "IDEMPOTENCY_KEY_REUSED"
    # another user's key is theirs: the same key from party-wang is a different filing (into her own case)
    wang_case = cases_of(cluster, world, "party-wang", "粤0104")[0]
    theirs = await upload(gateway, wang_case.case_number, [("a.pdf", PDF, "")], title=title, key=key, as_="party-wang")
    assert theirs["data"]["submitFiling"]["id"] != first["data"]["submitFiling"]["id"]
    await wait_for(gateway, first["data"]["submitFiling"]["id"], lambda f: f["status"] == "DELIVERED")
    await wait_for(gateway, theirs["data"]["submitFiling"]["id"], lambda f: f["status"] == "DELIVERED", "party-wang")
    assert len([r for r in cluster.court_state("粤0104").filings.values() if r.filing.title == title]) == 2


async def test_only_a_party_or_agent_of_the_case_may_file(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    li = world.demo["lawyer-li"].number
    chens = next(
        c for c in cases_of(cluster, world, "lawyer-chen", "粤0104") if li not in {a.licence_number for a in c.agents}
    )
    before = len(cluster.court_state("粤0104").filings)
    files = [("a.pdf", PDF, "application/pdf")]

    denied = await upload(gateway, chens.case_number, files, as_="lawyer-li")
    assert codes(denied) == ["NOT_FOUND"] and denied["data"] is None
    assert codes(await upload(gateway, chens.case_number, files, as_="party-wang")) == ["NOT_FOUND"]
    assert codes(await upload(gateway, chens.case_number, files, as_="clerk-0104")) == ["FORBIDDEN"]
    assert codes(await upload(gateway, chens.case_number, files, as_=None)) == ["UNAUTHENTICATED"]

    mine = await gateway.query(MINE, {"first": 100, "n": chens.case_number}, as_="lawyer-li")
    assert mine["data"]["myFilings"]["totalCount"] == 0, "nothing was stored"
    assert len(cluster.court_state("粤0104").filings) == before


@pytest.mark.parametrize(
    ("files", "limits", "reason", "file"),
    [
        ([("答辩状.pdf", ZIP, "application/pdf")], {}, "FILE_TYPE", "答辩状.pdf"),
        ([("ok.pdf", PDF, "application/pdf"), ("evil.png", PDF, "image/png")], {}, "FILE_TYPE", "evil.png"),
        ([("empty.pdf", b"", "application/pdf")], {}, "FILE_EMPTY", "empty.pdf"),
        (
            [("big.pdf", PDF + bytes(2000), "application/pdf")],
            {"filing_max_file_bytes": 1024},
            "FILE_TOO_LARGE",
            "big.pdf",
        ),
        (
            [("a.pdf", PDF + bytes(900), "application/pdf"), ("b.pdf", PDF + bytes(900), "application/pdf")],
            {"filing_max_total_bytes": 1500},
            "FILES_TOO_LARGE",
            "b.pdf",
        ),
        ([(f"{i}.pdf", PDF, "application/pdf") for i in range(11)], {}, "TOO_MANY_FILES", None),
        ([], {}, "NO_FILES", None),
    ],
    ids=["type-by-content", "declared-png-is-pdf", "empty", "oversize", "total", "too-many", "none"],
)
async def test_bad_files_are_refused_naming_the_file(
    gateway: GraphQLClient,
    cluster: SimulatorCluster,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    files: list[FileSpec],
    limits: dict[str, int],
    reason: str,
    file: str | None,
) -> None:
    for name, value in limits.items():
        monkeypatch.setattr(services_of(gateway).settings, name, value)
    case = cases_of(cluster, world, "lawyer-chen", "粤0104")[0]
    title = unique("证据")
    body = await upload(gateway, case.case_number, files, title=title, kind="EVIDENCE")
    assert codes(body) == ["BAD_USER_INPUT"], body
    error = body["errors"][0]
    assert error["extensions"]["reason"] == reason
    assert error["extensions"].get("file") == file
    if file:
        assert file in error["message"]
    assert not [r for r in cluster.court_state("粤0104").filings.values() if r.filing.title == title]


async def test_unknown_and_garbage_case_numbers(gateway: GraphQLClient) -> None:
    files = [("a.pdf", PDF, "application/pdf")]
    assert codes(await upload(gateway, "（2023）粤0105民初99999号", files)) == ["NOT_FOUND"]
    assert codes(await upload(gateway, "（2023）粤0999民初1号", files)) in (["NOT_FOUND"], ["INVALID_CASE_NUMBER"])
    assert codes(await upload(gateway, "not a case number", files)) == ["INVALID_CASE_NUMBER"]


async def test_my_filings_pages_newest_first_and_filters_by_case(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    one, two = cases_of(cluster, world, "lawyer-li", "粤0106")[:2]
    titles = [unique("申请书") for _ in range(3)]
    for case, title in zip((one, two, one), titles, strict=True):
        body = await upload(
            gateway, case.case_number, [("a.pdf", PDF, "")], title=title, kind="APPLICATION", as_="lawyer-li"
        )
        assert body["data"]["submitFiling"]["status"] == "SUBMITTED"

    first = (await gateway.query(MINE, {"first": 2}, as_="lawyer-li"))["data"]["myFilings"]
    assert [e["node"]["title"] for e in first["edges"]] == titles[::-1][:2]
    assert first["pageInfo"]["hasNextPage"]
    rest = await gateway.query(MINE, {"first": 1, "after": first["pageInfo"]["endCursor"]}, as_="lawyer-li")
    assert rest["data"]["myFilings"]["edges"][0]["node"]["title"] == titles[0]

    half_width = one.case_number.replace("（", "(").replace("）", ")")
    of_one = (await gateway.query(MINE, {"first": 10, "n": half_width}, as_="lawyer-li"))["data"]["myFilings"]
    assert [e["node"]["title"] for e in of_one["edges"]][:2] == [titles[2], titles[0]]
    assert {e["node"]["caseNumber"] for e in of_one["edges"]} == {one.case_number}

    assert codes(await gateway.query(MINE, {"first": 1, "after": "garbage"}, as_="lawyer-li")) == ["BAD_USER_INPUT"]
    others = await gateway.query(FILING, {"id": first["edges"][0]["node"]["id"]}, as_="lawyer-chen")
    assert codes(others) == ["NOT_FOUND"], "someone else's filing is not found"

    on_case = await gateway.query(ON_CASE, {"n": half_width}, as_="lawyer-li")
    listed = on_case["data"]["case"]["filings"]["edges"]
    assert [e["node"]["title"] for e in listed][:2] == [titles[2], titles[0]], "the case shows its filings too"
    newest = listed[0]["node"]["id"]
    assert (await gateway.query(NODE, {"id": newest}, as_="lawyer-li"))["data"]["node"]["title"] == titles[2]
    assert codes(await gateway.query(NODE, {"id": newest}, as_="lawyer-chen")) == ["NOT_FOUND"]


ON_CASE = "query ($n: String!) { case(caseNumber: $n) { filings(first: 5) { edges { node { id title status } } } } }"
NODE = "query ($id: ID!) { node(id: $id) { id ... on Filing { title status } } }"


async def test_a_court_down_at_submission_gets_the_filing_once_it_is_back(
    gateway: GraphQLClient, sims: SimulatorCluster, world: World
) -> None:
    case = staffed_case(sims, world, "lawyer-chen", SOAP_GBK)
    title = unique("答辩状")
    await sims.set_outage(SOAP_GBK, True)
    body = await upload(gateway, case.case_number, [("答辩状.pdf", PDF, "application/pdf")], title=title)
    filing = body["data"]["submitFiling"]
    assert filing["status"] == "SUBMITTED", body

    waiting = await wait_for(gateway, filing["id"], lambda f: f["attempts"] >= 1 and f["lastError"] is not None)
    assert waiting["status"] == "SUBMITTED" and waiting["lastErrorCode"] in ("COURT_UNAVAILABLE", "COURT_TIMEOUT")
    assert waiting["nextAttemptAt"] and SOAP_GBK in waiting["lastError"]
    assert not [r for r in sims.court_state(SOAP_GBK).filings.values() if r.filing.title == title]

    await sims.set_outage(SOAP_GBK, False)
    # an hour of simulated time later (the breaker may still be open for a few real seconds)
    hours = [1]
    later = FilingOutbox(services_of(gateway), clock=lambda: datetime.now(UTC) + timedelta(hours=hours[0]))
    for _ in range(100):
        await later.run_once()
        state = await gateway.query(FILING, {"id": filing["id"]}, as_="lawyer-chen")
        if state["data"]["filing"]["status"] != "SUBMITTED":
            break
        hours[0] += 1  # a failed round (the breaker still open) pushed the next attempt on: follow it
        await asyncio.sleep(0.1)
    done = state["data"]["filing"]
    assert done["status"] == "DELIVERED" and done["lastError"] is None
    records = [r for r in sims.court_state(SOAP_GBK).filings.values() if r.filing.title == title]
    assert len(records) == 1 and records[0].receipt.receipt_number == done["receiptNumber"]
    dedupe = f"filing:{parse_global_id(filing['id'])[1]}:received"
    assert len(await sms_for(services_of(gateway), dedupe)) == 2, "clerk and judge, once each"


async def test_handled_at_the_court_sends_the_filer_a_receipt(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    case = cases_of(cluster, world, "lawyer-chen", SOAP_GBK)[0]
    body = await upload(gateway, case.case_number, [("代理词.pdf", PDF, "application/pdf")], kind="AGENT_OPINION")
    filing_id = body["data"]["submitFiling"]["id"]
    delivered = await wait_for(gateway, filing_id, lambda f: f["status"] == "DELIVERED")
    event = cluster.desk(SOAP_GBK).handle_filing(delivered["receiptNumber"], "已阅，材料已入卷")

    services = services_of(gateway)
    for _ in range(2):  # the change feed may apply the same event too: either way, once
        async with services.store.session() as session:
            await mark_handled(
                session,
                SOAP_GBK,
                event.filing_receipt_number or "",
                "已阅，材料已入卷",
                event.occurred_at,
                now=services.clock(),
            )
    handled = await wait_for(gateway, filing_id, lambda f: f["status"] == "HANDLED")
    assert handled["result"] == "已阅，材料已入卷" and handled["handledAt"]

    dedupe = f"filing:{parse_global_id(filing_id)[1]}:handled"
    sms = await sms_for(services, dedupe)
    assert [(m.phone, m.text) for m in sms] == [
        (
            world.demo["lawyer-chen"].phone,
            f"【{settings.court(SOAP_GBK).short_name}】您好！您提交的{case.case_number}的材料法官已处理，"
            "请登录广州法院AOL电子诉讼服务中心或广州微法院小程序查看处理结果。",
        )
    ]
    notices = await notices_for(services, dedupe)
    assert [n.recipient_key for n in notices] == [person_key(PersonRef.lawyer(world.demo["lawyer-chen"].number))]


# -- the service and the worker, on SQLite and PostgreSQL ----------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
async def own(
    request: pytest.FixtureRequest, tmp_path: Path, settings: Settings, cluster: SimulatorCluster
) -> AsyncIterator[Services]:
    """Services of their own on a new database, with a small backoff and no background workers."""
    async with _database(request.param, tmp_path) as url:
        await upgrade_async(url)
        services = build_services(
            Settings(
                court_overrides=settings.court_overrides,
                database_url=url,
                filing_retry_base_s=0.05,
                filing_retry_cap_s=0.2,
                filing_claim_lease_s=30,
            )
        )
        try:
            yield services
        finally:
            await services.registry.aclose()
            await services.cache.close()
            await services.store.dispose()


def _database(kind: str, tmp_path: Path) -> Any:
    if kind == "postgresql":
        return postgres_schema(str(POSTGRES_URL))

    class _Sqlite:
        async def __aenter__(self) -> str:
            return sqlite_url(tmp_path)

        async def __aexit__(self, *exc: object) -> None:
            return None

    return _Sqlite()


def viewer(world: World, settings: Settings, login: str) -> Viewer:
    return viewer_from_claims(demo_claims(world, settings.seed_file, login))


def request_for(case: Case, title: str, *files: bytes, key: str | None = None) -> FilingRequest:
    incoming = [IncomingFile(f"{i}.bin", "", content) for i, content in enumerate(files or (PDF,))]
    return FilingRequest(case.case_number, FilingKind.EVIDENCE, title, incoming, key or uuid.uuid4().hex)


def service(services: Services) -> FilingService:
    return services.filings


async def current(services: Services, who: Viewer, filing: FilingView) -> FilingView:
    found = await service(services).get(who, filing.id)
    assert found is not None
    return found


async def test_submit_deliver_handle(
    own: Services, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    chen = viewer(world, settings, "lawyer-chen")
    case = staffed_case(cluster, world, "lawyer-chen", CSV_EXPORT)
    title = unique("补充证据")
    filing = await service(own).submit(chen, request_for(case, title, PDF, PNG))
    assert filing.status == FilingStatus.SUBMITTED and [f.content_type for f in filing.files] == [
        "application/pdf",
        "image/png",
    ]

    outbox = FilingOutbox(own)
    assert await outbox.run_once() == 1
    assert await outbox.run_once() == 0, "nothing left to do"
    delivered = await current(own, chen, filing)
    assert delivered.status == FilingStatus.DELIVERED and delivered.attempts == 1 and delivered.receipt_number
    record = cluster.court_state(CSV_EXPORT).filings[court_key(filing.id)]
    assert record.filing.title == title and record.deliveries == 1
    assert [a.content for a in record.filing.attachments] == [PDF, PNG]

    assert cluster.desk(CSV_EXPORT).handle_filing(delivered.receipt_number or "", "不予采纳")
    async with own.store.session() as session:
        assert await mark_handled(
            session, CSV_EXPORT, delivered.receipt_number or "", "不予采纳", datetime.now(UTC), now=datetime.now(UTC)
        )
    async with own.store.session() as session:
        again = await mark_handled(
            session, CSV_EXPORT, delivered.receipt_number or "", "不予采纳", datetime.now(UTC), now=datetime.now(UTC)
        )
        assert not again, "a second event for the same receipt changes nothing"
        assert not await mark_handled(session, CSV_EXPORT, "SC-not-ours", "x", datetime.now(UTC), now=datetime.now(UTC))
    handled = await current(own, chen, filing)
    assert handled.status == FilingStatus.HANDLED and handled.result == "不予采纳"
    assert len(await sms_for(own, f"filing:{filing.id}:handled")) == 1
    assert len(await sms_for(own, f"filing:{filing.id}:received")) == 2

    async with own.store.session(read_only=True) as session:
        checked = await verify(session)
    assert checked.ok and checked.checked == 3, "submitted, delivered, handled"


async def test_a_retry_after_the_court_accepted_is_recorded_once(
    own: Services, cluster: SimulatorCluster, world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway dies between the court's answer and its own commit: the retry gets the same receipt."""
    chen = viewer(world, settings, "lawyer-chen")
    case = cases_of(cluster, world, "lawyer-chen", SOAP_GBK)[0]
    filing = await service(own).submit(chen, request_for(case, unique("答辩状")))
    outbox = FilingOutbox(own)
    recorded = outbox.delivered

    async def crash(*args: Any) -> None:
        raise ConnectionError("the gateway died before its commit")

    monkeypatch.setattr(outbox, "delivered", crash)
    assert await outbox.run_once() == 1
    record = cluster.court_state(SOAP_GBK).filings[court_key(filing.id)]
    assert record.deliveries == 1
    assert (await current(own, chen, filing)).status == FilingStatus.SUBMITTED
    assert await outbox.run_once() == 0, "the claim is leased: nobody retries it before the lease runs out"

    monkeypatch.setattr(outbox, "delivered", recorded)
    outbox.clock = lambda: datetime.now(UTC) + timedelta(seconds=own.settings.filing_claim_lease_s + 1)
    assert await outbox.run_once() == 1
    delivered = await current(own, chen, filing)
    assert delivered.status == FilingStatus.DELIVERED and delivered.attempts == 2
    assert record.deliveries == 2, "delivered twice"
    assert [k for k in cluster.court_state(SOAP_GBK).filings if k == court_key(filing.id)] == [court_key(filing.id)]
    assert delivered.receipt_number == record.receipt.receipt_number, "recorded once, with the first receipt"


async def test_a_receipt_number_another_filing_holds_rejects_the_filing_and_says_why(
    own: Services,
    cluster: SimulatorCluster,
    world: World,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The court restarts and hands out a receipt number again: UNIQUE (court_code, receipt_number) refuses
    to record it. That is final: the filer sees why, it is logged as an error, and it is never retried
    (it used to stay SUBMITTED, delivered again every time its lease ran out)."""
    chen = viewer(world, settings, "lawyer-chen")
    case = cases_of(cluster, world, "lawyer-chen", CSV_EXPORT)[0]
    outbox = FilingOutbox(own)
    first = await service(own).submit(chen, request_for(case, unique("证据")))
    assert await outbox.run_once() == 1
    held = (await current(own, chen, first)).receipt_number
    assert held is not None

    court = cluster.court_state(CSV_EXPORT)
    monkeypatch.setattr(court, "receipts_issued", int(held[-5:]) - 1)  # a court that forgot its records counts anew
    second = await service(own).submit(chen, request_for(case, unique("证据")))
    with caplog.at_level(logging.ERROR, logger="gateway.outbox"):
        assert await outbox.run_once() == 1
    assert court.filings[court_key(second.id)].receipt.receipt_number == held, "the court gave the number again"
    rejected = await current(own, chen, second)
    assert (rejected.status, rejected.attempts, rejected.receipt_number) == (FilingStatus.REJECTED, 1, None)
    assert rejected.last_error_code == "LOCAL_CONFLICT"
    assert rejected.last_error and "receipt number" in rejected.last_error and CSV_EXPORT in rejected.last_error
    assert [r for r in caplog.records if r.levelno == logging.ERROR and second.id in r.getMessage()]
    assert await sms_for(own, f"filing:{second.id}:received") == [], "nobody is told of a filing not recorded"

    outbox.clock = lambda: datetime.now(UTC) + timedelta(days=1)
    assert await outbox.run_once() == 0, "final: never retried"
    assert (await current(own, chen, second)).attempts == 1
    async with own.store.session(read_only=True) as session:
        actions = await session.scalars(select(AuditRecord.action).where(AuditRecord.subject_id == second.id))
        assert sorted(actions) == ["filing.rejected", "filing.submitted"]
    assert (await current(own, chen, first)).receipt_number == held, "the first filing keeps its receipt"


async def test_an_outage_retries_with_backoff_until_the_court_is_back(
    own: Services, sims: SimulatorCluster, world: World, settings: Settings
) -> None:
    chen = viewer(world, settings, "lawyer-chen")
    case = cases_of(sims, world, "lawyer-chen", "粤0118")[0]
    await sims.set_outage("粤0118", True)
    filing = await service(own).submit(chen, request_for(case, unique("答辩状")))  # accepted unchecked
    now = datetime.now(UTC)
    outbox = FilingOutbox(own, clock=lambda: now, rng=lambda: 1.0)
    assert await outbox.run_once() == 1
    waiting = await current(own, chen, filing)
    assert waiting.status == FilingStatus.SUBMITTED and waiting.attempts == 1
    assert waiting.last_error_code in ("COURT_UNAVAILABLE", "COURT_TIMEOUT") and waiting.last_error
    assert waiting.next_attempt_at == now + timedelta(seconds=0.05)
    assert await outbox.run_once() == 0, "not due yet"

    outbox.clock = lambda: now + timedelta(seconds=1)
    assert await outbox.run_once() == 1
    assert (await current(own, chen, filing)).next_attempt_at == now + timedelta(seconds=1.1), "doubled"

    await sims.set_outage("粤0118", False)
    outbox.clock = lambda: now + timedelta(hours=1)
    assert await outbox.run_once() == 1
    delivered = await current(own, chen, filing)
    assert delivered.status == FilingStatus.DELIVERED and delivered.attempts == 3 and delivered.last_error is None
    assert sims.court_state("粤0118").filings[court_key(filing.id)].deliveries == 1


async def test_unchecked_filings_into_someone_elses_case_are_rejected_before_delivery(
    own: Services, sims: SimulatorCluster, world: World, settings: Settings
) -> None:
    li = viewer(world, settings, "lawyer-li")
    chens = next(
        c
        for c in cases_of(sims, world, "lawyer-chen", "粤0118")
        if world.demo["lawyer-li"].number not in {a.licence_number for a in c.agents}
    )
    await sims.set_outage("粤0118", True)
    filing = await service(own).submit(li, request_for(chens, unique("代理词")))
    await sims.set_outage("粤0118", False)
    with pytest.raises(NotFiled):  # with the court up, the same is refused at once
        await service(own).submit(li, request_for(chens, unique("代理词")))

    assert await FilingOutbox(own).run_once() == 1
    rejected = await current(own, li, filing)
    assert rejected.status == FilingStatus.REJECTED and rejected.last_error_code == "NOT_A_PARTY"
    assert court_key(filing.id) not in sims.court_state("粤0118").filings
    assert await sms_for(own, f"filing:{filing.id}:received") == []


async def test_concurrent_workers_never_claim_the_same_filing(
    own: Services, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    chen = viewer(world, settings, "lawyer-chen")
    cases = cases_of(cluster, world, "lawyer-chen", "粤0104")
    filings = [await service(own).submit(chen, request_for(cases[i % len(cases)], unique("证据"))) for i in range(9)]
    own.settings.filing_batch_size = 4
    claims = await asyncio.gather(*(FilingOutbox(own).claim() for _ in range(4)))
    claimed = [c.row.id for batch in claims for c in batch]
    assert sorted(claimed) == sorted(f.id for f in filings), "each claimed by exactly one worker"


async def test_the_same_key_concurrently_stores_one_filing(
    own: Services, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    chen = viewer(world, settings, "lawyer-chen")
    case = cases_of(cluster, world, "lawyer-chen", "粤0104")[0]
    request = request_for(case, unique("答辩状"), key="same-key")
    stored = await asyncio.gather(*(service(own).submit(chen, request) for _ in range(4)))
    assert len({f.id for f in stored}) == 1
    with pytest.raises(InvalidInput) as refused:
        await service(own).submit(chen, request_for(case, "another title", key="same-key"))
    assert refused.value.reason == "IDEMPOTENCY_KEY_REUSED"


# -- pure parts ------------------------------------------------------------------------------------------


def test_types_are_read_from_content() -> None:
    assert [sniff(b) for b in (PDF, PNG, JPEG, ZIP, b"")] == ["application/pdf", "image/png", "image/jpeg", None, None]


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    policy = RetryPolicy(base_s=2, cap_s=600)
    highs = [policy.delay(n, rng=lambda: 1.0) for n in range(1, 12)]
    assert highs[:4] == [2, 4, 8, 16] and max(highs) == 600
    assert policy.delay(3, rng=lambda: 0.0) == 4, "half of it is fixed: never at once"
    assert policy.delay(1, retry_after_s=30, rng=lambda: 0.5) == 30


def test_global_ids_of_filings_round_trip() -> None:
    assert parse_global_id(global_id("Filing", "abc")) == ("Filing", "abc")


async def test_a_handled_event_inside_the_crash_window_is_applied_once_the_delivery_is_recorded(
    own: Services, cluster: SimulatorCluster, world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The court accepts, the gateway dies before recording the receipt, the clerk handles the filing and
    the feed reports it: the event waits (nothing is lost), and the redelivery, which the court answers with
    the same receipt, records it DELIVERED and HANDLED in one go (nothing is applied twice)."""
    from gateway.feeds.effects import FeedSync
    from gateway.feeds.follower import ChangeFollower
    from gateway.store.filings import ParkedHandledEvent

    chen = viewer(world, settings, "lawyer-chen")
    case = cases_of(cluster, world, "lawyer-chen", SOAP_GBK)[1]
    adapter = own.registry[SOAP_GBK]
    follower = ChangeFollower(
        own.registry, own.cache, store=own.store, sync=FeedSync({c.code: c for c in own.settings.courts})
    )
    await follower.poll(adapter)  # the feed's end: only what happens from here on counts
    filing = await service(own).submit(chen, request_for(case, unique("答辩状")))
    outbox = FilingOutbox(own)
    recorded = outbox.delivered

    async def crash(*args: Any) -> None:
        raise ConnectionError("the gateway died before its commit")

    monkeypatch.setattr(outbox, "delivered", crash)
    assert await outbox.run_once() == 1
    record = cluster.court_state(SOAP_GBK).filings[court_key(filing.id)]
    assert (await current(own, chen, filing)).status == FilingStatus.SUBMITTED

    cluster.desk(SOAP_GBK).handle_filing(record.receipt.receipt_number, "已阅，已转合议庭")
    events = await follower.poll(adapter)
    assert [e.filing_receipt_number for e in events if e.kind.value == "FILING_HANDLED"] == [
        record.receipt.receipt_number
    ]
    assert (await current(own, chen, filing)).status == FilingStatus.SUBMITTED, "not ours yet: it waits"
    async with own.store.session(read_only=True) as session:
        parked = list(await session.scalars(select(ParkedHandledEvent)))
    assert [(p.court_code, p.receipt_number) for p in parked] == [(SOAP_GBK, record.receipt.receipt_number)]
    assert await sms_for(own, f"filing:{filing.id}:handled") == []

    monkeypatch.setattr(outbox, "delivered", recorded)
    outbox.clock = lambda: datetime.now(UTC) + timedelta(seconds=own.settings.filing_claim_lease_s + 1)
    assert await outbox.run_once() == 1
    done = await current(own, chen, filing)
    assert done.status == FilingStatus.HANDLED and done.result == "已阅，已转合议庭"
    assert done.receipt_number == record.receipt.receipt_number and record.deliveries == 2
    assert len(await sms_for(own, f"filing:{filing.id}:handled")) == 1
    assert len(await sms_for(own, f"filing:{filing.id}:received")) == 2, "the clerk and the judge, once"

    # the event again (a replayed feed) changes nothing; nothing stays parked; a receipt that is not ours,
    # with nothing of ours in flight at the court, is not kept either
    async with own.store.session() as session:
        assert not await mark_handled(
            session, SOAP_GBK, record.receipt.receipt_number, "x", datetime.now(UTC), now=datetime.now(UTC)
        )
        assert not await mark_handled(session, SOAP_GBK, "SC-counter", "x", datetime.now(UTC), now=datetime.now(UTC))
    assert (await current(own, chen, filing)).result == "已阅，已转合议庭"
    async with own.store.session(read_only=True) as session:
        assert list(await session.scalars(select(ParkedHandledEvent))) == []
        actions = [
            r.action
            for r in await session.scalars(
                select(AuditRecord).where(AuditRecord.subject_id == filing.id).order_by(AuditRecord.seq)
            )
        ]
        assert actions == ["filing.submitted", "filing.delivered", "filing.handled"]
        assert (await verify(session)).ok
