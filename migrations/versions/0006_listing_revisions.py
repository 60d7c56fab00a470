"""Listing revisions (a published listing stays live while its edit is reviewed); organisations'
folded names (one organisation per name in either script); background import jobs.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("achievement", "need"):
        op.add_column(table, sa.Column("revision", JSONB(), nullable=True))
    op.add_column("organisation", sa.Column("name_key", sa.String(), nullable=True))
    op.create_index("ix_organisation_name_key", "organisation", ["name_key"])
    op.create_table(
        "import_job",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisation.id"), nullable=False, index=True),
        sa.Column("list_kind", sa.String(), nullable=False),
        sa.Column("format", sa.String(), nullable=False),
        sa.Column("submit", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("actor", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("report", JSONB(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    from services.identity.organisations import organisation_name_key

    conn = op.get_bind()
    for org_id, name in conn.execute(sa.text("SELECT id, name FROM organisation")).all():
        conn.execute(sa.text("UPDATE organisation SET name_key = :key WHERE id = :id"),
                     {"key": organisation_name_key(name), "id": org_id})


def downgrade() -> None:
    op.drop_table("import_job")
    op.drop_index("ix_organisation_name_key", table_name="organisation")
    op.drop_column("organisation", "name_key")
    for table in ("achievement", "need"):
        op.drop_column(table, "revision")
