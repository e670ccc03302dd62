"""Tables of 12368 tickets and their numbers (models; see migrations 0007 and 0012).

A ticket is what a party or lawyer asked a court, whom it was routed to, and the answer and rating.
Its deadline and escalations are not here: they are the ``deadlines`` row of subject ``ticket`` (the
one engine every workflow with a deadline shares, ``gateway.store.deadlines``).

Every ticket has a number a person can quote on the phone, ``12368-<court>-<China date>-<n>``, n counted
per court and day from 1. ``ticket_number_counters`` holds the last n handed out: one upsert
(``INSERT … ON CONFLICT DO UPDATE SET last = last + 1 RETURNING last``) in the ticket's own transaction
allocates the next, so two tickets never share a number (the row lock serialises PostgreSQL writers,
SQLite has one writer at a time) and a rolled-back ticket gives its number back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base


class TicketRecord(Base):
    """One 12368 ticket (咨询, 催办, 联系法官, 投诉, 意见建议)."""

    __tablename__ = "tickets"

    #: uuid4 hex
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: the number a person quotes on the phone: 12368-粤0104-20261207-0001 (unique)
    number: Mapped[str] = mapped_column(String(64))
    #: who asked: the token's subject, their name, and where the answer goes (SMS, in-app)
    requester_subject: Mapped[str] = mapped_column(String(255))
    requester_name: Mapped[str] = mapped_column(String(100))
    requester_phone: Mapped[str | None] = mapped_column(String(32))
    requester_key: Mapped[str | None] = mapped_column(String(128))
    court_code: Mapped[str] = mapped_column(String(20))
    #: CONSULTATION, URGE, CONTACT_JUDGE, COMPLAINT, SUGGESTION
    category: Mapped[str] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(Text)
    #: the case it is about (canonical number), when one was given
    case_number: Mapped[str | None] = mapped_column(String(64))
    #: where it was routed: the case's division, or 立案庭
    division: Mapped[str | None] = mapped_column(String(64))
    #: whom it was routed to, as the court named them then: [{"staff_id", "name", "role"}]
    handlers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: OPEN → ANSWERED → CLOSED (or OPEN → CLOSED)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(64))  # staff id
    answered_by_name: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(64))  # staff id
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("status IN ('OPEN', 'ANSWERED', 'CLOSED')", name="status_known"),
        CheckConstraint(
            "category IN ('CONSULTATION', 'URGE', 'CONTACT_JUDGE', 'COMPLAINT', 'SUGGESTION')",
            name="category_known",
        ),
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating_range"),
        # myTickets: mine, newest first; courtTickets: a court's, by status, newest first
        Index("ix_tickets_requester", "requester_subject", "created_at"),
        Index("ix_tickets_court", "court_code", "status", "created_at"),
        Index("ux_tickets_number", "number", unique=True),
    )


class TicketNumberCounter(Base):
    """The last ticket number handed out at a court on a day (China time)."""

    __tablename__ = "ticket_number_counters"

    court_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    #: YYYYMMDD, China time
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("last >= 1", name="last_positive"),)
