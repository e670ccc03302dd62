"""Tables of case-file reading (电子阅卷): archive applications with their decisions and reading windows,
their attachments, and the download links issued for materials (models; see migration 0006).

An application is one row from submission to decision: the archive office's decision and the reading
window it opens live on the same row, since each application is decided once. A material link is the
record behind a signed download URL: who it was issued to (and their identity claims, so the download asks the
access rules again), for which material, under which access; its
``trace_id`` is printed on every page of the downloaded file and carried by the file's integrity seal,
so a copy found anywhere leads back to this row and to the audit records of its download.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base


class ArchiveApplicationRecord(Base):
    """One application to read a case file (查阅档案申请), its decision and its reading window."""

    __tablename__ = "archive_applications"

    #: uuid4 hex
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: who applied: the token's subject, name and phone (the decision SMS), and how the courts know them
    applicant_subject: Mapped[str] = mapped_column(String(255))
    applicant_name: Mapped[str] = mapped_column(String(100))
    applicant_phone: Mapped[str | None] = mapped_column(String(32))
    applicant_kind: Mapped[str] = mapped_column(String(16))  # ID_NUMBER (a party) or LICENCE_NUMBER (a lawyer)
    applicant_number: Mapped[str] = mapped_column(String(64))
    #: whether the applicant was a party or an agent of record when they applied
    of_record: Mapped[bool] = mapped_column(Boolean)
    court_code: Mapped[str] = mapped_column(String(20))
    case_number: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str] = mapped_column(String(64))
    #: the case's status at the court when the application was made (ARCHIVED, CLOSED, …)
    case_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    #: PENDING → APPROVED or REJECTED
    status: Mapped[str] = mapped_column(String(16))
    submitted_at: Mapped[datetime]
    #: the archive office's deadline (working days on the court calendar)
    due_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))  # staff id
    decided_by_name: Mapped[str | None] = mapped_column(String(100))
    decision_note: Mapped[str | None] = mapped_column(Text)
    #: an approval's reading window: the applicant reads the 正卷 from opens to closes
    window_opens_at: Mapped[datetime | None]
    window_closes_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("status IN ('PENDING', 'APPROVED', 'REJECTED')", name="status_known"),
        CheckConstraint(
            "status <> 'APPROVED' OR (window_opens_at IS NOT NULL AND window_closes_at IS NOT NULL)",
            name="approved_has_window",
        ),
        # myArchiveApplications: mine, newest first; the reading check: mine for this case
        Index("ix_archive_applications_applicant", "applicant_subject", "submitted_at"),
        Index("ix_archive_applications_case", "applicant_subject", "court_code", "case_number"),
        # archiveApplications and the work queue: a court's by status, soonest due first
        Index("ix_archive_applications_court", "court_code", "status", "due_at"),
    )


class ArchiveAttachment(Base):
    """One file attached to an application (a power of attorney, a licence); its type was checked by content."""

    __tablename__ = "archive_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(String(32), ForeignKey("archive_applications.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (UniqueConstraint("application_id", "position"),)


class MaterialLinkRecord(Base):
    """A download link issued for one material to one reader; every download through it is counted here
    and audited (``material.downloaded``)."""

    __tablename__ = "material_links"

    #: random hex: printed in the watermark and carried by the seal
    trace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255))
    #: what the watermark names: the reader and their (masked) ID or licence number, or staff number
    reader_name: Mapped[str] = mapped_column(String(100))
    reader_number: Mapped[str] = mapped_column(String(80))
    court_code: Mapped[str] = mapped_column(String(20))
    case_number: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str] = mapped_column(String(64))
    material_id: Mapped[str] = mapped_column(String(128))
    material_title: Mapped[str] = mapped_column(String(200))
    #: DIRECT (a party or agent of record), WINDOW (an approved application), STAFF (the court's own)
    access: Mapped[str] = mapped_column(String(16))
    application_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("archive_applications.id", ondelete="RESTRICT")
    )
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    downloads: Mapped[int] = mapped_column(Integer, default=0)
    last_downloaded_at: Mapped[datetime | None]
    #: SHA-256 of the sealed file last delivered through the link
    last_sha256: Mapped[str | None] = mapped_column(String(64))
    #: the reader's identity claims when the link was issued (``Viewer.access_claims``): following the link
    #: asks the access rules again for this reader (migration 0009; NULL on older rows, which are refused)
    identity: Mapped[dict[str, Any] | None]

    __table_args__ = (
        CheckConstraint("access IN ('DIRECT', 'WINDOW', 'STAFF')", name="access_known"),
        CheckConstraint("downloads >= 0", name="downloads_not_negative"),
        Index("ix_material_links_subject", "subject", "issued_at"),
    )
