"""admin CSV imports and exports: the import_jobs table

Revision ID: 0013_admin_imports
Revises: 0012_admin_people
Create Date: 2026-11-25 09:00:00

Mirrors app/catalog/import_jobs.ImportJob (the uploaded file is stored in the row, so every
app instance and worker can read it).
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_admin_imports"
down_revision = "0012_admin_people"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("processed_rows", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claim_token", sa.String(length=32), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('validated', 'queued', 'running', 'succeeded', 'failed')",
            name=op.f("ck_import_jobs_status_valid"),
        ),
        sa.CheckConstraint(
            "processed_rows >= 0 AND processed_rows <= total_rows",
            name=op.f("ck_import_jobs_progress_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_import_jobs_created", ["created_at"], unique=False)
        batch_op.create_index(
            "ix_import_jobs_status_lease", ["status", "lease_expires_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_import_jobs_status_lease")
        batch_op.drop_index("ix_import_jobs_created")
    op.drop_table("import_jobs")
