"""Tables of case bindings (案件绑定申请): applications, their power-of-attorney files, and the court write
(models; see migration 0008).

An application is one person's request to be linked to one case. It is reviewed by the case's panel
(its deadline is the ``deadlines`` row of subject ``binding``, see ``gateway.store.deadlines``). Once
approved, the gateway itself lists the case among the applicant's cases, and where the court's family can
enter a lawyer online, the row is also the outbox entry that delivers the binding to the court
(``court_write``: QUEUED → RECORDED).

``open_key`` is set while the application is PENDING and cleared when it is decided: its unique
constraint is what makes a second open application for the same case by the same person impossible,
even when two arrive at once (NULLs never collide).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base

#: prefix of the idempotency key the court write travels with (then the row's id)
IDEMPOTENCY_PREFIX = "cg-bind-"


class BindingStatus:
    """Where an application stands (plain strings in the table; the check constraint lists them)."""

    PENDING = "PENDING"  # waiting for the panel
    APPROVED = "APPROVED"  # approved; listed in the applicant's cases; the court write may be under way
    RECORDED = "RECORDED"  # approved, and the court's own system now names the applicant on the case
    REJECTED = "REJECTED"


class CourtWrite:
    """The court write of an approved binding (NULL: none applies yet, e.g. still pending, rejected)."""

    QUEUED = "QUEUED"  # the outbox is delivering it
    RECORDED = "RECORDED"  # the court entered the lawyer
    UNSUPPORTED = "UNSUPPORTED"  # the court's family cannot enter a lawyer online (csv-export), or a party bound
    REFUSED = "REFUSED"  # the court looked at it and refused it for good


class BindingRecord(Base):
    """One application to be linked to a case, its decision and the court write."""

    __tablename__ = "case_bindings"

    #: uuid4 hex; the court write's idempotency key derives from it
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: who applied: the token's subject, name, phone, and as whom the courts know them
    applicant_subject: Mapped[str] = mapped_column(String(255))
    applicant_name: Mapped[str] = mapped_column(String(100))
    applicant_phone: Mapped[str | None] = mapped_column(String(32))
    #: LICENCE_NUMBER (a lawyer) or ID_NUMBER (a party)
    applicant_kind: Mapped[str] = mapped_column(String(16))
    applicant_number: Mapped[str] = mapped_column(String(64))
    applicant_firm: Mapped[str | None] = mapped_column(String(200))
    #: the party a lawyer acts for, as the power of attorney names them (matched to the case's parties)
    client_name: Mapped[str | None] = mapped_column(String(100))
    client_id_number: Mapped[str | None] = mapped_column(String(32))
    court_code: Mapped[str] = mapped_column(String(20))
    #: canonical case number, and the court's own id of the case
    case_number: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str] = mapped_column(String(128))
    case_filed_on: Mapped[str | None] = mapped_column(String(10))
    division: Mapped[str | None] = mapped_column(String(64))
    #: the panel members who review it (clerks and judges), as the court named them when it was filed:
    #: [{"staff_id", "name", "role"}]
    reviewers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    #: ``<subject>|<case number>`` while PENDING, NULL once decided (see the module docstring)
    open_key: Mapped[str | None] = mapped_column(String(320), unique=True)
    applied_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_by_name: Mapped[str | None] = mapped_column(String(100))
    decision_note: Mapped[str | None] = mapped_column(Text)
    #: the court write (see :class:`CourtWrite`) and its outbox state
    court_write: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: when the outbox may try next (also a lease while a delivery is under way); NULL: nothing to deliver
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    #: when the court entered the lawyer (its receipt)
    recorded_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("status IN ('PENDING', 'APPROVED', 'RECORDED', 'REJECTED')", name="status_known"),
        CheckConstraint(
            "court_write IS NULL OR court_write IN ('QUEUED', 'RECORDED', 'UNSUPPORTED', 'REFUSED')",
            name="court_write_known",
        ),
        # the applicant's list, and their approved bindings per request (myCases, case access)
        Index("ix_case_bindings_applicant", "applicant_subject", "status", "applied_at"),
        # a court's applications (staff reads)
        Index("ix_case_bindings_court", "court_code", "status", "applied_at"),
        # the outbox's scan
        Index("ix_case_bindings_outbox", "court_write", "next_attempt_at"),
    )

    @property
    def idempotency_key(self) -> str:
        return IDEMPOTENCY_PREFIX + self.id


class BindingFile(Base):
    """One page set of the power of attorney (授权委托书), with its bytes; its type was checked by content."""

    __tablename__ = "case_binding_files"

    binding_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("case_bindings.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
