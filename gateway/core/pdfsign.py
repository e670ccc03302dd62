"""The court seal on delivered PDFs: a PDF signature (PAdES baseline B-B, pyHanko) with a visible stamp.

Case-file downloads (after the reader's watermark) and service certificates leave the gateway signed with
the issuing court's certificate, so any PDF reader shows who sealed the file and whether it changed since.

Invariants:

- Sealing appends one incremental update to the bytes given: the signature's byte range covers every one
  of them (the watermarked file), the signature dictionary and the stamp; nothing before is rewritten.
- The signature is PAdES B-B: SubFilter ETSI.CAdES.detached, SHA-256, the signing certificate bound by a
  signing-certificate-v2 attribute, its chain embedded, the claimed signing time in ``/M`` and on the
  stamp (which names the court). A trace id, when given, is in ``/Reason`` ("追踪码：…").
- The same bytes, credential, time and reason give the same sealed bytes (the document ID is derived from
  them, RSA PKCS#1 v1.5 signatures are deterministic), so a certificate rendered again seals alike.
- A file verifies when its last signature covers the whole file, the covered bytes are intact, the
  signature is sound and its certificate chains to a configured trust root (the demo root in the demo).
  Files sealed the earlier way (an Ed25519 line after ``%%EOF``, ``gateway.core.seal``) still verify,
  against the legacy keys, for a transition.
- Signing and verifying are CPU work and run pyHanko's own event loop (``asyncio.run``): async callers
  run them in a worker thread.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from asn1crypto import keys, x509
from pyhanko.keys import load_certs_from_pemder_data, load_private_key_from_pemder_data
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.content import PdfContent
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import BoxConstraints
from pyhanko.pdf_utils.metadata.model import DocumentMetadata
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter
from pyhanko.sign.signers import SimpleSigner
from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner, PdfSigningSession
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko.stamp import StaticStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from gateway.config import SealSigner, Settings
from gateway.core.demo_chain import DemoChain
from gateway.core.pdfstamp import draw_stamp, prepare_font
from gateway.core.seal import SealCheck, SealForm, SealProblem, SealVerifier, legacy_verifier, split_seal

log = logging.getLogger("gateway.pdfsign")

FIELD_NAME = "CourtSeal"
TRACE_LABEL = "追踪码："
_TRACE = re.compile(TRACE_LABEL + r"([0-9a-f]{32})")
#: the stamp's side in points, and its distance from the page's right and bottom edges (above the
#: watermark's footer line)
STAMP_SIZE = 128.0
STAMP_RIGHT = 40.0
STAMP_BOTTOM = 30.0


class SealCredentialError(ValueError):
    """A configured seal certificate or key that cannot be read, or that do not belong together."""


@dataclass(frozen=True, slots=True)
class SealCredential:
    """A signing key, its certificate and the certificates of its chain."""

    certificate: x509.Certificate
    key: keys.PrivateKeyInfo
    chain: tuple[x509.Certificate, ...]

    @classmethod
    def from_pem(cls, certificates: bytes, key: bytes, password: bytes | None = None) -> SealCredential:
        """``certificates``: the signing certificate first, then its chain; ``key``: its private key."""
        try:
            certs = list(load_certs_from_pemder_data(certificates))
            private = load_private_key_from_pemder_data(key, passphrase=password)
        except Exception as e:  # asn1crypto, cryptography and PEM parsing each raise their own
            raise SealCredentialError(f"the seal certificate or key cannot be read: {type(e).__name__}") from None
        if not certs:
            raise SealCredentialError("no certificate in the seal certificate PEM")
        if _public_key_der(key, password) != certs[0].public_key.dump():
            raise SealCredentialError("the seal key does not belong to the seal certificate")
        return cls(certs[0], private, tuple(certs[1:]))

    @property
    def subject(self) -> str:
        return subject_name(self.certificate)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the signing certificate, hex: names the signer in the audit and in verifications."""
        return self.certificate.sha256.hex()


def _public_key_der(key: bytes, password: bytes | None) -> bytes:
    from cryptography.hazmat.primitives import serialization

    private = serialization.load_pem_private_key(key, password=password)
    return private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def subject_name(certificate: x509.Certificate) -> str:
    """The certificate's common name (a court's name), else its whole subject."""
    native = certificate.subject.native
    return str(native.get("common_name") or certificate.subject.human_friendly)


