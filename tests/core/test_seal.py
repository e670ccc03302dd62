"""Case-file downloads end to end: the signed link, the watermark on every page, the court's seal (a PDF
signature, checked by pyHanko's validator too), and its verification (GraphQL and CLI); the earlier
Ed25519 seal (verified for a transition) and the watermark on their own.

Downloads run over real HTTP against the simulators (the ``gateway`` fixture, SQLite): a link is issued by
``downloadMaterial`` and followed without a token, as a browser would. Time is moved through the gateway's
``services.clock`` (reading windows, link expiry), never by waiting.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pypdf
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from multidict import CIMultiDict
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfgen import canvas
from sqlalchemy import func, select

from gateway.adapters.model import Case, CaseStatus, PartyKind, PersonRef, VolumeKind
from gateway.archive.reading import LINK_KIND
from gateway.archive.watermark import NotAPdf, Watermark, watermark
from gateway.config import Settings
from gateway.core.access import mask_id_number
from gateway.core.links import SignedLinks
from gateway.core.pdfsign import demo_dir
from gateway.core.seal import (
    DEMO_SEED,
    SEAL_MARKER,
    Sealer,
    SealKeyError,
    SealProblem,
    legacy_verifier,
    load_private_key,
)
from gateway.services import Services
from gateway.store.archive import MaterialLinkRecord
from gateway.store.audit import verify
from gateway.store.models import AuditRecord
from simulators.cluster import SimulatorCluster
from simulators.generator import World
from tests.conftest import GraphQLClient, mint
from tests.seals import common_name, demo_root, pyhanko_status

WANG_ID = "440104198503153121"
TRACE = "0123456789abcdef0123456789abcdef"
AT = datetime(2026, 11, 23, 9, 30, 5, tzinfo=UTC)


# -- helpers ---------------------------------------------------------------------------------------------


def pdf_of(pages: int, *, size: tuple[float, float] = A4, rotate: int = 0) -> bytes:
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=size)
    for n in range(1, pages + 1):
        pdf.drawString(72, 720, f"page {n}")
        pdf.showPage()
    pdf.save()
    if not rotate:
        return buf.getvalue()
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(buf.getvalue())))
    for page in writer.pages:
        page.rotate(rotate)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def page_texts(content: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages]


def flipped(content: bytes, at: int) -> bytes:
    changed = bytearray(content)
    changed[at] ^= 0x01
    return bytes(changed)


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def services_of(gateway: GraphQLClient) -> Services:
    services: Services = gateway.app.state.services  # type: ignore[attr-defined]
    return services


def person_cases(cluster: SimulatorCluster, world: World, login: str, court: str) -> list[Case]:
    person = world.demo[login]
    return cluster.court_state(court).cases_of(PersonRef(person.kind, person.number))


# -- the seal ----------------------------------------------------------------------------------------------


def test_a_sealed_file_verifies_and_one_changed_byte_anywhere_does_not() -> None:
    sealer = Sealer(Ed25519PrivateKey.generate())
    original = pdf_of(2)
    sealed = sealer.seal(original, trace_id=TRACE, sealed_at=AT)
    assert sealed.startswith(original) and sealed.count(SEAL_MARKER) == 1 and sealed.endswith(b"\n")
    check = sealer.verify(sealed)
    assert check.valid and check.problem is None
    assert (check.trace_id, check.sealed_at, check.key_id) == (TRACE, AT, sealer.key_id)
    assert len(pypdf.PdfReader(io.BytesIO(sealed)).pages) == 2, "readers still open a sealed file"

    seal_at = sealed.index(SEAL_MARKER)
    for at in (0, 10, len(original) // 2, seal_at - 2):
        found = sealer.verify(flipped(sealed, at))
        assert not found.valid and found.problem == SealProblem.TAMPERED, at
    for at in (seal_at + len(SEAL_MARKER) + 5, len(sealed) - 3):
        found = sealer.verify(flipped(sealed, at))
        assert not found.valid and found.problem in (SealProblem.MALFORMED, SealProblem.BAD_SIGNATURE), at
    assert sealer.verify(original).problem == SealProblem.UNSEALED
    assert sealer.verify(sealed + b"trailing\n").problem == SealProblem.UNSEALED
    assert sealer.verify(b"").problem == SealProblem.UNSEALED


def test_a_forged_seal_over_changed_bytes_fails_its_signature() -> None:
    """Changing the file and restating its digest in the seal is caught by the signature."""
    sealer = Sealer(Ed25519PrivateKey.generate())
    sealed = sealer.seal(pdf_of(1), trace_id=TRACE, sealed_at=AT)
    body, line = sealed[: sealed.index(SEAL_MARKER)], sealed[sealed.index(SEAL_MARKER) + len(SEAL_MARKER) : -1]
    seal = json.loads(base64.urlsafe_b64decode(line + b"=" * (-len(line) % 4)))
    changed = body + b"% a line slipped in after sealing\n"
    seal["sha256"] = hashlib.sha256(changed).hexdigest()
    forged_line = base64.urlsafe_b64encode(json.dumps(seal).encode()).rstrip(b"=")
    forged = sealer.verify(changed + SEAL_MARKER + forged_line + b"\n")
    assert not forged.valid and forged.problem == SealProblem.BAD_SIGNATURE


def test_another_keys_seal_is_unknown_until_that_key_is_trusted() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    sealed = Sealer(old).seal(pdf_of(1), trace_id=TRACE, sealed_at=AT)
    assert Sealer(new).verify(sealed).problem == SealProblem.UNKNOWN_KEY
    assert Sealer(new, [old.public_key()]).verify(sealed).valid, "a rotated-out key stays trusted for checking"


def test_seal_keys_come_from_settings() -> None:
    """The earlier form's keys (verified for a transition): PEM or seed, trusted ones, and the demo key only
    outside production."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    from_pem = Sealer(load_private_key(pem.decode()))
    from_seed = Sealer(load_private_key(seed.hex()))
    assert from_pem.key_id == from_seed.key_id == Sealer(key).key_id
    assert from_pem.key_id != Sealer(Ed25519PrivateKey.from_private_bytes(DEMO_SEED)).key_id, (
        "the demo key is another key"
    )
    for bad in ("not a key", "ab" * 31, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"):
        with pytest.raises(SealKeyError):
            load_private_key(bad)
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    sealed = from_seed.seal(pdf_of(1), trace_id=TRACE, sealed_at=AT)
    assert legacy_verifier("", [public], production=True).verify(sealed).valid
    assert legacy_verifier(pem.decode(), [], production=True).verify(sealed).valid
    assert legacy_verifier("", [], production=False).verify(sealed).problem == SealProblem.UNKNOWN_KEY
    demo_sealed = Sealer(Ed25519PrivateKey.from_private_bytes(DEMO_SEED)).seal(pdf_of(1), trace_id=TRACE, sealed_at=AT)
    assert legacy_verifier("", [], production=False).verify(demo_sealed).valid
    assert legacy_verifier("", [public], production=True).verify(demo_sealed).problem == SealProblem.UNKNOWN_KEY


# -- the watermark ------------------------------------------------------------------------------------------

MARK = Watermark("王芳", f"身份证号 {mask_id_number(WANG_ID)}", AT, TRACE)


def test_every_page_is_watermarked_whatever_its_size_or_rotation() -> None:
    for source in (pdf_of(3), pdf_of(2, size=landscape(A4)), pdf_of(2, rotate=90)):
        stamped, pages = watermark(source, MARK)
        texts = page_texts(stamped)
        assert pages == len(texts) == len(page_texts(source))
        for text in texts:
            assert "阅卷人：王芳" in text and "440104********3121" in text and TRACE in text, text
            assert "2026-11-23 17:30:05（北京时间）" in text, "the time is China time"
            assert WANG_ID not in text


def test_a_scanned_image_is_put_on_a_page_and_anything_else_refused() -> None:
    from PIL import Image  # reportlab's own image library

    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 220, 240)).save(buf, format="PNG")
    png = buf.getvalue()
    stamped, pages = watermark(png, MARK)
    assert pages == 1 and "阅卷人：王芳" in page_texts(stamped)[0]
    for bad in (b"plain text", b"%PDF-1.4 broken"):
        with pytest.raises(NotAPdf):
            watermark(bad, MARK)


