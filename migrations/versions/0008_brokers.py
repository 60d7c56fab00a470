"""Brokers and the lead pipeline: profiles, stages, activities, consent, the introduction ledger
(append-only, enforced by a trigger), ratings and webhooks.

Revision ID: 0008
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision: str = "0008"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable,
                     server_default=None if nullable else sa.text("now()"))


def _strings(name: str) -> sa.Column:
    return sa.Column(name, ARRAY(sa.String()), nullable=False, server_default=sa.text("'{}'"))


def _user(name: str, nullable: bool = False, **kw) -> sa.Column:
    return sa.Column(name, sa.Uuid(), sa.ForeignKey("user_account.id"), nullable=nullable, **kw)


def _lead() -> sa.Column:
    return sa.Column("lead_id", sa.Uuid(), sa.ForeignKey("lead.id"), nullable=False, index=True)


def upgrade() -> None:
    op.add_column("lead", sa.Column("stage", sa.String(), nullable=False, server_default="new"))
    op.add_column("lead", _at("stage_changed_at", nullable=True))
    op.add_column("lead", _at("routed_at", nullable=True))
    op.create_index("ix_lead_stage", "lead", ["stage"])

    op.create_table(
        "broker_profile",
        sa.Column("id", sa.Uuid(), sa.ForeignKey("user_account.id"), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisation.id"), nullable=False, index=True),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("certificate_number", sa.String(), nullable=True),
        _strings("specialties"), _strings("regions"),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False, index=True),
        sa.Column("bio", sa.String(), nullable=False),
        _at("created_at"), _at("updated_at"),
    )
    op.create_table(
        "lead_stage_change",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        _lead(),
        sa.Column("from_stage", sa.String(), nullable=True),
        sa.Column("to_stage", sa.String(), nullable=False),
        _at("at"),
        sa.Column("by", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("note", sa.String(), nullable=True),
    )
    op.create_table(
        "lead_activity",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _lead(),
        sa.Column("kind", sa.String(), nullable=False),
        _at("at"),
        _user("author_id"),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("follow_up_on", sa.Date(), nullable=True),
        _at("created_at"),
    )
    op.create_table(
        "lead_consent",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _lead(),
        _user("broker_id"),
        _at("requested_at"),
        _user("granted_by", nullable=True),
        _at("granted_at", nullable=True),
        sa.Column("method", sa.String(), nullable=True),
        sa.Column("note", sa.String(), nullable=True),
        sa.UniqueConstraint("lead_id", "broker_id", name="uq_lead_consent"),
    )
    op.create_table(
        "introduction",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        _lead(),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        _user("broker_id", index=True),
        sa.Column("need_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("achievement_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consent", JSONB(), nullable=True),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("corrects", sa.Integer(), nullable=True),
        sa.Column("prev_hash", sa.String(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.UniqueConstraint("lead_id", "seq", name="uq_introduction_seq"),
    )
    # Nobody edits or deletes a ledger entry, not even the service: corrections are new entries.
    op.execute("""
        CREATE FUNCTION introduction_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the introduction ledger is append-only' USING ERRCODE = 'insufficient_privilege';
        END $$
    """)
    op.execute("""
        CREATE TRIGGER introduction_append_only BEFORE UPDATE OR DELETE ON introduction
            FOR EACH ROW EXECUTE FUNCTION introduction_append_only();
    """)
    op.create_table(
        "broker_rating",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _lead(),
        _user("broker_id", index=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisation.id"), nullable=False),
        _user("rated_by"),
        sa.Column("responsiveness", sa.SmallInteger(), nullable=False),
        sa.Column("expertise", sa.SmallInteger(), nullable=False),
        sa.Column("integrity", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.String(), nullable=False),
        _at("created_at"),
        sa.UniqueConstraint("lead_id", "organisation_id", name="uq_rating_party"),
        sa.CheckConstraint("responsiveness BETWEEN 1 AND 5 AND expertise BETWEEN 1 AND 5 "
                           "AND integrity BETWEEN 1 AND 5", name="ck_rating_range"),
    )
    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organisation_id", sa.Uuid(), sa.ForeignKey("organisation.id"), nullable=False, index=True),
        sa.Column("url", sa.String(), nullable=False),
        _strings("events"),
        sa.Column("secret", sa.String(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        _at("created_at"),
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("endpoint_id", sa.Uuid(), sa.ForeignKey("webhook_endpoint.id"), nullable=False, index=True),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.String(), nullable=False),
        sa.Column("body", JSONB(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _at("next_attempt_at"),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        _at("delivered_at", nullable=True),
        _at("created_at"),
        sa.UniqueConstraint("endpoint_id", "event_id", name="uq_delivery_event"),
    )
    op.create_index("ix_delivery_due", "webhook_delivery", ["next_attempt_at"],
                    postgresql_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_table("webhook_delivery")
    op.drop_table("webhook_endpoint")
    op.drop_table("broker_rating")
    op.drop_table("introduction")
    op.execute("DROP FUNCTION introduction_append_only()")
    op.drop_table("lead_consent")
    op.drop_table("lead_activity")
    op.drop_table("lead_stage_change")
    op.drop_table("broker_profile")
    op.drop_index("ix_lead_stage", table_name="lead")
    op.drop_column("lead", "routed_at")
    op.drop_column("lead", "stage_changed_at")
    op.drop_column("lead", "stage")
