"""Tickets and deadlines: tracked deadlines, their handlers and escalations; 12368 tickets.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22

Written by hand. Constraint names follow ``gateway.store.base.NAMING_CONVENTION``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TICKET_STATUSES = "status IN ('OPEN', 'ANSWERED', 'CLOSED')"
TICKET_CATEGORIES = "category IN ('CONSULTATION', 'URGE', 'CONTACT_JUDGE', 'COMPLAINT', 'SUGGESTION')"


def upgrade() -> None:
    op.create_table(
        "deadlines",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("court_code", sa.String(length=20), nullable=False),
        sa.Column("division", sa.String(length=64), nullable=True),
        sa.Column("case_number", sa.String(length=64), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("working_days", sa.Integer(), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("next_escalation_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadlines")),
        sa.UniqueConstraint("subject_type", "subject_id", name=op.f("uq_deadlines_subject_type_subject_id")),
        sa.CheckConstraint("working_days >= 0", name=op.f("ck_deadlines_working_days_not_negative")),
        sa.CheckConstraint("escalation_level >= 0", name=op.f("ck_deadlines_escalation_level_not_negative")),
    )
    op.create_index("ix_deadlines_next_escalation", "deadlines", ["next_escalation_at"])
    op.create_index("ix_deadlines_court", "deadlines", ["court_code", "subject_type", "started_at"])

    op.create_table(
        "deadline_handlers",
        sa.Column("deadline_id", sa.String(length=32), nullable=False),
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("deadline_id", "staff_id", name=op.f("pk_deadline_handlers")),
        sa.ForeignKeyConstraint(
            ["deadline_id"],
            ["deadlines.id"],
            name=op.f("fk_deadline_handlers_deadline_id_deadlines"),
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_deadline_handlers_staff", "deadline_handlers", ["staff_id", "deadline_id"])

    op.create_table(
        "deadline_escalations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("deadline_id", sa.String(length=32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_escalations")),
        sa.ForeignKeyConstraint(
            ["deadline_id"],
            ["deadlines.id"],
            name=op.f("fk_deadline_escalations_deadline_id_deadlines"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("deadline_id", "level", name=op.f("uq_deadline_escalations_deadline_id_level")),
        sa.CheckConstraint("level >= 1", name=op.f("ck_deadline_escalations_level_positive")),
    )

    op.create_table(
        "tickets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("requester_subject", sa.String(length=255), nullable=False),
        sa.Column("requester_name", sa.String(length=100), nullable=False),
        sa.Column("requester_phone", sa.String(length=32), nullable=True),
        sa.Column("requester_key", sa.String(length=128), nullable=True),
        sa.Column("court_code", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("case_number", sa.String(length=64), nullable=True),
        sa.Column("division", sa.String(length=64), nullable=True),
        sa.Column("handlers", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        sa.Column("answered_by_name", sa.String(length=100), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rating_comment", sa.Text(), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.CheckConstraint(TICKET_STATUSES, name=op.f("ck_tickets_status_known")),
        sa.CheckConstraint(TICKET_CATEGORIES, name=op.f("ck_tickets_category_known")),
        sa.CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name=op.f("ck_tickets_rating_range")),
    )
    op.create_index("ix_tickets_requester", "tickets", ["requester_subject", "created_at"])
    op.create_index("ix_tickets_court", "tickets", ["court_code", "status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_court", table_name="tickets")
    op.drop_index("ix_tickets_requester", table_name="tickets")
    op.drop_table("tickets")
    op.drop_table("deadline_escalations")
    op.drop_index("ix_deadline_handlers_staff", table_name="deadline_handlers")
    op.drop_table("deadline_handlers")
    op.drop_index("ix_deadlines_court", table_name="deadlines")
    op.drop_index("ix_deadlines_next_escalation", table_name="deadlines")
    op.drop_table("deadlines")
