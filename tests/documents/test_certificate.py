"""电子送达凭证: the PDF's content, signed download links, who may download, and the audit of downloads."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pypdf
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select

from gateway.adapters.model import CHINA_TZ, ServiceChannel, StaffRole
from gateway.config import DEMO_DOWNLOAD_SECRET, Settings
from gateway.core.links import LinkExpired, LinkInvalid, SignedLinks
from gateway.documents.certificate import (
    LINK_KIND,
    CertificateAccessLost,
    CertificateService,
    certificate_facts,
    certificate_number,
    facts_digest,
    render_certificate,
)
from gateway.documents.service import ServedDocumentGroup
from gateway.identity import IdentityLevel, Role, Viewer
from gateway.services import Services
from gateway.store.audit import verify
from gateway.store.models import AuditRecord
from gateway.store.signatures import CertificateRecord, SignatureRecord, SignatureStatus
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import GraphQLClient, mint
from tests.documents.test_signing import (
    PLATFORM,
    SIGN,
    at,
    copy,
    count,
    delivered,
    doc_id,
    needs_postgres,
    serve_fresh,
    service_stack,
)
from tests.seals import common_name, demo_root, pyhanko_accepts, pyhanko_status

CERTIFICATE = """
query ($id: ID!, $case: String) {
  serviceCertificate(documentId: $id, caseNumber: $case) {
    number documentId caseNumber issuedAt effectiveServiceAt effectiveRule downloadUrl expiresAt
  }
}"""


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def shown(moment: datetime) -> str:
    local = moment.astimezone(CHINA_TZ)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M:%S}"


COURTS = {c.code: c for c in Settings().courts}


# -- the certificate itself (pure) ---------------------------------------------------------------------


def two_channel_group() -> ServedDocumentGroup:
    return ServedDocumentGroup(
        (
            copy(served=at(2), confirmed=False, signed=at(3)),
            copy(
                ServiceChannel.NATIONAL_PLATFORM, served=at(2, 11), confirmed=True, source=PLATFORM, document_id="NP-D1"
            ),
        )
    )


def test_the_pdf_states_the_document_addressee_channels_and_effective_time() -> None:
    group = two_channel_group()
    signature = SignatureRecord(
        source_code="粤0104",
        document_id="D1",
        signer_name="王某",
        identity_level="REAL_NAME",
        method="ONLINE_CONFIRMATION",
        signed_at=at(3).astimezone(UTC),
        status=SignatureStatus.DELIVERED,
        court_signed_at=at(3),
    )
    facts = certificate_facts(group, signature, COURTS)
    issued = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
    number = certificate_number("粤0104", issued, facts_digest(facts))
    assert number.startswith("DZSD0104-20260305-")
    content = render_certificate(facts, number, issued)
    assert content == render_certificate(facts, number, issued), "the same certificate, byte for byte"

    text = pdf_text(content)
    for expected in (
        "电子送达凭证",
        number,
        "广州市越秀区人民法院",
        "（2026）粤0104民初1号传票",
        "（2026）粤0104民初1号",
        "王某",
        "440104********1234",
        "法院电子送达平台",
        "全国法院统一送达平台",
        "实名认证",
        shown(issued),
        shown(at(2, 11)),  # the platform's copy: a confirmed address, effective when it arrived
        "第二十九条",
        "以最先生效的送达时间为准",
    ):
        assert expected in text, expected
    assert facts["effective"]["channel"] == "NATIONAL_PLATFORM"
    assert "440104199001011234" not in text, "the ID number is masked"


def test_a_certificate_says_when_service_has_not_taken_effect() -> None:
    group = ServedDocumentGroup((copy(served=at(2), confirmed=False),))
    facts = certificate_facts(group, None, COURTS)
    assert facts["effective"] is None
    assert "尚未生效" in pdf_text(render_certificate(facts, "N1", datetime(2026, 3, 5, tzinfo=UTC)))


def test_links_are_refused_when_altered_expired_or_for_another_kind() -> None:
    now = [1_000_000.0]
    links = SignedLinks("secret", ttl_s=60, clock=lambda: now[0])
    token, expires = links.issue(LINK_KIND, "N1", "party-wang", extras={"doc": "k"})
    assert expires == datetime.fromtimestamp(1_000_060, UTC)
    claims = links.verify(LINK_KIND, token)
    assert (claims.key, claims.subject, claims.extras) == ("N1", "party-wang", {"doc": "k"})

    body, _, mac = token.partition(".")
    forged_body = links.issue(LINK_KIND, "N1", "lawyer-chen")[0].partition(".")[0]
    for bad in (f"{forged_body}.{mac}", f"{body}.{mac[:-2]}AA", body, "", "…"):
        with pytest.raises(LinkInvalid):
            links.verify(LINK_KIND, bad)
    with pytest.raises(LinkInvalid):
        links.verify("case-material", token)
    with pytest.raises(LinkInvalid):
        SignedLinks("another secret", ttl_s=60, clock=lambda: now[0]).verify(LINK_KIND, token)
    now[0] += 60
    with pytest.raises(LinkExpired):
        links.verify(LINK_KIND, token)


# -- over HTTP ---------------------------------------------------------------------------------------------


@pytest.fixture
def http_services(gateway: GraphQLClient) -> Services:
    services: Services = gateway.app.state.services  # type: ignore[attr-defined]
    return services


async def fetch(gateway: GraphQLClient, url: str) -> tuple[int, str, bytes]:
    base = gateway.url.removesuffix("/graphql")
    async with aiohttp.ClientSession() as session, session.get(base + url) as response:
        return response.status, response.content_type, await response.read()


@pytest.fixture
async def signed_doc(
    gateway: GraphQLClient, http_services: Services, cluster: SimulatorCluster, world: World
) -> AsyncIterator[tuple[str, str]]:
    """A document served at 粤01 on an unconfirmed address, signed by party-wang and delivered."""
    doc = serve_fresh(cluster, world, "粤01")
    await http_services.cache.bump("粤01")
    body = await gateway.query(SIGN, {"id": doc_id(doc)}, as_="party-wang")
    await delivered(http_services, body["data"]["signDocument"]["id"])
    yield doc_id(doc), doc.case_number


async def test_the_person_served_downloads_the_certificate(
    gateway: GraphQLClient, http_services: Services, world: World, signed_doc: tuple[str, str]
) -> None:
    document, case_number = signed_doc
    body = await gateway.query(CERTIFICATE, {"id": document}, as_="party-wang")
    assert "errors" not in body, body
    certificate = body["data"]["serviceCertificate"]
    assert (certificate["documentId"], certificate["caseNumber"]) == (document, case_number)
    assert certificate["effectiveRule"] == "SIGNED_OR_ACTED"
    assert certificate["downloadUrl"].startswith("/downloads/certificates/")

    status, content_type, content = await fetch(gateway, certificate["downloadUrl"])
    assert (status, content_type) == (200, "application/pdf")
    text = pdf_text(content)
    assert world.demo["party-wang"].name in text
    assert case_number in text
    assert certificate["number"] in text
    assert shown(datetime.fromisoformat(certificate["effectiveServiceAt"])) in text
    assert world.demo["party-wang"].number not in text

    again = await gateway.query(CERTIFICATE, {"id": document}, as_="party-wang")
    assert again["data"]["serviceCertificate"]["number"] == certificate["number"], "same facts, same certificate"

    downloads = AuditRecord.action == "certificate.downloaded", AuditRecord.subject_id == certificate["number"]
    assert await count(http_services.store, AuditRecord, *downloads, AuditRecord.actor == "party-wang") == 1
    _, _, second = await fetch(gateway, certificate["downloadUrl"])
    assert await count(http_services.store, AuditRecord, *downloads) == 2, "every download is audited"
    assert second == content, "sealed as issued: the same certificate, byte for byte"

    # sealed by the court that served it: a standard validator (pyHanko) trusting the demo root agrees
    async with http_services.store.session(read_only=True) as session:
        record = await session.scalar(
            select(CertificateRecord).where(CertificateRecord.number == certificate["number"])
        )
    assert record is not None
    court_name = http_services.settings.court(record.court_code).name
    root = demo_root(http_services.settings)
    status = await asyncio.to_thread(pyhanko_status, content, root)
    assert status.bottom_line and status.intact and status.trusted and common_name(status) == court_name
    assert status.signer_reported_dt == record.issued_at.replace(microsecond=0), "dated when it was issued"
    tampered = bytearray(content)
    signed_until = PdfFileReader(io.BytesIO(content)).embedded_signatures[-1].byte_range[1]
    tampered[signed_until // 2] ^= 1  # within the signed range: the certificate's own bytes
    assert not await asyncio.to_thread(pyhanko_accepts, bytes(tampered), root)
    verdict = await asyncio.to_thread(http_services.reading.seals.verify, content)
    assert verdict.valid and verdict.signer == court_name and verdict.trace_id is None


async def test_the_staff_working_on_the_case_download_it_and_nobody_else_on_staff(
    gateway: GraphQLClient, http_services: Services, signed_doc: tuple[str, str], world: World, settings: Settings
) -> None:
    document, case_number = signed_doc
    court = world.courts["粤01"]
    case = court.cases[court.by_number[case_number]]
    clerk = next(s for s in case.panel if s.role == StaffRole.CLERK)
    judge = next(s for s in case.panel if s.role in (StaffRole.PRESIDING_JUDGE, StaffRole.JUDGE))
    # the staff who work on the case: its clerk and judge, its division's head, the court's leader
    working_on_it = {
        "clerk-01": {"staff_id": clerk.staff_id, "division": clerk.division, "sub": f"clerk-{clerk.staff_id}"},
        "judge-01": {"staff_id": judge.staff_id, "division": judge.division, "sub": f"judge-{judge.staff_id}"},
        "head-01": {"division": case.division, "sub": "head-of-the-case-division"},
        "leader-01": {},
    }
    mine = (await gateway.query(CERTIFICATE, {"id": document}, as_="party-wang"))["data"]["serviceCertificate"]
    for login, claims in working_on_it.items():
        token = mint(world, settings, login, **claims)
        body = await gateway.query(CERTIFICATE, {"id": document, "case": case_number}, token=token)
        assert "errors" not in body, (login, body)
        certificate = body["data"]["serviceCertificate"]
        assert certificate["number"] == mine["number"]
        status, _, content = await fetch(gateway, certificate["downloadUrl"])
        assert status == 200 and case_number in pdf_text(content)
        actor = AuditRecord.actor == claims.get("sub", login), AuditRecord.action == "certificate.downloaded"
        assert await count(http_services.store, AuditRecord, *actor) >= 1

    not_on_it = {
        "a clerk of another panel": mint(world, settings, "clerk-01", staff_id="0100-not-on-the-panel"),
        "the head of another division": mint(world, settings, "head-01", division="没有这个庭"),
    }
    for who, token in not_on_it.items():
        body = await gateway.query(CERTIFICATE, {"id": document, "case": case_number}, token=token)
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", (who, body)

    refused = {
        ("clerk-0104", case_number): "NOT_FOUND",  # another court's staff
        ("leader-0104", case_number): "NOT_FOUND",
        ("lawyer-chen", None): "NOT_FOUND",  # not served on them
        ("clerk-01", None): "BAD_USER_INPUT",  # staff name the case
        ("clerk-01", "（2099）粤01民终1号"): "NOT_FOUND",
        ("archivist-01", case_number): "FORBIDDEN",
    }
    for (login, case), code in refused.items():
        body = await gateway.query(CERTIFICATE, {"id": document, "case": case}, as_=login)
        assert body["data"] is None and body["errors"][0]["extensions"]["code"] == code, (login, case, body)


async def test_expired_tampered_and_unknown_links_are_refused(
    gateway: GraphQLClient, http_services: Services, signed_doc: tuple[str, str]
) -> None:
    document, _ = signed_doc
    certificate = (await gateway.query(CERTIFICATE, {"id": document}, as_="party-wang"))["data"]["serviceCertificate"]
    url = certificate["downloadUrl"]
    prefix, token = url.rsplit("/", 1)
    body, _, mac = token.partition(".")
    settings = http_services.settings
    link_id = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["k"]

    expired = SignedLinks(settings.download_secret, ttl_s=-1).issue(LINK_KIND, link_id, "party-wang")[0]
    other_subject = SignedLinks("not the gateway's secret", ttl_s=300).issue(LINK_KIND, link_id, "party-wang")[0]
    unknown = SignedLinks(settings.download_secret, ttl_s=300).issue(LINK_KIND, "0" * 32, "party-wang")[0]
    before = await count(http_services.store, AuditRecord, AuditRecord.action == "certificate.downloaded")
    cases = {
        f"{prefix}/{expired}": 410,
        f"{prefix}/{body}x.{mac}": 403,
        f"{prefix}/{body}.{mac[::-1]}": 403,
        f"{prefix}/{other_subject}": 403,
        f"{prefix}/{unknown}": 404,
        f"{prefix}/garbage": 403,
    }
    for link, expected in cases.items():
        status, _, _ = await fetch(gateway, link)
        assert status == expected, link
    assert await count(http_services.store, AuditRecord, AuditRecord.action == "certificate.downloaded") == before
    assert (await fetch(gateway, url))[0] == 200


def link_payload(url: str) -> bytes:
    body = url.rsplit("/", 1)[1].partition(".")[0]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


async def test_a_certificate_link_carries_no_personal_data_and_opens_only_for_its_subject(
    gateway: GraphQLClient, http_services: Services, world: World, signed_doc: tuple[str, str]
) -> None:
    """The attacker's probe: a link naming ``judge-0104`` downloaded party-wang's certificate under the
    public demo key, and was audited as the judge's; her ID number travelled in the link."""
    document, _ = signed_doc
    certificate = (await gateway.query(CERTIFICATE, {"id": document}, as_="party-wang"))["data"]["serviceCertificate"]
    payload = link_payload(certificate["downloadUrl"])
    wang = world.demo["party-wang"]
    for personal in (wang.number, wang.name, certificate["number"]):
        assert personal.encode() not in payload, personal
    assert set(json.loads(payload)) == {"k", "sub", "exp", "x"} and json.loads(payload)["x"] == {}

    link_id = json.loads(payload)["k"]
    settings = http_services.settings
    # under another key (the forger's) the link is invalid; under the gateway's own key (an insider's) it names
    # another subject than its record, and opens nothing either
    for key, refused in ((DEMO_DOWNLOAD_SECRET + "-not-the-gateways", 403), (settings.download_secret, 404)):
        as_judge = SignedLinks(key, ttl_s=300).issue(LINK_KIND, link_id, "judge-0104")[0]
        assert (await fetch(gateway, f"/downloads/certificates/{as_judge}"))[0] == refused, key
    assert await count(http_services.store, AuditRecord, AuditRecord.actor == "judge-0104") == 0


