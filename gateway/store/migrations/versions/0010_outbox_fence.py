"""One outbox engine: the attempt number fences a claim, so filings drop their claim token.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08

Written by hand. ``ALTER TABLE … DROP COLUMN`` runs on PostgreSQL and on SQLite (3.35 and later) alike:
the column is in no index or constraint, so SQLite needs no table copy.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_column("filings", "claim_token")


def downgrade() -> None:
    op.add_column("filings", sa.Column("claim_token", sa.String(length=32), nullable=True))
