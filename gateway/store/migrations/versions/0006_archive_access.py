"""Case-file reading (电子阅卷): archive applications with their decisions and windows, their attachments,
and the material download links.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22

Written by hand. Constraint names follow ``gateway.store.base.NAMING_CONVENTION``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "archive_applications",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("applicant_subject", sa.String(length=255), nullable=False),
        sa.Column("applicant_name", sa.String(length=100), nullable=False),
        sa.Column("applicant_phone", sa.String(length=32), nullable=True),
        sa.Column("applicant_kind", sa.String(length=16), nullable=False),
        sa.Column("applicant_number", sa.String(length=64), nullable=False),
        sa.Column("of_record", sa.Boolean(), nullable=False),
        sa.Column("court_code", sa.String(length=20), nullable=False),
        sa.Column("case_number", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("case_status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_by_name", sa.String(length=100), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("window_opens_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_applications")),
        sa.CheckConstraint(
            "status IN ('PENDING', 'APPROVED', 'REJECTED')", name=op.f("ck_archive_applications_status_known")
        ),
        sa.CheckConstraint(
            "status <> 'APPROVED' OR (window_opens_at IS NOT NULL AND window_closes_at IS NOT NULL)",
            name=op.f("ck_archive_applications_approved_has_window"),
        ),
    )
    op.create_index("ix_archive_applications_applicant", "archive_applications", ["applicant_subject", "submitted_at"])
    op.create_index(
        "ix_archive_applications_case", "archive_applications", ["applicant_subject", "court_code", "case_number"]
    )
    op.create_index("ix_archive_applications_court", "archive_applications", ["court_code", "status", "due_at"])

    op.create_table(
        "archive_attachments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("application_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_attachments")),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["archive_applications.id"],
            name=op.f("fk_archive_attachments_application_id_archive_applications"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("application_id", "position", name=op.f("uq_archive_attachments_application_id_position")),
    )

    op.create_table(
        "material_links",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("reader_name", sa.String(length=100), nullable=False),
        sa.Column("reader_number", sa.String(length=80), nullable=False),
        sa.Column("court_code", sa.String(length=20), nullable=False),
        sa.Column("case_number", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("material_id", sa.String(length=128), nullable=False),
        sa.Column("material_title", sa.String(length=200), nullable=False),
        sa.Column("access", sa.String(length=16), nullable=False),
        sa.Column("application_id", sa.String(length=32), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("downloads", sa.Integer(), nullable=False),
        sa.Column("last_downloaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sha256", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("trace_id", name=op.f("pk_material_links")),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["archive_applications.id"],
            name=op.f("fk_material_links_application_id_archive_applications"),
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint("access IN ('DIRECT', 'WINDOW', 'STAFF')", name=op.f("ck_material_links_access_known")),
        sa.CheckConstraint("downloads >= 0", name=op.f("ck_material_links_downloads_not_negative")),
    )
    op.create_index("ix_material_links_subject", "material_links", ["subject", "issued_at"])


def downgrade() -> None:
    op.drop_index("ix_material_links_subject", table_name="material_links")
    op.drop_table("material_links")
    op.drop_table("archive_attachments")
    op.drop_index("ix_archive_applications_court", table_name="archive_applications")
    op.drop_index("ix_archive_applications_case", table_name="archive_applications")
    op.drop_index("ix_archive_applications_applicant", table_name="archive_applications")
    op.drop_table("archive_applications")
