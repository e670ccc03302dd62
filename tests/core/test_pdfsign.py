"""The court seal as a PDF signature (PAdES): what pyHanko's own validator says of a sealed file, one
changed byte, bytes added, another CA's root; the stamp; credentials from settings; the demo chain; and
files sealed the earlier way (Ed25519), still verified in the demo for a transition, never with the demo
key in production."""

from __future__ import annotations

import io
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pypdf
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.status import SignatureCoverageLevel

from gateway.config import SealSigner, Settings
from gateway.core.demo_chain import DEMO_ORGANIZATION, DemoChain
from gateway.core.pdfsign import SealCredentialError, court_seals_for, trace_reason
from gateway.core.pdfstamp import draw_stamp
from gateway.core.seal import DEMO_SEED, Sealer, SealForm, SealProblem
from tests.core.test_seal import TRACE, flipped, pdf_of
from tests.seals import common_name, court_chain, pyhanko_accepts, pyhanko_status, write

AT = datetime(2026, 11, 23, 9, 30, 5, tzinfo=UTC)
YUEXIU = "广州市越秀区人民法院"


@pytest.fixture(scope="module")
def chain() -> tuple[str, str, str]:
    return court_chain(YUEXIU)


def configured(tmp_path: Path, chain: tuple[str, str, str], **changes: object) -> Settings:
    root, certificate, key = chain
    fields: dict[str, object] = {
        "seal_signers": {"yuexiu": SealSigner(certificate=certificate, key=str(write(tmp_path / "key.pem", key)))},
        "seal_trust_roots": [root],
        "seal_demo_dir": tmp_path / "demo",
    }
    return Settings(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_sealed_pdf_validates_with_pyhanko_and_fails_after_one_changed_byte(
    tmp_path: Path, chain: tuple[str, str, str]
) -> None:
    seals = court_seals_for(configured(tmp_path, chain))
    original = pdf_of(2)
    sealed, credential = seals.sign(original, court_code="粤0104", signed_at=AT, reason=trace_reason("电子阅卷", TRACE))
    assert sealed.startswith(original), "an incremental update: the watermarked bytes are signed as they are"
    assert credential.subject == YUEXIU
    assert len(pypdf.PdfReader(io.BytesIO(sealed)).pages) == 2

    status = pyhanko_status(sealed, chain[0])
    assert status.bottom_line and status.intact and status.valid and status.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert common_name(status) == YUEXIU and status.signer_reported_dt == AT
    signature = PdfFileReader(io.BytesIO(sealed)).embedded_signatures[-1]
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached", "PAdES, not adbe.pkcs7"

    check = seals.verify(sealed)
    assert check.valid and check.problem is None and check.form == SealForm.PDF_SIGNATURE and check.intact
    assert (check.trace_id, check.sealed_at, check.signer, check.key_id) == (TRACE, AT, YUEXIU, credential.fingerprint)
    assert str(check).startswith(f"seal valid: trace {TRACE}, sealed 2026-11-23 09:30:05 +0000, signed by {YUEXIU}")

    assert signature.byte_range[0] == 0
    for at in (20, len(original) // 2, len(original) - 10, len(original) + 200):
        tampered = flipped(sealed, at)
        assert not pyhanko_status(tampered, chain[0]).intact, at
        found = seals.verify(tampered)
        assert not found.valid and found.problem == SealProblem.TAMPERED and found.intact is False, at
    # the signature dictionary itself (its /Contents key) and the bytes after the signature value
    for at in (signature.byte_range[1] - 5, signature.byte_range[2] + 10, len(sealed) - 20):
        tampered = flipped(sealed, at)
        assert not pyhanko_accepts(tampered, chain[0]), at
        found = seals.verify(tampered)
        assert not found.valid and found.problem in (SealProblem.TAMPERED, SealProblem.MALFORMED), at
    added = seals.verify(sealed + b"\n% appended after sealing\n")
    assert not added.valid and added.problem == SealProblem.TAMPERED and added.intact
    assert seals.verify(original).problem == SealProblem.UNSEALED
    assert seals.verify(b"").problem == SealProblem.UNSEALED
    assert seals.verify(b"%PDF-1.7 /ByteRange garbage").problem == SealProblem.MALFORMED


def test_another_cas_seal_is_untrusted_and_sealing_is_repeatable(tmp_path: Path, chain: tuple[str, str, str]) -> None:
    seals = court_seals_for(configured(tmp_path, chain))
    original = pdf_of(1)
    sealed, _ = seals.sign(original, court_code="粤0104", signed_at=AT, reason="电子送达凭证 N1")
    time.sleep(1.1)  # the system clock moves on (PDF dates have whole seconds): it must not show
    again, _ = seals.sign(original, court_code="粤0104", signed_at=AT, reason="电子送达凭证 N1")
    assert again == sealed, "the same file, court and time: the same bytes"
    other_root, other_chain, other_key = court_chain(YUEXIU, organization="Some Other CA")
    forged, _ = court_seals_for(configured(tmp_path, (other_root, other_chain, other_key))).sign(
        pdf_of(1), court_code="粤0104", signed_at=AT, reason="电子送达凭证 N1"
    )
    found = seals.verify(forged)
    assert not found.valid and found.problem == SealProblem.UNKNOWN_KEY and found.intact
    assert found.signer == YUEXIU, "a look-alike name does not make a trusted seal"
    assert not pyhanko_status(forged, chain[0]).trusted


def test_the_stamp_names_the_court_and_the_signing_time_in_beijing_time() -> None:
    text = pypdf.PdfReader(io.BytesIO(draw_stamp(YUEXIU, AT))).pages[0].extract_text()
    assert "电子签章" in text and "2026-11-23" in text and "17:30:05" in text
    assert all(ch in text for ch in YUEXIU)
    assert draw_stamp(YUEXIU, AT) == draw_stamp(YUEXIU, AT)


def test_the_seal_is_a_visible_signature_on_the_last_page(tmp_path: Path, chain: tuple[str, str, str]) -> None:
    sealed, _ = court_seals_for(configured(tmp_path, chain)).sign(
        pdf_of(3), court_code="粤0104", signed_at=AT, reason="电子送达凭证 N1"
    )
    pages = pypdf.PdfReader(io.BytesIO(sealed)).pages
    widgets = [a.get_object() for a in pages[-1].get("/Annots", [])]
    assert [w["/FT"] for w in widgets] == ["/Sig"] and all("/Annots" not in p for p in pages[:-1])
    x1, y1, x2, y2 = (float(v) for v in widgets[0]["/Rect"])
    assert 100 <= x2 - x1 == y2 - y1 and x2 <= float(pages[-1].mediabox.right), "a square stamp, on the page"
    assert "/N" in widgets[0]["/AP"], "with an appearance: readers show the stamp"


def test_seal_credentials_come_from_settings(tmp_path: Path, chain: tuple[str, str, str]) -> None:
    root, certificate, key = chain
    by_path = configured(tmp_path, chain, seal_trust_roots=[str(write(tmp_path / "root.pem", root))])
    assert court_seals_for(by_path).credential("粤0104").subject == YUEXIU
    _, _, other_key = court_chain("另一法院")
    for signers, message in (
        ({"yuexiu": SealSigner(certificate=certificate, key=other_key)}, "does not belong"),
        ({"nowhere": SealSigner(certificate=certificate, key=key)}, "no court's slug"),
        ({"default": SealSigner(certificate="not a certificate", key=key)}, "cannot read"),
    ):
        with pytest.raises(SealCredentialError, match=message):
            court_seals_for(Settings(seal_signers=signers, seal_demo_dir=tmp_path / "demo"))
    with pytest.raises(SealCredentialError, match="no seal certificate"):
        court_seals_for(Settings(mode="production", seal_demo_dir=tmp_path / "demo")).credential("粤0104")


def test_the_demo_chain_is_made_once_per_directory_and_its_courts_chain_to_its_root(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    first, second = DemoChain(directory), DemoChain(directory)
    assert first.root_pem() == second.root_pem(), "one root per data directory"
    assert first.court("yuexiu", YUEXIU) == second.court("yuexiu", YUEXIU)
    assert (directory / "root.pem").stat().st_mode & 0o077 == 0, "keys readable by their owner only"
    seals = court_seals_for(Settings(seal_demo_dir=directory))
    sealed, credential = seals.sign(pdf_of(1), court_code="粤0104", signed_at=AT, reason="电子送达凭证 N1")
    assert credential.certificate.subject.native["organization_name"] == DEMO_ORGANIZATION
    status = pyhanko_status(sealed, first.root_pem().decode())
    assert status.bottom_line and common_name(status) == YUEXIU
    assert seals.verify(sealed).valid
    elsewhere = court_seals_for(Settings(seal_demo_dir=tmp_path / "another-demo"))
    assert elsewhere.verify(sealed).problem == SealProblem.UNKNOWN_KEY, "another install's demo root is not trusted"


def test_files_sealed_the_earlier_way_verify_in_the_demo_and_not_with_the_demo_key_in_production(
    tmp_path: Path,
) -> None:
    old = Sealer(Ed25519PrivateKey.from_private_bytes(DEMO_SEED)).seal(pdf_of(1), trace_id=TRACE, sealed_at=AT)
    demo = court_seals_for(Settings(seal_demo_dir=tmp_path / "demo")).verify(old)
    assert demo.valid and demo.form == SealForm.LEGACY_ED25519 and demo.trace_id == TRACE
    assert court_seals_for(Settings(seal_demo_dir=tmp_path / "demo")).verify(flipped(old, 40)).problem == (
        SealProblem.TAMPERED
    )
    production = court_seals_for(Settings(mode="production", seal_demo_dir=tmp_path / "demo")).verify(old)
    assert not production.valid and production.problem == SealProblem.UNKNOWN_KEY
    key = Ed25519PrivateKey.generate()
    own = Sealer(key).seal(pdf_of(1), trace_id=TRACE, sealed_at=AT)
    rotated = Settings(mode="production", seal_trusted_public_keys=[key.public_key().public_bytes_raw().hex()])
    assert court_seals_for(rotated).verify(own).valid, "the key that sealed them stays trusted where configured"
    assert re.match(r"seal valid: trace [0-9a-f]{32}, sealed", str(court_seals_for(rotated).verify(own)))
