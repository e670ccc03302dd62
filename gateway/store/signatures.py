"""Tables of electronic service (电子送达): signatures and their delivery state, issued service
certificates and the download links issued for them (models; see migrations 0003 and 0009).

A signature is stored (with its audit record) before ``signDocument`` answers, then delivered to the
serving court or platform by the signature outbox; its row is the outbox entry. ``group_key`` names the
document as the person received it, whatever channels answered at the time, so a document is signed
once even when it is later seen through another channel's copy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UTCDateTime

#: prefix of the idempotency key a signature travels to the court with (then the row's id)
IDEMPOTENCY_PREFIX = "cg-sig-"


class SignatureStatus:
    """Delivery states (plain strings in the table, so adding one needs no migration)."""

    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    REJECTED = "REJECTED"


class SignatureRecord(Base):
    """One person's signature of one served document, and where its delivery to the court stands."""

    __tablename__ = "signatures"
    __table_args__ = (
        UniqueConstraint("group_key"),
        Index("ix_signatures_status_next_attempt_at", "status", "next_attempt_at"),
    )

    #: a uuid4: the idempotency key derives from it, so it never repeats across databases
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: ``<addressee number>|<document fingerprint>``: one signature per document and person
    group_key: Mapped[str] = mapped_column(String(200))
    #: the copy signed (the group's primary): where the signature is delivered
    source_code: Mapped[str] = mapped_column(String(32))
    document_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(32))
    court_code: Mapped[str] = mapped_column(String(32))
    case_number: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    doc_type: Mapped[str] = mapped_column(String(64))
    #: who signed: the token's subject, and the person as the courts know them (the document's addressee)
    signer_subject: Mapped[str] = mapped_column(String(255), index=True)
    signer_name: Mapped[str] = mapped_column(String(100))
    signer_kind: Mapped[str] = mapped_column(String(16))  # ID_NUMBER, LICENCE_NUMBER
    signer_number: Mapped[str] = mapped_column(String(64))
    signer_phone: Mapped[str | None] = mapped_column(String(32))
    identity_level: Mapped[str] = mapped_column(String(16))  # PHONE, REAL_NAME, FACE
    method: Mapped[str] = mapped_column(String(32))  # ONLINE_CONFIRMATION, E_SEAL
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=SignatureStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: when the outbox may try next (also a lease: set ahead while a delivery is under way)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the signed time the court recorded (the first signature there wins)
    court_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def idempotency_key(self) -> str:
        return IDEMPOTENCY_PREFIX + self.id


class CertificateRecord(Base):
    """One 电子送达凭证 as issued: its number and the facts it certifies, rendered to PDF on download.

    The same facts for the same document give the same certificate; changed facts (a signature
    delivered, another channel seen) issue a new number.
    """

    __tablename__ = "service_certificates"
    __table_args__ = (UniqueConstraint("group_key", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    group_key: Mapped[str] = mapped_column(String(200))
    court_code: Mapped[str] = mapped_column(String(32))
    case_number: Mapped[str] = mapped_column(String(64))
    #: sha256 of the canonical JSON of ``facts``
    digest: Mapped[str] = mapped_column(String(64))
    facts: Mapped[dict[str, Any]] = mapped_column(JSON())
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: the subject who first asked for it
    issued_to: Mapped[str] = mapped_column(String(255))


class CertificateLinkRecord(Base):
    """A download link issued for one certificate to one subject. The link itself carries only this row's
    random id and the subject; the row keeps who asked (their identity claims, ``Viewer.access_claims``),
    so a download asks again whether they may have the certificate, and is audited as theirs."""

    __tablename__ = "certificate_links"
    __table_args__ = (Index("ix_certificate_links_subject", "subject", "issued_at"),)

    #: random hex, the link's only reference
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    certificate_number: Mapped[str] = mapped_column(
        String(64), ForeignKey("service_certificates.number", ondelete="CASCADE")
    )
    subject: Mapped[str] = mapped_column(String(255))
    identity: Mapped[dict[str, Any]] = mapped_column(JSON())
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
