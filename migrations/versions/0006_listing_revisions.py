"""Listing revisions (a published listing stays live while its edit is reviewed).

Revision ID: 0006
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0006"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("achievement", "need"):
        op.add_column(table, sa.Column("revision", JSONB(), nullable=True))


def downgrade() -> None:
    for table in ("achievement", "need"):
        op.drop_column(table, "revision")
