"""Deals (技术合同), their obligations and registration, and the public statistics years.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTED = sa.text("status IN ('signed', 'performing', 'completed')")
OPEN = sa.text("status IN ('pending', 'due', 'overdue')")


def _stamps() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "deal",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("contract_type", sa.String(), nullable=False),
        sa.Column("seller_id", sa.Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("buyer_id", sa.Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("lead_id", sa.Uuid(), sa.ForeignKey("lead.id"), nullable=True),
        sa.Column("achievement_id", sa.Uuid(), sa.ForeignKey("achievement.id"), nullable=True),
        sa.Column("need_id", sa.Uuid(), sa.ForeignKey("need.id"), nullable=True),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("field", sa.String(), nullable=True),
        sa.Column("seller_type", sa.String(), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("term_start", sa.Date(), nullable=True),
        sa.Column("term_end", sa.Date(), nullable=True),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("technology_amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("ip", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("broker_id", sa.Uuid(), sa.ForeignKey("user_account.id"), nullable=True),
        sa.Column("commission_rate", sa.Numeric(5, 4), nullable=True),
        sa.Column("commission_amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("commission_status", sa.String(), nullable=True),
        sa.Column("termination_reason", sa.String(), nullable=True),
        sa.Column("registration_state", sa.String(), nullable=False),
        sa.Column("registration_number", sa.String(16), nullable=True, unique=True),
        sa.Column("registered_on", sa.Date(), nullable=True),
        sa.Column("certified_income", sa.Numeric(14, 2), nullable=True),
        sa.Column("registration_refusal", sa.String(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        *_stamps(),
    )
    for column in ("status", "seller_id", "buyer_id", "lead_id", "broker_id"):
        op.create_index(f"ix_deal_{column}", "deal", [column])
    op.create_index("ix_deal_counted_signed_on", "deal", ["signed_on"], postgresql_where=COUNTED)
    op.create_table(
        "deal_obligation",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("deal_id", sa.Uuid(), sa.ForeignKey("deal.id"), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("deliverable", sa.String(), nullable=True),
        sa.Column("series_id", sa.Uuid(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("royalty_rate", sa.Numeric(5, 4), nullable=True),
        sa.Column("royalty_base", sa.String(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("note", sa.String(), nullable=True),
        *_stamps(),
    )
    op.create_index("ix_deal_obligation_deal_id", "deal_obligation", ["deal_id"])
    op.create_index("ix_obligation_open_due_on", "deal_obligation", ["status", "due_on"], postgresql_where=OPEN)
    op.create_table(
        "stats_public_year",
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("published_by", sa.Uuid(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stats_public_year")
    op.drop_table("deal_obligation")
    op.drop_table("deal")
