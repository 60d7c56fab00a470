"""A broker claims a lead to work it (and then sees a confidential firm's identity).

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("lead", sa.Column("claimed_by", sa.Uuid(), nullable=True))
    op.add_column("lead", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_foreign_key("lead_claimed_by_fkey", "lead", "user_account", ["claimed_by"], ["id"])
    op.create_index("ix_lead_claimed_by", "lead", ["claimed_by"])


def downgrade() -> None:
    op.drop_index("ix_lead_claimed_by", table_name="lead")
    op.drop_constraint("lead_claimed_by_fkey", "lead", type_="foreignkey")
    op.drop_column("lead", "claimed_at")
    op.drop_column("lead", "claimed_by")
