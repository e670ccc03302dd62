"""How a deadline was settled, and numbers a person can quote for 12368 tickets.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09

Written by hand. Constraint names follow ``gateway.store.base.NAMING_CONVENTION``.

- ``deadlines.settlement`` (ANSWERED, DECIDED, CLOSED_UNANSWERED): the 通报 counted a ticket closed
  without an answer as answered. Existing settled rows are filled in from what they were about: a ticket
  with no answer was closed unanswered, any other ticket answered, other subjects decided.
- ``deadlines.reference``: how the texts name a subject a person quotes on the phone (a ticket's number).
- ``tickets.number`` (unique) and ``ticket_number_counters``: 12368-<court>-<China date>-<n>, n counted
  per court and day. Existing tickets are numbered in the order they came in, and the counters set after
  them, so new numbers continue the day's sequence.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHINA = timezone(timedelta(hours=8))


def upgrade() -> None:
    # plain ADD COLUMN (no table copy: on SQLite, copying ``deadlines`` would cascade-delete its handlers)
    op.add_column("deadlines", sa.Column("settlement", sa.String(length=24), nullable=True))
    op.add_column("deadlines", sa.Column("reference", sa.String(length=64), nullable=True))
    op.create_table(
        "ticket_number_counters",
        sa.Column("court_code", sa.String(length=20), nullable=False),
        sa.Column("day", sa.String(length=8), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("court_code", "day", name=op.f("pk_ticket_number_counters")),
        sa.CheckConstraint("last >= 1", name=op.f("ck_ticket_number_counters_last_positive")),
    )
    op.add_column("tickets", sa.Column("number", sa.String(length=64), nullable=True))
    _fill_settlements()
    _number_existing_tickets()
    with op.batch_alter_table("tickets") as batch:  # SQLite copies the table: nothing refers to tickets
        batch.alter_column("number", existing_type=sa.String(length=64), nullable=False)
    op.create_index("ux_tickets_number", "tickets", ["number"], unique=True)


def _fill_settlements() -> None:
    op.execute(
        "UPDATE deadlines SET settlement = CASE "
        "WHEN subject_type <> 'ticket' THEN 'DECIDED' "
        "WHEN EXISTS (SELECT 1 FROM tickets t WHERE t.id = deadlines.subject_id AND t.answered_at IS NULL) "
        "THEN 'CLOSED_UNANSWERED' "
        "ELSE 'ANSWERED' END "
        "WHERE settled_at IS NOT NULL"
    )


def _number_existing_tickets() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, court_code, created_at FROM tickets ORDER BY created_at, id")).all()
    last: dict[tuple[str, str], int] = defaultdict(int)
    for ticket_id, court_code, created_at in rows:
        when = created_at if isinstance(created_at, datetime) else datetime.fromisoformat(str(created_at))
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when
        day = when.astimezone(CHINA).strftime("%Y%m%d")
        last[court_code, day] += 1
        number = f"12368-{court_code}-{day}-{last[court_code, day]:04d}"
        connection.execute(sa.text("UPDATE tickets SET number = :n WHERE id = :id"), {"n": number, "id": ticket_id})
        connection.execute(
            sa.text("UPDATE deadlines SET reference = :n WHERE subject_type = 'ticket' AND subject_id = :id"),
            {"n": number, "id": ticket_id},
        )
    for (court_code, day), n in last.items():
        connection.execute(
            sa.text("INSERT INTO ticket_number_counters (court_code, day, last) VALUES (:c, :d, :n)"),
            {"c": court_code, "d": day, "n": n},
        )


def downgrade() -> None:
    # plain DROP COLUMN (PostgreSQL, SQLite 3.35+): the columns are in no index or constraint
    op.drop_index("ux_tickets_number", table_name="tickets")
    op.drop_column("tickets", "number")
    op.drop_table("ticket_number_counters")
    op.drop_column("deadlines", "reference")
    op.drop_column("deadlines", "settlement")