def pem_value(value: str) -> bytes:
    """A setting that is PEM text or the path of a PEM file, as bytes."""
    text = value.strip()
    if text.startswith("-----BEGIN"):
        return text.encode()
    try:
        return Path(text).expanduser().read_bytes()
    except OSError as e:
        raise SealCredentialError(f"cannot read {text}: {e.strerror}") from None


def credential_of(signer: SealSigner) -> SealCredential:
    password = signer.key_password.encode() if signer.key_password else None
    return SealCredential.from_pem(pem_value(signer.certificate), pem_value(signer.key), password)


def trust_roots_of(values: Sequence[str]) -> list[x509.Certificate]:
    """The certificates of ``seal_trust_roots`` (each PEM text or a file path, one or more certificates)."""
    roots = []
    for value in values:
        try:
            roots += list(load_certs_from_pemder_data(pem_value(value)))
        except SealCredentialError:
            raise
        except Exception as e:  # asn1crypto and PEM parsing each raise their own
            raise SealCredentialError(f"a trust root cannot be read: {type(e).__name__}") from None
    return roots


def trace_reason(purpose: str, trace_id: str) -> str:
    """A signature's ``/Reason`` carrying the trace id printed on every page: "电子阅卷 追踪码：…"."""
    return f"{purpose} {TRACE_LABEL}{trace_id}"


# -- signing -----------------------------------------------------------------------------------------------


class _PdfPage(PdfContent):
    """A one-page PDF (the stamp) as a form XObject of the appearance; a fixed resource name, so the same
    stamp gives the same bytes (pyHanko's ImportedPdfPage names it at random and reads a file)."""

    def __init__(self, pdf: bytes) -> None:
        super().__init__()
        self.pdf = pdf

    def render(self) -> bytes:
        writer = self._ensure_writer
        xobject = writer.import_page_as_xobject(PdfFileReader(io.BytesIO(self.pdf)), page_ix=0)
        self.resources.xobject["/CourtSealStamp"] = xobject
        x1, y1, x2, y2 = xobject.get_object()["/BBox"]
        self.box = BoxConstraints(width=abs(x1 - x2), height=abs(y1 - y2))
        return b"/CourtSealStamp Do"


class _DatedMetadata(DocumentMetadata):
    """Document metadata whose modification time stays the seal's (pyHanko sets it to "now" on writing)."""

    def __init__(self, at: datetime) -> None:
        super().__init__()
        self.__dict__["_at"] = at
        self.last_modified = at

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "last_modified" and "_at" in self.__dict__:
            value = self.__dict__["_at"]
        super().__setattr__(name, value)


