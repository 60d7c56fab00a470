"""Matching v2: the problem side of an achievement (应用场景, 解决的问题), lead outcomes, learned term
associations.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("achievement", sa.Column("application_scenarios", sa.String(), nullable=False, server_default=""))
    op.add_column("achievement", sa.Column("problems_solved", sa.String(), nullable=False, server_default=""))
    op.create_table(
        "lead_outcome",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("lead_id", sa.Uuid(), sa.ForeignKey("lead.id"), nullable=False),
        sa.Column("need_id", sa.Uuid(), nullable=False),
        sa.Column("achievement_id", sa.Uuid(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False, server_default=""),
        sa.Column("score", sa.Float(), nullable=False, server_default="0"),
        sa.Column("engine_version", sa.String(), nullable=False, server_default=""),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    for column in ("lead_id", "need_id", "achievement_id"):
        op.create_index(f"ix_lead_outcome_{column}", "lead_outcome", [column])
    op.create_table(
        "term_association",
        sa.Column("need_term", sa.String(), primary_key=True),
        sa.Column("achievement_term", sa.String(), primary_key=True),
        sa.Column("support", sa.Integer(), nullable=False),
        sa.Column("learned_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("term_association")
    op.drop_table("lead_outcome")
    op.drop_column("achievement", "problems_solved")
    op.drop_column("achievement", "application_scenarios")
