"""Feed leases: one follower per court feed across replicas, and the epoch that fences cursor writes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23

Written by hand. Constraint names follow ``gateway.store.base.NAMING_CONVENTION``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_leases",
        sa.Column("court_code", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("court_code", name=op.f("pk_feed_leases")),
    )
    # cursors saved before leases existed were written by "epoch 0": any lease holder may move them
    op.add_column("feed_cursors", sa.Column("epoch", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("feed_cursors") as batch:
        batch.drop_column("epoch")
    op.drop_table("feed_leases")