class _TimedPdfSigner(PdfSigner):
    """pyHanko's signer with the signing time given (the gateway's clock) rather than read from the system."""

    def __init__(self, *args: Any, signed_at: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.signed_at = signed_at

    def init_signing_session(self, pdf_out: Any, existing_fields_only: bool = False) -> PdfSigningSession:
        session = super().init_signing_session(pdf_out, existing_fields_only)
        session.system_time = self.signed_at
        return session


def _stamp_box(pdf: bytes) -> tuple[int, int, int, int]:
    """Where the stamp goes: the last page's lower right corner, above the watermark's footer line."""
    from pypdf import PdfReader

    box = PdfReader(io.BytesIO(pdf)).pages[-1].mediabox
    width, height = float(box.width), float(box.height)
    size = min(STAMP_SIZE, 0.4 * width, 0.4 * height)
    right = float(box.right) - min(STAMP_RIGHT, 0.1 * width)
    bottom = float(box.bottom) + min(STAMP_BOTTOM, 0.1 * height)
    return (round(right - size), round(bottom), round(right), round(bottom + size))


def sign_pdf(pdf: bytes, credential: SealCredential, *, court_name: str, signed_at: datetime, reason: str) -> bytes:
    """``pdf`` sealed by ``credential`` at ``signed_at``, the stamp naming ``court_name`` on the last page."""
    if signed_at.tzinfo is None:
        raise ValueError("signed_at needs a time zone")
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    # pyHanko makes each revision's document ID at random and dates /ModDate by the system clock: derived
    # and dated by the seal instead, so sealing is repeatable (pinned pyHanko; the tests catch a change)
    first_id = writer.document_id[0]
    derived = hashlib.sha256(pdf + signed_at.isoformat().encode() + reason.encode()).digest()[:16]
    writer._document_id = generic.ArrayObject([generic.ByteStringObject(first_id), generic.ByteStringObject(derived)])
    writer._meta = _DatedMetadata(signed_at)
    signer = SimpleSigner(
        signing_cert=credential.certificate,
        signing_key=credential.key,
        cert_registry=SimpleCertificateStore.from_certs(list(credential.chain)),
    )
    meta = PdfSignatureMetadata(
        field_name=FIELD_NAME,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        name=court_name,
        reason=reason,
        location="中国广州",
    )
    stamp = StaticStampStyle(background=_PdfPage(draw_stamp(court_name, signed_at)), border_width=0)
    field = SigFieldSpec(FIELD_NAME, on_page=-1, box=_stamp_box(pdf))
    pdf_signer = _TimedPdfSigner(meta, signer, stamp_style=stamp, new_field_spec=field, signed_at=signed_at)
    out: io.BytesIO = pdf_signer.sign_pdf(writer)
    return out.getvalue()


# -- verifying ---------------------------------------------------------------------------------------------


def verify_pdf(data: bytes, trust_roots: list[x509.Certificate]) -> SealCheck:
    """What the file's court seal (its last PDF signature) says, checked against ``trust_roots``."""
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = reader.embedded_signatures
    except Exception:  # a hostile or damaged file: pyHanko's parser raises many kinds
        if data.startswith(b"%PDF-"):
            return SealCheck(
                False, SealProblem.MALFORMED, "the PDF or its signature cannot be read (damaged or changed)"
            )
        return SealCheck(False, SealProblem.UNSEALED, "the file is not a PDF")
    if not signatures:
        return SealCheck(False, SealProblem.UNSEALED, "the file carries no court seal")
    embedded = signatures[-1]
    try:
        context = ValidationContext(trust_roots=trust_roots, allow_fetching=False)
        status = validate_pdf_signature(embedded, context)
        reported = embedded.self_reported_timestamp
        reason_text = str(embedded.sig_object.get("/Reason", ""))
    except Exception as e:
        log.info("an unreadable PDF signature: %s", type(e).__name__)
        return SealCheck(
            False, SealProblem.MALFORMED, "the file's signature cannot be read", form=SealForm.PDF_SIGNATURE
        )
    trace = _TRACE.search(reason_text)
    signer = subject_name(status.signing_cert)

    def check(valid: bool, problem: SealProblem | None, reason: str) -> SealCheck:
        return SealCheck(
            valid,
            problem,
            reason,
            trace_id=trace.group(1) if trace else None,
            sealed_at=status.signer_reported_dt or reported,
            key_id=status.signing_cert.sha256.hex(),
            sha256=embedded.compute_digest("sha256").hex() if status.intact else None,
            form=SealForm.PDF_SIGNATURE,
            signer=signer,
            intact=status.intact,
        )

    if not status.intact:
        return check(False, SealProblem.TAMPERED, "the file was changed after it was sealed")
    if not status.valid:
        return check(False, SealProblem.BAD_SIGNATURE, "the seal's signature does not verify")
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return check(False, SealProblem.TAMPERED, "bytes were added to the file after it was sealed")
    if not status.trusted:
        return check(False, SealProblem.UNKNOWN_KEY, f"signed by {signer}, whose certificate is not one we trust")
    return check(True, None, "the file is exactly as the court sealed it")


# -- the configured seals ----------------------------------------------------------------------------------


class CourtSeals:
    """Seals for every court (its own credential, the default one, or in the demo the demo chain's) and
    verification against the trust roots; files of the earlier form go to ``legacy``."""

    def __init__(
        self,
        credentials: Mapping[str, SealCredential],
        trust_roots: list[x509.Certificate],
        legacy: SealVerifier,
        *,
        courts: Mapping[str, tuple[str, str]],
        demo: DemoChain | None = None,
    ) -> None:
        """``credentials`` by court code, "default" for the others; ``courts``: code → (slug, name)."""
        self.credentials = dict(credentials)
        self.legacy = legacy
        self.courts = dict(courts)
        self.demo = demo
        self._demo_credentials: dict[str, SealCredential] = {}
        self.trust_roots = list(trust_roots)
        if demo is not None:
            self.trust_roots.append(next(iter(load_certs_from_pemder_data(demo.root_pem()))))
        prepare_font()

    def court_name(self, court_code: str) -> str:
        return self.courts[court_code][1] if court_code in self.courts else court_code

    def credential(self, court_code: str) -> SealCredential:
        """The court's own credential, else the default, else (in the demo) the demo chain's for it."""
        found = self.credentials.get(court_code) or self.credentials.get("default")
        if found is not None:
            return found
        if self.demo is None:
            raise SealCredentialError(f"no seal certificate for {court_code}")
        demo = self._demo_credentials.get(court_code)
        if demo is None:
            slug, name = self.courts.get(court_code, (hashlib.sha256(court_code.encode()).hexdigest()[:12], court_code))
            issued = self.demo.court(slug, name)
            demo = self._demo_credentials[court_code] = SealCredential.from_pem(issued.chain_pem, issued.key_pem)
        return demo

    def sign(self, pdf: bytes, *, court_code: str, signed_at: datetime, reason: str) -> tuple[bytes, SealCredential]:
        """``pdf`` sealed by the court (CPU work: run it in a thread), and the credential that sealed it."""
        credential = self.credential(court_code)
        sealed = sign_pdf(pdf, credential, court_name=self.court_name(court_code), signed_at=signed_at, reason=reason)
        return sealed, credential

    def verify(self, data: bytes) -> SealCheck:
        """The file's seal checked: the earlier form against the legacy keys, else its PDF signature."""
        if split_seal(data) is not None:
            return self.legacy.verify(data)
        return verify_pdf(data, self.trust_roots)


def demo_dir(settings: Settings) -> Path:
    """Where the demo chain lives: as configured, else beside a SQLite database file, else .data."""
    from sqlalchemy.engine import make_url

    from gateway.store.sqlite import sqlite_file

    if settings.seal_demo_dir is not None:
        return settings.seal_demo_dir
    database = sqlite_file(make_url(settings.database_url)) if settings.database_url.startswith("sqlite") else None
    return database.with_name("seal-demo") if database is not None else Path(".data") / "seal-demo"


def court_seals_for(settings: Settings) -> CourtSeals:
    """The configured seals, built once per configuration (the demo-chain warning is logged once)."""
    signers = tuple(sorted(settings.seal_signers.items()))
    courts = tuple((c.code, c.slug, c.name) for c in settings.courts if c.is_court)
    return _court_seals(
        settings.mode,
        signers,
        tuple(settings.seal_trust_roots),
        demo_dir(settings),
        courts,
        settings.seal_private_key,
        tuple(settings.seal_trusted_public_keys),
    )


@functools.cache
def _court_seals(
    mode: str,
    signers: tuple[tuple[str, SealSigner], ...],
    trust_roots: tuple[str, ...],
    directory: Path,
    courts: tuple[tuple[str, str, str], ...],
    legacy_key: str,
    legacy_trusted: tuple[str, ...],
) -> CourtSeals:
    by_slug = {slug: code for code, slug, _ in courts}
    credentials = {}
    for key, signer in signers:
        if key != "default" and key not in by_slug:
            raise SealCredentialError(f"GATEWAY_SEAL_SIGNERS names {key}, which is no court's slug")
        credentials[by_slug.get(key, key)] = credential_of(signer)
    roots = trust_roots_of(trust_roots)
    demo = None
    if mode != "production":
        demo = DemoChain(directory)
        if len(credentials) < len(courts) and "default" not in credentials:
            log.warning(
                "the demo seal chain (%s) signs case files and certificates: its keys are on disk and its root is "
                "trusted by nobody else; set GATEWAY_SEAL_SIGNERS outside the demo",
                directory,
            )
    legacy = legacy_verifier(legacy_key, legacy_trusted, production=mode == "production")
    return CourtSeals(credentials, roots, legacy, courts={code: (slug, name) for code, slug, name in courts}, demo=demo)
