"""Filing-handled events that arrive before the delivery they belong to is recorded.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-09

Written by hand. Constraint names follow ``gateway.store.base.NAMING_CONVENTION``.

A court that accepted a filing whose answer the gateway never recorded (a crash in between) can report it
handled before the redelivery records its receipt; the event waits here for it (``gateway.filings``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "filing_events_parked",
        sa.Column("court_code", sa.String(length=20), nullable=False),
        sa.Column("receipt_number", sa.String(length=64), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("court_code", "receipt_number", name=op.f("pk_filing_events_parked")),
    )
    op.create_index("ix_filing_events_parked_age", "filing_events_parked", ["court_code", "parked_at"])


def downgrade() -> None:
    op.drop_index("ix_filing_events_parked_age", table_name="filing_events_parked")
    op.drop_table("filing_events_parked")