# -- downloads over HTTP ---------------------------------------------------------------------------------------

CASE_FILE = """
query ($n: String!) { case(caseNumber: $n) { caseNumber status caseFile { kind title materials { id title pages } } } }"""
DOWNLOAD = """
mutation ($n: String!, $m: ID!) {
  downloadMaterial(caseNumber: $n, materialId: $m) {
    url expiresAt traceId caseNumber access material { id title pages }
  }
}"""
VERIFY = """
mutation ($file: Upload!) {
  verifyDocumentSeal(file: $file) { valid problem reason traceId sealedAt keyId sha256 form signer intact }
}"""
APPLY = """
mutation ($n: String!, $reason: String!, $files: [Upload!]) {
  applyForArchiveAccess(caseNumber: $n, reason: $reason, attachments: $files) { id status windowClosesAt }
}"""
DECIDE = """
mutation ($id: ID!, $approve: Boolean!, $note: String) {
  decideArchiveAccess(applicationId: $id, approve: $approve, note: $note) { id status windowOpensAt windowClosesAt }
}"""


async def fetch(gateway: GraphQLClient, url: str) -> tuple[int, CIMultiDict[str], bytes]:
    base = gateway.url.removesuffix("/graphql")
    async with aiohttp.ClientSession() as session, session.get(base + url) as response:
        return response.status, CIMultiDict(response.headers), await response.read()


