"""Failed logins per (account, client address), for the growing delay of services/login_guard.py.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failure",
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account", "address"),
    )
    op.create_index("ix_login_failure_last_failed_at", "login_failure", ["last_failed_at"])


def downgrade() -> None:
    op.drop_index("ix_login_failure_last_failed_at", table_name="login_failure")
    op.drop_table("login_failure")
