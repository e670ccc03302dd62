"""Download links that ask the access rules again: the reader's identity on material links, and a row per
certificate link (the link itself carries only a random id and the subject).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08

Written by hand. Constraint names follow ``gateway.store.base.NAMING_CONVENTION``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("material_links") as batch:
        batch.add_column(sa.Column("identity", sa.JSON(), nullable=True))
    op.create_table(
        "certificate_links",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("certificate_number", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("identity", sa.JSON(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_links")),
        sa.ForeignKeyConstraint(
            ["certificate_number"],
            ["service_certificates.number"],
            name=op.f("fk_certificate_links_certificate_number_service_certificates"),
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_certificate_links_subject", "certificate_links", ["subject", "issued_at"])


def downgrade() -> None:
    op.drop_index("ix_certificate_links_subject", table_name="certificate_links")
    op.drop_table("certificate_links")
    with op.batch_alter_table("material_links") as batch:
        batch.drop_column("identity")