async def test_a_certificate_link_expires_on_the_gateways_clock(
    gateway: GraphQLClient, http_services: Services, signed_doc: tuple[str, str]
) -> None:
    document, _ = signed_doc
    original = http_services.clock
    start = datetime.now(UTC)
    http_services.clock = lambda: start
    try:
        certificate = (await gateway.query(CERTIFICATE, {"id": document}, as_="party-wang"))["data"][
            "serviceCertificate"
        ]
        ttl = http_services.settings.download_link_ttl_s
        assert datetime.fromisoformat(certificate["expiresAt"]) == datetime.fromtimestamp(
            int(start.timestamp() + ttl), UTC
        )
        http_services.clock = lambda: start + timedelta(seconds=ttl + 1)
        assert (await fetch(gateway, certificate["downloadUrl"]))[0] == 410
    finally:
        http_services.clock = original


async def test_staff_who_leave_the_panel_can_no_longer_follow_their_link(
    gateway: GraphQLClient,
    http_services: Services,
    cluster: SimulatorCluster,
    signed_doc: tuple[str, str],
    world: World,
    settings: Settings,
) -> None:
    document, case_number = signed_doc
    state = cluster.court_state("粤01")
    case = state.case_by_number(case_number)
    clerk = next(s for s in case.panel if s.role == StaffRole.CLERK)
    subject = f"clerk-{clerk.staff_id}-{secrets.token_hex(4)}"
    token = mint(world, settings, "clerk-01", staff_id=clerk.staff_id, division=clerk.division, sub=subject)
    body = await gateway.query(CERTIFICATE, {"id": document, "case": case_number}, token=token)
    url = body["data"]["serviceCertificate"]["downloadUrl"]

    state.overrides[case.case_id] = replace(case, panel=tuple(s for s in case.panel if s != clerk))
    try:
        assert (await fetch(gateway, url))[0] == 403, "off the panel: the link no longer opens"
    finally:
        del state.overrides[case.case_id]
    downloaded = AuditRecord.action == "certificate.downloaded", AuditRecord.actor == subject
    assert await count(http_services.store, AuditRecord, *downloaded) == 0
    assert (await fetch(gateway, url))[0] == 200, "back on the panel, it opens"
    assert await count(http_services.store, AuditRecord, *downloaded) == 1


