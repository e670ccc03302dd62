"""Electronic service: signatures of served documents with their delivery state, and issued certificates.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

Written by hand. Constraint names follow ``gateway.store.base.NAMING_CONVENTION``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signatures",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("group_key", sa.String(length=200), nullable=False),
        sa.Column("source_code", sa.String(length=32), nullable=False),
        sa.Column("document_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("court_code", sa.String(length=32), nullable=False),
        sa.Column("case_number", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("doc_type", sa.String(length=64), nullable=False),
        sa.Column("signer_subject", sa.String(length=255), nullable=False),
        sa.Column("signer_name", sa.String(length=100), nullable=False),
        sa.Column("signer_kind", sa.String(length=16), nullable=False),
        sa.Column("signer_number", sa.String(length=64), nullable=False),
        sa.Column("signer_phone", sa.String(length=32), nullable=True),
        sa.Column("identity_level", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("court_signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signatures")),
        sa.UniqueConstraint("group_key", name=op.f("uq_signatures_group_key")),
    )
    # the outbox's query: what is PENDING and due
    op.create_index("ix_signatures_status_next_attempt_at", "signatures", ["status", "next_attempt_at"])
    op.create_index(op.f("ix_signatures_signer_subject"), "signatures", ["signer_subject"])

    op.create_table(
        "service_certificates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("group_key", sa.String(length=200), nullable=False),
        sa.Column("court_code", sa.String(length=32), nullable=False),
        sa.Column("case_number", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_to", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_certificates")),
        sa.UniqueConstraint("number", name=op.f("uq_service_certificates_number")),
        sa.UniqueConstraint("group_key", "digest", name=op.f("uq_service_certificates_group_key_digest")),
    )


def downgrade() -> None:
    op.drop_table("service_certificates")
    op.drop_index(op.f("ix_signatures_signer_subject"), table_name="signatures")
    op.drop_index("ix_signatures_status_next_attempt_at", table_name="signatures")
    op.drop_table("signatures")
