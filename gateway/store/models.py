"""Every table of the gateway's store. Alembic reads ``Base.metadata`` from here: a new model module
must be imported below, or autogenerate will propose dropping its tables.

The audit log (DESIGN §4 "Every view and download leaves an audit record") is a hash chain:
``audit_log`` holds the records in ``seq`` order, each hashing its predecessor; ``audit_head`` is one
row naming the last ``seq`` and its hash, updated in the same transaction as every append, so that
deleting the newest records is as detectable as deleting old ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from gateway.store.base import Base

#: 64-bit on PostgreSQL; on SQLite an INTEGER primary key is the rowid (64-bit anyway)
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class AuditRecord(Base):
    """One thing that happened, who did it and to what; never updated or deleted."""

    __tablename__ = "audit_log"

    #: 1, 2, 3, … without gaps: assigned from the head under its lock, never from a sequence
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime]
    #: the user's subject (``sub`` of their token) or ``system``
    actor: Mapped[str] = mapped_column(String(255))
    #: what happened, ``<domain>.<verb>``: ``filing.submitted``, ``material.downloaded``
    action: Mapped[str] = mapped_column(String(100))
    subject_type: Mapped[str] = mapped_column(String(50))
    subject_id: Mapped[str] = mapped_column(String(255))
    court_code: Mapped[str | None] = mapped_column(String(20))
    #: plain JSON (not JSONB, which rewrites numbers and so would change what was hashed)
    details: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint("seq > 0", name="seq_positive"),
        Index("ix_audit_log_subject", "subject_type", "subject_id"),
        Index("ix_audit_log_actor", "actor"),
    )


class AuditHead(Base):
    """The single row anchoring the chain's end: the newest ``seq`` and its ``hash``."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(SeqType)
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("seq >= 0", name="seq_not_negative"),
    )


class AppendOnlyError(Exception):
    """An audit record was changed or deleted through the ORM."""


@event.listens_for(AuditRecord, "before_update")
@event.listens_for(AuditRecord, "before_delete")
def _refuse_changes(mapper: Mapper[AuditRecord], connection: Any, target: AuditRecord) -> None:
    raise AppendOnlyError(f"audit record {target.seq} cannot be changed or deleted: the log is append-only")


# Every domain's tables, so Alembic's autogenerate and Base.metadata see them all.
from gateway.store import (  # noqa: E402, F401
    archive,
    bindings,
    deadlines,
    feeds,
    filings,
    notifications,
    oauth,
    signatures,
    tickets,
    webhooks,
)
