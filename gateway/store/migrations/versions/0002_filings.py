"""The filing outbox: filings, their files and delivery state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Written by hand. Constraint names follow ``gateway.store.base.NAMING_CONVENTION``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "status IN ('SUBMITTED', 'DELIVERED', 'HANDLED', 'REJECTED')"


def upgrade() -> None:
    op.create_table(
        "filings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("filer_subject", sa.String(length=255), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.Column("filer_name", sa.String(length=100), nullable=False),
        sa.Column("filer_phone", sa.String(length=32), nullable=True),
        sa.Column("filer_id_number", sa.String(length=32), nullable=True),
        sa.Column("filer_licence_number", sa.String(length=32), nullable=True),
        sa.Column("filed_as", sa.String(length=20), nullable=True),
        sa.Column("court_code", sa.String(length=20), nullable=False),
        sa.Column("case_number", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("last_error_code", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("receipt_number", sa.String(length=64), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_filings")),
        sa.UniqueConstraint("filer_subject", "idempotency_key", name=op.f("uq_filings_filer_subject_idempotency_key")),
        sa.UniqueConstraint("court_code", "receipt_number", name=op.f("uq_filings_court_code_receipt_number")),
        sa.CheckConstraint(STATUSES, name=op.f("ck_filings_status_known")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_filings_attempts_not_negative")),
    )
    op.create_index("ix_filings_due", "filings", ["status", "next_attempt_at"])
    op.create_index("ix_filings_filer", "filings", ["filer_subject", "submitted_at"])

    op.create_table(
        "filing_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("filing_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_filing_files")),
        sa.ForeignKeyConstraint(
            ["filing_id"], ["filings.id"], name=op.f("fk_filing_files_filing_id_filings"), ondelete="CASCADE"
        ),
        sa.UniqueConstraint("filing_id", "position", name=op.f("uq_filing_files_filing_id_position")),
    )


def downgrade() -> None:
    op.drop_table("filing_files")
    op.drop_index("ix_filings_filer", table_name="filings")
    op.drop_index("ix_filings_due", table_name="filings")
    op.drop_table("filings")