async def multipart(
    gateway: GraphQLClient, query: str, variables: dict[str, Any], files: dict[str, tuple[str, bytes, str]], token: str
) -> dict[str, Any]:
    """A GraphQL multipart request: ``files`` maps a variable path (``variables.file``) to (name, bytes, type)."""
    form = aiohttp.FormData()
    form.add_field("operations", json.dumps({"query": query, "variables": variables}), content_type="application/json")
    form.add_field("map", json.dumps({str(i): [path] for i, path in enumerate(files)}))
    for i, (name, content, content_type) in enumerate(files.values()):
        form.add_field(str(i), content, filename=name, content_type=content_type)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session, session.post(gateway.url, data=form, headers=headers) as response:
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body


async def verify_over_graphql(gateway: GraphQLClient, content: bytes, token: str) -> dict[str, Any]:
    body = await multipart(
        gateway, VERIFY, {"file": None}, {"variables.file": ("download.pdf", content, "application/pdf")}, token
    )
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["verifyDocumentSeal"]
    return result


async def cli_seal_verify(path: Path, settings: Settings) -> tuple[int, str]:
    """``court-gateway seal verify`` as an operator runs it, configured like the gateway (its demo chain)."""
    env = {**os.environ, "GATEWAY_SEAL_DEMO_DIR": str(demo_dir(settings))}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "seal",
        "verify",
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def audit_count(services: Services, *where: Any) -> int:
    async with services.store.session(read_only=True) as session:
        return (await session.execute(select(func.count()).select_from(AuditRecord).where(*where))).scalar_one()


@pytest.fixture
def move_clock(gateway: GraphQLClient) -> Iterator[Callable[[datetime], None]]:
    """Set the gateway's "now" (reading windows, link expiry); put back afterwards."""
    services = services_of(gateway)
    original = services.clock

    def move(at: datetime) -> None:
        services.clock = lambda: at

    yield move
    services.clock = original


def closed_case(cluster: SimulatorCluster, world: World, court: str) -> Case:
    return next(
        c
        for c in person_cases(cluster, world, "party-wang", court)
        if c.status == CaseStatus.CLOSED and c.public_hearing
    )


async def main_file(
    gateway: GraphQLClient, case_number: str, *, as_: str | None = None, token: str | None = None
) -> list[dict[str, Any]]:
    body = await gateway.query(CASE_FILE, {"n": case_number}, as_=as_, token=token)
    assert "errors" not in body, body
    volumes: list[dict[str, Any]] = body["data"]["case"]["caseFile"]
    return volumes