async def test_no_certificate_while_a_channel_cannot_answer(
    gateway: GraphQLClient, http_services: Services, sims: SimulatorCluster, signed_doc: tuple[str, str]
) -> None:
    document, _ = signed_doc
    await sims.set_outage(PLATFORM, True)
    await http_services.cache.bump(PLATFORM)
    body = await gateway.query(CERTIFICATE, {"id": document}, as_="party-wang")
    assert body["data"] is None
    assert (body["errors"][0]["extensions"]["code"], body["errors"][0]["extensions"]["court"]) == (
        "COURT_UNAVAILABLE",
        PLATFORM,
    )


# -- issuing and downloading on SQLite and PostgreSQL ----------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
async def stack(request: pytest.FixtureRequest, tmp_path: Path, settings: Settings) -> AsyncIterator[Services]:
    async with service_stack(request.param, tmp_path, settings) as services:
        yield services


async def test_certificates_are_issued_once_per_facts_and_downloads_audited(stack: Services) -> None:
    links = SignedLinks(stack.settings.download_secret, ttl_s=60)
    certificates = CertificateService(stack, links=links)
    group = two_channel_group()
    facts = certificate_facts(group, None, COURTS)
    first = await certificates.issue("party-wang", group, facts)
    assert (await certificates.issue("clerk-0104", group, facts)).number == first.number
    signed = ServedDocumentGroup((replace(group.copies[0], signed_at=at(2, 10)), group.copies[1]))
    newer = await certificates.issue("party-wang", signed, certificate_facts(signed, None, COURTS))
    assert newer.number != first.number and newer.facts["effective"]["at"] == at(2, 10).isoformat()

    party_wang = Viewer(
        "party-wang-1234", "王某", None, frozenset({Role.PARTY}), IdentityLevel.REAL_NAME, "440104199001011234"
    )
    token, _ = await certificates.link(first, party_wang)
    found = await certificates.download(links.verify(LINK_KIND, token))
    assert found is not None and found[0].number == first.number
    # a link for someone the document was not served on opens nothing, and leaves no download record
    stranger = replace(party_wang, subject="someone-else", id_number="440104199001019999")
    with pytest.raises(CertificateAccessLost):
        await certificates.download(links.verify(LINK_KIND, (await certificates.link(first, stranger))[0]))
    assert "（2026）粤0104民初1号" in pdf_text(found[1])
    assert await count(stack.store, AuditRecord, AuditRecord.action == "certificate.issued") == 2
    downloads = AuditRecord.action == "certificate.downloaded", AuditRecord.actor == party_wang.subject
    assert await count(stack.store, AuditRecord, *downloads) == 1
    assert await count(stack.store, AuditRecord, AuditRecord.actor == "someone-else") == 0
    async with stack.store.session(read_only=True) as session:
        assert (await verify(session)).ok


