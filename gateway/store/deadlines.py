"""Tables of tracked deadlines and their escalations (models; see migrations 0007 and 0011).

Any workflow with a deadline in working days (a 12368 ticket, a case binding to review) tracks it as
one ``deadlines`` row, keyed by what it is about (``subject_type``, ``subject_id``), with the staff who
must act on it in ``deadline_handlers`` (a table, not a JSON list, so that "what waits on staff X" and
the per-handler report are plain indexed SQL). The row is settled when the subject is answered or
decided.

An overdue, unsettled deadline escalates, level by level. Each escalation is one
``deadline_escalations`` row, unique per (deadline, level): the scheduler inserts it with
``ON CONFLICT DO NOTHING`` in the same transaction as the SMS and the audit record, so whichever
scheduler inserts it sends the texts, and no other ever does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base


class DeadlineRecord(Base):
    """One tracked item's deadline: who must act, by when, and whether it was done."""

    __tablename__ = "deadlines"

    #: uuid4 hex
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: what is tracked: ``ticket``, ``binding``, …, and that subject's own id
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    court_code: Mapped[str] = mapped_column(String(20))
    #: the division answerable for it (立案庭, 民一庭, …): its head is escalated to first
    division: Mapped[str | None] = mapped_column(String(64))
    #: the case it concerns, for the texts (canonical number), when there is one
    case_number: Mapped[str | None] = mapped_column(String(64))
    #: a finer kind within the subject type (a ticket's category), for per-category settings and wording
    category: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime]
    #: the deadline: the end of office hours on the ``working_days``-th working day after ``started_at``
    due_at: Mapped[datetime]
    working_days: Mapped[int] = mapped_column(Integer)
    #: when the subject was answered, decided or closed; NULL while it is pending
    settled_at: Mapped[datetime | None]
    #: how it was settled: ANSWERED, DECIDED or CLOSED_UNANSWERED (``gateway.core.deadlines.Settlement``);
    #: NULL while pending (migration 0012; only ``settle`` writes it)
    settlement: Mapped[str | None] = mapped_column(String(24))
    #: how a person names the subject on the phone (a ticket's 12368 number), for the texts
    reference: Mapped[str | None] = mapped_column(String(64))
    #: the highest escalation level recorded so far (0: none)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    #: when the next level falls due (the deadline itself for level 1); NULL once settled or at the top of
    #: the ladder. The scheduler's scan is a range scan of this column, so waiting ladders cost nothing.
    next_escalation_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("subject_type", "subject_id"),
        CheckConstraint("working_days >= 0", name="working_days_not_negative"),
        CheckConstraint("escalation_level >= 0", name="escalation_level_not_negative"),
        # the scheduler's scan: what is due to escalate, soonest first
        Index("ix_deadlines_next_escalation", "next_escalation_at"),
        # reports: a court's subjects of one type received in a period
        Index("ix_deadlines_court", "court_code", "subject_type", "started_at"),
    )


class DeadlineHandler(Base):
    """A staff member who must act on a tracked item (the case's clerk, its judge, …)."""

    __tablename__ = "deadline_handlers"

    deadline_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("deadlines.id", ondelete="CASCADE"), primary_key=True
    )
    #: the staff id as the court knows it (staff ids are unique within a court only)
    staff_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: the order they were named in: the first is the one shown first
    position: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_deadline_handlers_staff", "staff_id", "deadline_id"),)


class EscalationRecord(Base):
    """One step up the ladder for one overdue deadline: level 1 the division head, 2 the court leaders."""

    __tablename__ = "deadline_escalations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deadline_id: Mapped[str] = mapped_column(String(32), ForeignKey("deadlines.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(Integer)
    escalated_at: Mapped[datetime]
    #: whom it went to: [{"staff_id", "name", "role"}], as the court's roster named them then
    recipients: Mapped[list[dict[str, Any]]] = mapped_column(JSON)

    __table_args__ = (
        # the once-only guarantee: whoever inserts this row sends the texts
        UniqueConstraint("deadline_id", "level"),
        CheckConstraint("level >= 1", name="level_positive"),
    )
