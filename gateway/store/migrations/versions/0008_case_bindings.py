"""Case bindings (案件绑定申请): applications, their power-of-attorney files, and the court write.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22

Written by hand. Constraint names follow ``gateway.store.base.NAMING_CONVENTION``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


STATUSES = "status IN ('PENDING', 'APPROVED', 'RECORDED', 'REJECTED')"
COURT_WRITES = "court_write IS NULL OR court_write IN ('QUEUED', 'RECORDED', 'UNSUPPORTED', 'REFUSED')"


def upgrade() -> None:
    op.create_table(
        "case_bindings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("applicant_subject", sa.String(length=255), nullable=False),
        sa.Column("applicant_name", sa.String(length=100), nullable=False),
        sa.Column("applicant_phone", sa.String(length=32), nullable=True),
        sa.Column("applicant_kind", sa.String(length=16), nullable=False),
        sa.Column("applicant_number", sa.String(length=64), nullable=False),
        sa.Column("applicant_firm", sa.String(length=200), nullable=True),
        sa.Column("client_name", sa.String(length=100), nullable=True),
        sa.Column("client_id_number", sa.String(length=32), nullable=True),
        sa.Column("court_code", sa.String(length=20), nullable=False),
        sa.Column("case_number", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=128), nullable=False),
        sa.Column("case_filed_on", sa.String(length=10), nullable=True),
        sa.Column("division", sa.String(length=64), nullable=True),
        sa.Column("reviewers", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("open_key", sa.String(length=320), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_by_name", sa.String(length=100), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("court_write", sa.String(length=16), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_bindings")),
        sa.UniqueConstraint("open_key", name=op.f("uq_case_bindings_open_key")),
        sa.CheckConstraint(STATUSES, name=op.f("ck_case_bindings_status_known")),
        sa.CheckConstraint(COURT_WRITES, name=op.f("ck_case_bindings_court_write_known")),
    )
    op.create_index("ix_case_bindings_applicant", "case_bindings", ["applicant_subject", "status", "applied_at"])
    op.create_index("ix_case_bindings_court", "case_bindings", ["court_code", "status", "applied_at"])
    op.create_index("ix_case_bindings_outbox", "case_bindings", ["court_write", "next_attempt_at"])

    op.create_table(
        "case_binding_files",
        sa.Column("binding_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("binding_id", "position", name=op.f("pk_case_binding_files")),
        sa.ForeignKeyConstraint(
            ["binding_id"],
            ["case_bindings.id"],
            name=op.f("fk_case_binding_files_binding_id_case_bindings"),
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("case_binding_files")
    op.drop_index("ix_case_bindings_outbox", table_name="case_bindings")
    op.drop_index("ix_case_bindings_court", table_name="case_bindings")
    op.drop_index("ix_case_bindings_applicant", table_name="case_bindings")
    op.drop_table("case_bindings")
