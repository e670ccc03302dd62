"""Tables of the filing outbox: filings, their files and delivery state (models; see migration 0002).

A filing row is written, with its files and an audit record, before ``submitFiling`` answers; the
outbox worker then delivers it and moves it on. The row is its own outbox entry: ``status`` and
``next_attempt_at`` say whether it is due, ``attempts`` which claim holds it (``gateway.core.outbox``).

Files are stored with their bytes: the court may be down for a day, and the upload must still be
there when it comes back.

``filing_events_parked`` keeps a court's "filing handled" event whose receipt no filing holds yet while
one of our deliveries to that court is unrecorded (the court accepted it, the gateway crashed before
recording the receipt): the redelivery, answered with the same receipt, applies it (migration 0013).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base


class FilingRecord(Base):
    """One filing: what was filed, by whom, into which case, and how far its delivery got."""

    __tablename__ = "filings"

    #: uuid4 hex; the idempotency key sent to the court is derived from it, so it survives restarts
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: who filed: the token's subject, and the client's idempotency key (unique per subject)
    filer_subject: Mapped[str] = mapped_column(String(255))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    #: sha256 of what was asked (case, kind, title, files): the same key with other content is refused
    request_digest: Mapped[str] = mapped_column(String(64))
    filer_name: Mapped[str] = mapped_column(String(100))
    #: from the token's ``phone`` claim at submission: where the receipt SMS goes
    filer_phone: Mapped[str | None] = mapped_column(String(32))
    filer_id_number: Mapped[str | None] = mapped_column(String(32))
    filer_licence_number: Mapped[str | None] = mapped_column(String(32))
    #: ID_NUMBER or LICENCE_NUMBER: how the case knows the filer, once the case was checked
    filed_as: Mapped[str | None] = mapped_column(String(20))
    court_code: Mapped[str] = mapped_column(String(20))
    case_number: Mapped[str] = mapped_column(String(64))
    #: the court's own case id, once the case was looked up
    case_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    #: SUBMITTED → DELIVERED → HANDLED, or REJECTED
    status: Mapped[str] = mapped_column(String(16))
    submitted_at: Mapped[datetime]
    #: delivery attempts started (a claim counts, even if its worker died)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    #: the last failure, as a public code and message (the court's own text stays in logs and audit)
    last_error_code: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    #: the court's receipt (回执号) and when the court says it received the filing
    receipt_number: Mapped[str | None] = mapped_column(String(64))
    delivered_at: Mapped[datetime | None]
    handled_at: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("filer_subject", "idempotency_key"),
        UniqueConstraint("court_code", "receipt_number"),
        CheckConstraint("status IN ('SUBMITTED', 'DELIVERED', 'HANDLED', 'REJECTED')", name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        # the worker's "what is due", and myFilings' "mine, newest first"
        Index("ix_filings_due", "status", "next_attempt_at"),
        Index("ix_filings_filer", "filer_subject", "submitted_at"),
    )


class FilingFile(Base):
    """One uploaded file of a filing, with its bytes; its type was checked by content."""

    __tablename__ = "filing_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    filing_id: Mapped[str] = mapped_column(String(32), ForeignKey("filings.id", ondelete="CASCADE"))
    #: the order the files were uploaded in, which is the order the court gets them
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (UniqueConstraint("filing_id", "position"),)


class ParkedHandledEvent(Base):
    """A FILING_HANDLED event waiting for the delivery that will record its receipt."""

    __tablename__ = "filing_events_parked"

    court_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    receipt_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    result: Mapped[str] = mapped_column(Text)
    #: when the court says the filing was handled
    occurred_at: Mapped[datetime]
    #: when the gateway parked it (parked events no delivery claims are dropped after a while)
    parked_at: Mapped[datetime]

    __table_args__ = (Index("ix_filing_events_parked_age", "court_code", "parked_at"),)
