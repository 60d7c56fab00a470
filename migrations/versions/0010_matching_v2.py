"""Matching v2: the problem side of an achievement (应用场景, 解决的问题).

Revision ID: 0010
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("achievement", sa.Column("application_scenarios", sa.String(), nullable=False, server_default=""))
    op.add_column("achievement", sa.Column("problems_solved", sa.String(), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("achievement", "problems_solved")
    op.drop_column("achievement", "application_scenarios")