@pytest.mark.parametrize("court", ["粤0105", "粤01"])  # soap-gbk and v2-rest
async def test_party_wang_downloads_her_closed_cases_main_file_watermarked_and_sealed(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, tmp_path: Path, court: str
) -> None:
    services = services_of(gateway)
    case = closed_case(cluster, world, court)
    volumes = await main_file(gateway, case.case_number, as_="party-wang")
    assert [v["kind"] for v in volumes] == ["MAIN"], "never the 副卷"
    material = max((m for v in volumes for m in v["materials"]), key=lambda m: m["pages"])
    assert material["pages"] >= 3

    body = await gateway.query(DOWNLOAD, {"n": case.case_number, "m": material["id"]}, as_="party-wang")
    assert "errors" not in body, body
    issued = body["data"]["downloadMaterial"]
    assert issued["access"] == "DIRECT" and issued["material"]["id"] == material["id"]
    assert issued["url"].startswith("/downloads/materials/") and len(issued["traceId"]) == 32
    assert datetime.fromisoformat(issued["expiresAt"]) > datetime.now(UTC)

    status, headers, content = await fetch(gateway, issued["url"])
    assert status == 200, content
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"].startswith(f'attachment; filename="material-{issued["traceId"]}.pdf"')
    assert "filename*=UTF-8''" in headers["Content-Disposition"] and "%E5%8F%B7" in headers["Content-Disposition"]
    assert headers["X-Trace-Id"] == issued["traceId"] and headers["Cache-Control"] == "no-store"

    texts = page_texts(content)
    assert len(texts) == 3, "the court's PDF, every page of it"
    for text in texts:
        assert case.case_number in text, "the material itself"
        assert "阅卷人：王芳" in text and "身份证号 440104********3121" in text and issued["traceId"] in text
        assert WANG_ID not in text, "her ID number is masked"

    court_name = services.settings.court(court).name
    check = await verify_over_graphql(gateway, content, gateway.tokens["party-wang"])
    assert check["valid"] is True and check["problem"] is None and check["traceId"] == issued["traceId"]
    assert datetime.fromisoformat(check["sealedAt"]).utcoffset() == timedelta(hours=8)
    assert (check["form"], check["signer"], check["intact"]) == ("PDF_SIGNATURE", court_name, True)
    tampered = flipped(content, len(content) // 3)
    bad = await verify_over_graphql(gateway, tampered, gateway.tokens["lawyer-chen"])
    assert bad["valid"] is False and bad["problem"] == "TAMPERED" and bad["intact"] is False

    # a standard validator (pyHanko), trusting the demo root only, agrees: the court's seal, intact
    root = demo_root(services.settings)
    status = await asyncio.to_thread(pyhanko_status, content, root)
    assert status.bottom_line and status.intact and status.trusted and common_name(status) == court_name
    assert not (await asyncio.to_thread(pyhanko_status, tampered, root)).intact

    good_file, bad_file, plain = tmp_path / "good.pdf", tmp_path / "bad.pdf", tmp_path / "plain.pdf"
    good_file.write_bytes(content)
    bad_file.write_bytes(tampered)
    plain.write_bytes(pdf_of(1))
    code, out = await cli_seal_verify(good_file, services.settings)
    assert code == 0 and out.startswith(f"{good_file}: seal valid: trace {issued['traceId']}"), out
    code, out = await cli_seal_verify(bad_file, services.settings)
    assert code == 1 and "TAMPERED" in out, out
    code, out = await cli_seal_verify(plain, services.settings)
    assert code == 1 and "UNSEALED" in out, out
    code, _ = await cli_seal_verify(tmp_path / "missing.pdf", services.settings)
    assert code == 2

    async with services.store.session(read_only=True) as session:
        link = await session.get(MaterialLinkRecord, issued["traceId"])
        assert link is not None and (link.subject, link.access, link.downloads) == ("party-wang", "DIRECT", 1)
        assert link.last_sha256 == hashlib.sha256(content).hexdigest()
        assert (await verify(session)).ok
    subject = AuditRecord.subject_id == f"{case.case_number}|{material['id']}"
    assert await audit_count(services, subject, AuditRecord.action == "material.link_issued") == 1
    downloaded = AuditRecord.action == "material.downloaded", subject
    assert await audit_count(services, *downloaded) == 1
    async with services.store.session(read_only=True) as session:
        record = (await session.scalars(select(AuditRecord).where(*downloaded))).one()
    assert record.actor == "party-wang" and record.details["trace_id"] == issued["traceId"]
    assert record.details["sha256"] == link.last_sha256 and record.details["pages"] == 3
    assert (record.details["seal_signer"], record.details["seal_key"]) == (court_name, check["keyId"])
    viewed = AuditRecord.action == "casefile.viewed", AuditRecord.subject_id == case.case_number
    assert await audit_count(services, *viewed) >= 1, "listing the case file is a view"


async def test_links_are_short_lived_and_unforgeable(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, move_clock: Callable[[datetime], None]
) -> None:
    case = closed_case(cluster, world, "粤0105")
    material = (await main_file(gateway, case.case_number, as_="party-wang"))[0]["materials"][0]
    start = datetime.now(UTC)
    move_clock(start)
    issued = (await gateway.query(DOWNLOAD, {"n": case.case_number, "m": material["id"]}, as_="party-wang"))["data"][
        "downloadMaterial"
    ]
    token = issued["url"].rsplit("/", 1)[1]
    body, mac = token.split(".")
    forged_body = (
        base64.urlsafe_b64encode(
            json.dumps({"k": issued["traceId"], "sub": "lawyer-li", "exp": 9999999999, "x": {}}).encode()
        )
        .decode()
        .rstrip("=")
    )
    for forged in (f"{forged_body}.{mac}", f"{body}.{mac[:-2]}AA", "nonsense", f"{body}."):
        status, headers, _ = await fetch(gateway, f"/downloads/materials/{forged}")
        assert (status, headers.get("X-Error-Code")) == (403, "LINK_INVALID"), forged
    # a certificate link (another kind, the same secret) never opens a material
    status, _, _ = await fetch(gateway, f"/downloads/certificates/{token}")
    assert status == 403

    move_clock(start + timedelta(seconds=services_of(gateway).settings.download_link_ttl_s + 1))
    status, headers, _ = await fetch(gateway, issued["url"])
    assert (status, headers.get("X-Error-Code")) == (410, "LINK_EXPIRED")
    async with services_of(gateway).store.session(read_only=True) as session:
        link = await session.get(MaterialLinkRecord, issued["traceId"])
        assert link is not None and link.downloads == 0, "nothing was delivered"


def link_payload(url: str) -> bytes:
    """The bytes anyone holding a link can read: its payload, base64url-decoded."""
    body = url.rsplit("/", 1)[1].partition(".")[0]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


@contextlib.contextmanager
def court_changed(cluster: SimulatorCluster, case: Case) -> Iterator[None]:
    """The court records ``case`` as given (its status, parties, panel) meanwhile."""
    state = cluster.court_state(case.court_code)
    before = state.overrides.get(case.case_id)
    state.overrides[case.case_id] = case
    try:
        yield
    finally:
        if before is None:
            del state.overrides[case.case_id]
        else:
            state.overrides[case.case_id] = before


async def test_a_material_link_carries_no_personal_data(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    case = closed_case(cluster, world, "粤0105")
    material = (await main_file(gateway, case.case_number, as_="party-wang"))[0]["materials"][0]
    body = await gateway.query(DOWNLOAD, {"n": case.case_number, "m": material["id"]}, as_="party-wang")
    issued = body["data"]["downloadMaterial"]
    payload = link_payload(issued["url"])
    for personal in (WANG_ID, mask_id_number(WANG_ID), "王芳", case.case_number, material["title"]):
        assert personal.encode() not in payload, personal
    assert json.loads(payload) == {
        "k": issued["traceId"],
        "sub": "party-wang",
        "exp": json.loads(payload)["exp"],
        "x": {},
    }


async def test_a_material_link_asks_again_whether_its_reader_may_read_the_case(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    """Issued under direct access (party of record, case not archived): the case archived since, or the
    party no longer of record, refuses the link; the court's record restored, it opens again."""
    services = services_of(gateway)
    case = closed_case(cluster, world, "粤0105")
    subject = f"wang-{uuid.uuid4().hex[:8]}"  # no archive application of her own under this subject
    token = mint(world, settings, "party-wang", sub=subject)
    material = (await main_file(gateway, case.case_number, token=token))[0]["materials"][0]
    body = await gateway.query(DOWNLOAD, {"n": case.case_number, "m": material["id"]}, token=token)
    issued = body["data"]["downloadMaterial"]
    assert issued["access"] == "DIRECT", body

    lost = {
        "APPLICATION_REQUIRED": replace(case, status=CaseStatus.ARCHIVED),
        "FORBIDDEN": replace(case, parties=tuple(p for p in case.parties if p.id_number != WANG_ID)),
    }
    for code, changed in lost.items():
        with court_changed(cluster, changed):
            await services.cache.bump(case.court_code)
            status, headers, _ = await fetch(gateway, issued["url"])
            assert (status, headers.get("X-Error-Code")) == (403, code), code
    await services.cache.bump(case.court_code)
    downloaded = AuditRecord.action == "material.downloaded", AuditRecord.actor == subject
    assert await audit_count(services, *downloaded) == 0, "nothing was delivered"
    status, _, content = await fetch(gateway, issued["url"])
    assert status == 200 and page_texts(content), "the court's record restored, the link opens"
    assert await audit_count(services, *downloaded) == 1


async def test_a_link_under_another_key_or_naming_another_subject_opens_nothing(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    services = services_of(gateway)
    case = closed_case(cluster, world, "粤0105")
    material = (await main_file(gateway, case.case_number, as_="party-wang"))[0]["materials"][0]
    body = await gateway.query(DOWNLOAD, {"n": case.case_number, "m": material["id"]}, as_="party-wang")
    trace = body["data"]["downloadMaterial"]["traceId"]
    forged = SignedLinks("the attacker's own key, long enough to pass", ttl_s=300).issue(LINK_KIND, trace, "party-wang")
    status, headers, _ = await fetch(gateway, f"/downloads/materials/{forged[0]}")
    assert (status, headers.get("X-Error-Code")) == (403, "LINK_INVALID")
    # even under the gateway's own key, a link names the subject its record was issued to, or nothing opens
    insider = SignedLinks(services.settings.download_secret, ttl_s=300).issue(LINK_KIND, trace, "judge-0104")
    status, headers, _ = await fetch(gateway, f"/downloads/materials/{insider[0]}")
    assert (status, headers.get("X-Error-Code")) == (404, "NOT_FOUND")
    assert await audit_count(services, AuditRecord.actor == "judge-0104") == 0


async def test_the_internal_file_and_unpublished_materials_are_never_issued(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    chen_case = next(
        c for c in person_cases(cluster, world, "lawyer-chen", "粤0105") if c.status != CaseStatus.ARCHIVED
    )
    internal = f"{chen_case.case_id}-F01"
    body = await gateway.query(DOWNLOAD, {"n": chen_case.case_number, "m": internal}, as_="lawyer-chen")
    # a 副卷 material answers exactly like one that does not exist: no oracle for sequential ids
    assert codes(body) == ["NOT_FOUND"] and "副卷" not in body["errors"][0]["message"]
    missing = await gateway.query(DOWNLOAD, {"n": chen_case.case_number, "m": "no-such-material"}, as_="lawyer-chen")
    assert codes(missing) == ["NOT_FOUND"] and missing["errors"][0]["message"] == body["errors"][0]["message"]

    wang_case = closed_case(cluster, world, "粤0105")
    main = f"{wang_case.case_id}-Z01"
    stranger = await gateway.query(DOWNLOAD, {"n": wang_case.case_number, "m": main}, as_="lawyer-li")
    assert codes(stranger) == ["NOT_FOUND"], "a stranger learns nothing"
    phone = mint(world, settings, "party-wang", level="PHONE")
    assert codes(await gateway.query(DOWNLOAD, {"n": wang_case.case_number, "m": main}, token=phone)) == ["FORBIDDEN"]
    assert codes(await gateway.query(DOWNLOAD, {"n": "hello", "m": main}, as_="party-wang")) == ["INVALID_CASE_NUMBER"]

    # a case heard in private: its party sees the 正卷 without materials, and none is issued
    private = next(
        c
        for c in world.courts["粤0104"].cases.values()
        if not c.public_hearing and c.status == CaseStatus.CLOSED and any(p.kind == PartyKind.PERSON for p in c.parties)
    )
    party = next(p for p in private.parties if p.kind == PartyKind.PERSON)
    token = mint(
        world, settings, "party-wang", sub=f"private-{uuid.uuid4().hex[:6]}", name=party.name, id_number=party.id_number
    )
    shown = await main_file(gateway, private.case_number, token=token)
    assert [v["kind"] for v in shown] == ["MAIN"] and all(not v["materials"] for v in shown)
    refused = await gateway.query(DOWNLOAD, {"n": private.case_number, "m": f"{private.case_id}-Z01"}, token=token)
    assert codes(refused) == ["NOT_FOUND"], (
        "unpublished (private hearing): answered like a material that does not exist"
    )


async def test_an_archived_case_needs_an_application_before_any_download(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World, settings: Settings
) -> None:
    archived = next(c for c in person_cases(cluster, world, "party-wang", "粤0104") if c.status == CaseStatus.ARCHIVED)
    token = mint(world, settings, "party-wang", sub=f"wang-{uuid.uuid4().hex[:6]}")  # no application of hers yet
    body = await gateway.query(DOWNLOAD, {"n": archived.case_number, "m": f"{archived.case_id}-Z01"}, token=token)
    assert codes(body) == ["APPLICATION_REQUIRED"] and "applyForArchiveAccess" in body["errors"][0]["message"]


async def test_a_window_link_used_after_the_window_closes_is_refused(
    gateway: GraphQLClient,
    cluster: SimulatorCluster,
    world: World,
    settings: Settings,
    move_clock: Callable[[datetime], None],
) -> None:
    """A lawyer not of record reads an archived case in an approved window; a link issued just before the
    window closes is refused once it has."""
    chen = world.demo["lawyer-chen"].number
    archived = next(
        c
        for c in world.courts["粤0104"].cases.values()
        if c.status == CaseStatus.ARCHIVED and c.public_hearing and all(a.licence_number != chen for a in c.agents)
    )
    token = mint(world, settings, "lawyer-chen", sub=f"chen-{uuid.uuid4().hex[:6]}")
    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday
    move_clock(start)
    applied = await multipart(
        gateway,
        APPLY,
        {"n": archived.case_number, "reason": "准备申请再审，需查阅原审卷宗", "files": [None]},
        {"variables.files.0": ("授权委托书.pdf", pdf_of(1), "application/pdf")},
        token,
    )
    assert "errors" not in applied, applied
    decided = await gateway.query(
        DECIDE, {"id": applied["data"]["applyForArchiveAccess"]["id"], "approve": True}, as_="archivist-0104"
    )
    assert "errors" not in decided, decided
    closes = datetime.fromisoformat(decided["data"]["decideArchiveAccess"]["windowClosesAt"])
    assert closes - start == timedelta(hours=settings.archive_window_hours)

    move_clock(closes - timedelta(seconds=30))
    material = f"{archived.case_id}-Z01"
    issued = (await gateway.query(DOWNLOAD, {"n": archived.case_number, "m": material}, token=token))["data"][
        "downloadMaterial"
    ]
    assert issued["access"] == "WINDOW"
    status, _, content = await fetch(gateway, issued["url"])
    assert status == 200
    assert all("执业证号 144012*******0001" in text and "陈志明" in text for text in page_texts(content))
    internal = await gateway.query(DOWNLOAD, {"n": archived.case_number, "m": f"{archived.case_id}-F01"}, token=token)
    assert codes(internal) == ["NOT_FOUND"], "a window opens the 正卷 only (the 副卷 answers like a missing material)"

    move_clock(closes + timedelta(seconds=1))
    status, headers, _ = await fetch(gateway, issued["url"])
    assert (status, headers.get("X-Error-Code")) == (403, "ACCESS_WINDOW_CLOSED"), "the link outlived the window"
    again = await gateway.query(DOWNLOAD, {"n": archived.case_number, "m": material}, token=token)
    assert codes(again) == ["ACCESS_WINDOW_CLOSED"]


async def test_the_courts_staff_download_the_internal_file_watermarked_with_their_number(
    gateway: GraphQLClient, cluster: SimulatorCluster, world: World
) -> None:
    case = next(c for c in person_cases(cluster, world, "party-wang", "粤0104") if c.status != CaseStatus.ARCHIVED)
    volumes = await main_file(gateway, case.case_number, as_="leader-0104")
    internal = next(m for v in volumes if v["kind"] == VolumeKind.INTERNAL.value for m in v["materials"])
    issued = (await gateway.query(DOWNLOAD, {"n": case.case_number, "m": internal["id"]}, as_="leader-0104"))["data"][
        "downloadMaterial"
    ]
    assert issued["access"] == "STAFF"
    status, _, content = await fetch(gateway, issued["url"])
    assert status == 200
    # the leader's staff number is printed: staff have no ID number on their token
    leader = next(s for s in world.courts["粤0104"].staff if s.role.value == "COURT_LEADER")
    assert all(f"工号 {leader.staff_id}" in text for text in page_texts(content))
    other_court = await gateway.query(DOWNLOAD, {"n": case.case_number, "m": internal["id"]}, as_="leader-01")
    assert codes(other_court) == ["NOT_FOUND"]