DOCUMENT_SERVICE = """
query ($id: ID!) {
  node(id: $id) {
    ... on ServedDocument { id effectiveServiceAt effectiveRule effectiveByAct { kind description at } }
  }
}"""


async def test_a_filing_after_an_unconfirmed_service_is_service_by_action(
    gateway: GraphQLClient, http_services: Services, cluster: SimulatorCluster, world: World
) -> None:
    """lawyer-li: a 应诉通知书 reaches an address she never confirmed; she files a 答辩状 in the case; service
    took effect when she filed (SIGNED_OR_ACTED, naming the filing), before she ever signed, and the
    certificate's facts say so."""
    from sqlalchemy import select

    from gateway.schema.common import parse_global_id
    from gateway.store.filings import FilingRecord
    from gateway.store.signatures import CertificateRecord
    from tests.filings.test_filings import PDF as FILING_PDF
    from tests.filings.test_filings import upload

    court = "粤0104"
    doc = serve_fresh(cluster, world, court, "lawyer-li")
    await http_services.cache.bump(court)
    before = await gateway.query(DOCUMENT_SERVICE, {"id": doc_id(doc)}, as_="lawyer-li")
    assert "errors" not in before, before
    assert before["data"]["node"]["effectiveServiceAt"] is None, "an unconfirmed address: not yet effective"
    assert before["data"]["node"]["effectiveByAct"] is None

    filed = await upload(gateway, doc.case_number, [("答辩状.pdf", FILING_PDF, "")], as_="lawyer-li", title="答辩状")
    assert "errors" not in filed, filed
    filing_id = parse_global_id(filed["data"]["submitFiling"]["id"])[1]
    async with http_services.store.session(read_only=True) as session:
        row = await session.get(FilingRecord, filing_id)
        assert row is not None
        submitted_at = row.submitted_at

    after = (await gateway.query(DOCUMENT_SERVICE, {"id": doc_id(doc)}, as_="lawyer-li"))["data"]["node"]
    assert datetime.fromisoformat(after["effectiveServiceAt"]) == submitted_at
    assert after["effectiveRule"] == "SIGNED_OR_ACTED"
    assert after["effectiveByAct"]["kind"] == "FILING" and "答辩状" in after["effectiveByAct"]["description"]
    assert datetime.fromisoformat(after["effectiveByAct"]["at"]) == submitted_at

    body = await gateway.query(CERTIFICATE, {"id": doc_id(doc)}, as_="lawyer-li")
    assert "errors" not in body, body
    certificate = body["data"]["serviceCertificate"]
    assert certificate["effectiveRule"] == "SIGNED_OR_ACTED"
    assert datetime.fromisoformat(certificate["effectiveServiceAt"]) == submitted_at
    async with http_services.store.session(read_only=True) as session:
        record = await session.scalar(
            select(CertificateRecord).where(CertificateRecord.number == certificate["number"])
        )
    assert record is not None
    act = record.facts["effective"]["act"]
    assert (act["kind"], act["reference"]) == ("FILING", filing_id)
    assert "答辩状" in act["text"] and act["text"].startswith("受送达人于")
    assert [c["effective_at"] for c in record.facts["channels"] if c["source_code"] == court] == [
        record.facts["effective"]["at"]
    ]
    status, _, content = await fetch(gateway, certificate["downloadUrl"])
    assert status == 200 and shown(submitted_at) in pdf_text(content)
