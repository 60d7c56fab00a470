"""SQLModel tables: the source of truth. API models live beside them and never expose these directly."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    LargeBinary,
    Numeric,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel


def _now_column(**kw) -> Column:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now(), **kw)


def _strings() -> Column:
    return Column(ARRAY(String), nullable=False, server_default=text("'{}'"))


def _json(default: str = "'{}'::jsonb", nullable: bool = False) -> Column:
    return Column(JSONB, nullable=nullable, server_default=text(default) if not nullable else None)


def _money(nullable: bool = True) -> Column:
    return Column(Numeric(14, 2), nullable=nullable)


# --- identity -------------------------------------------------------------------------------------

class Organisation(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(index=True)
    name: str
    name_key: str | None = Field(default=None, index=True)  # the name folded (services.text.normalise)
    credit_code: str | None = Field(default=None, sa_column=Column(String(18), unique=True, nullable=True))
    region: str | None = None
    contact: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    created_at: datetime = Field(sa_column=_now_column())
    updated_at: datetime = Field(sa_column=_now_column(onupdate=func.now()))


class User(SQLModel, table=True):
    __tablename__ = "user_account"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    email: str = Field(sa_column=Column(String, unique=True, nullable=False))
    display_name: str
    password_hash: str
    roles: list[str] = Field(default_factory=list, sa_column=_strings())
    active: bool = True
    created_at: datetime = Field(sa_column=_now_column())
    updated_at: datetime = Field(sa_column=_now_column(onupdate=func.now()))


class RefreshToken(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime = Field(sa_column=_now_column())


class ApiKey(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    created_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    name: str
    prefix: str = Field(sa_column=Column(String(16), unique=True, nullable=False))
    secret_hash: str
    scopes: list[str] = Field(default_factory=list, sa_column=_strings())
    created_at: datetime = Field(sa_column=_now_column())
    last_used_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class AuditEvent(SQLModel, table=True):
    """Append-only: the service only ever inserts; nothing updates or deletes a row."""

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    at: datetime = Field(sa_column=_now_column(index=True))
    actor_type: str  # user | api_key | system
    actor_id: str | None = Field(default=None, index=True)
    organisation_id: uuid.UUID | None = None
    action: str  # noun.past_verb, e.g. need.published
    object_type: str
    object_id: str
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    request_id: str | None = None

    __table_args__ = (Index("ix_audit_object", "object_type", "object_id"),)


class RateWindow(SQLModel, table=True):
    """Fixed one-minute windows shared by every API replica."""

    key: str = Field(primary_key=True)
    window_start: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    count: int = 0


class LoginFailure(SQLModel, table=True):
    """Failed logins of one account from one client address (services/login_guard.py)."""

    __tablename__ = "login_failure"
    account: str = Field(primary_key=True)  # the email as typed, lower-cased: unknown accounts count too
    address: str = Field(primary_key=True)
    failures: int = 0
    last_failed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    blocked_until: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


# --- outbox ---------------------------------------------------------------------------------------

class OutboxEvent(SQLModel, table=True):
    """Effects recorded in the writer's transaction and drained by `market worker` processes."""

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    topic: str  # noun.past_verb
    aggregate_type: str
    aggregate_id: str
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    created_at: datetime = Field(sa_column=_now_column())
    available_at: datetime = Field(sa_column=_now_column())
    attempts: int = 0
    last_error: str | None = None
    processed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    claimed_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))  # a lease

    __table_args__ = (
        Index("ix_outbox_pending", "available_at", postgresql_where=text("processed_at IS NULL")),
    )


# --- the two lists --------------------------------------------------------------------------------

class Achievement(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    external_id: str | None = None
    status: str = Field(default="draft", index=True)
    title: str
    summary: str = ""
    description: str = ""
    application_scenarios: str = ""  # the problem side, in the buyers' language
    problems_solved: str = ""
    keywords: list[str] = Field(default_factory=list, sa_column=_strings())
    field: str = Field(index=True)
    secondary_fields: list[str] = Field(default_factory=list, sa_column=_strings())
    ip: list[dict[str, Any]] = Field(default_factory=list, sa_column=_json("'[]'::jsonb"))
    trl: int | None = None
    stage: str | None = None
    transfer_modes: list[str] = Field(default_factory=list, sa_column=_strings())
    price_negotiable: bool = True
    price_min: Decimal | None = Field(default=None, sa_column=_money())
    price_max: Decimal | None = Field(default=None, sa_column=_money())
    currency: str = "CNY"
    team: list[str] = Field(default_factory=list, sa_column=_strings())
    region: str | None = None
    contact: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    attachments: list[dict[str, Any]] = Field(default_factory=list, sa_column=_json("'[]'::jsonb"))
    rejection_reason: str | None = None
    reviewed_by: uuid.UUID | None = None
    # A published listing's substantive edit waiting for review, the live values untouched meanwhile:
    # {"status": submitted|rejected, "values": {column: proposed}, "submitted_at", "rejection_reason"}.
    revision: dict[str, Any] | None = Field(default=None, sa_column=_json(nullable=True))
    submitted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    published_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime = Field(sa_column=_now_column())
    updated_at: datetime = Field(sa_column=_now_column(index=True))

    # Newest first, as the list pages are sorted by default (migration 0013).
    __table_args__ = (
        UniqueConstraint("organisation_id", "external_id", name="uq_achievement_external"),
        Index("ix_achievement_updated_at_newest", text("updated_at DESC NULLS LAST"), text("id DESC")),
        Index("ix_achievement_published_at_newest", text("published_at DESC NULLS LAST"), text("id DESC")),
    )


class Need(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    external_id: str | None = None
    status: str = Field(default="draft", index=True)
    title: str
    description: str = ""
    keywords: list[str] = Field(default_factory=list, sa_column=_strings())
    field: str = Field(index=True)
    budget_negotiable: bool = True
    budget_min: Decimal | None = Field(default=None, sa_column=_money())
    budget_max: Decimal | None = Field(default=None, sa_column=_money())
    currency: str = "CNY"
    deadline: date | None = None
    cooperation_modes: list[str] = Field(default_factory=list, sa_column=_strings())
    required_trl: int | None = None
    region: str | None = None
    confidential: bool = False
    contact: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    challenge_reward: Decimal | None = Field(default=None, sa_column=_money())
    challenge_opens: date | None = None
    challenge_closes: date | None = None
    rejection_reason: str | None = None
    reviewed_by: uuid.UUID | None = None
    # A published listing's substantive edit waiting for review, the live values untouched meanwhile:
    # {"status": submitted|rejected, "values": {column: proposed}, "submitted_at", "rejection_reason"}.
    revision: dict[str, Any] | None = Field(default=None, sa_column=_json(nullable=True))
    submitted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    published_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime = Field(sa_column=_now_column())
    updated_at: datetime = Field(sa_column=_now_column(index=True))

    # Newest first, as the list pages are sorted by default (migration 0013).
    __table_args__ = (
        UniqueConstraint("organisation_id", "external_id", name="uq_need_external"),
        Index("ix_need_updated_at_newest", text("updated_at DESC NULLS LAST"), text("id DESC")),
        Index("ix_need_published_at_newest", text("published_at DESC NULLS LAST"), text("id DESC")),
    )


class ListingVector(SQLModel, table=True):
    """What the worker derives from a listing's text, kept so that a reindex or a match need not derive it
    again: its sentence vector (float32 bytes), encoded again only when the listing's text (`text_hash`) or
    the encoder (`model`) changed, and its own query terms, picked again only when their key changed
    (`services.matching.terms.own_terms_key`: the text and the code that picks them). One table for both
    lists rather than columns on each: the listing rows that every read loads stay narrow (a vector is 2 KB),
    and both lists' are read, stored and rebuilt by the same code."""

    __tablename__ = "listing_vector"
    listing_id: uuid.UUID = Field(primary_key=True)  # an achievement's or a need's id
    kind: str  # ListKind
    model: str  # services.matching.semantic.MODEL
    text_hash: str
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    terms_key: str | None = None
    terms: list | None = Field(default=None, sa_column=_json(nullable=True))  # [[term, weight, origin], …]
    updated_at: datetime = Field(sa_column=_now_column())


# --- publications of the two lists ----------------------------------------------------------------

class Publication(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    list_kind: str
    field: str | None = None  # a per-field list, or the whole list
    version: int
    published_at: datetime = Field(sa_column=_now_column())
    published_by: uuid.UUID | None = None
    total: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0

    __table_args__ = (
        Index("uq_publication_version", "list_kind", text("coalesce(field, '')"), "version", unique=True),
    )


class PublicationEntry(SQLModel, table=True):
    publication_id: uuid.UUID = Field(foreign_key="publication.id", primary_key=True)
    listing_id: uuid.UUID = Field(primary_key=True)
    content_hash: str
    content: dict[str, Any] = Field(sa_column=_json())


# --- leads ------------------------------------------------------------------------------------------

class Lead(SQLModel, table=True):
    """One (need, achievement) pair; unique, so recomputation updates instead of duplicating."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    need_id: uuid.UUID = Field(foreign_key="need.id", index=True)
    achievement_id: uuid.UUID = Field(foreign_key="achievement.id", index=True)
    status: str = Field(default="active", index=True)
    source: str = "engine"
    score: float = 0.0
    reasons: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    need_rank: int | None = None  # rank among the need's matches; null when out of its top K
    achievement_rank: int | None = None
    engine_version: str = ""
    computed_at: datetime = Field(sa_column=_now_column())
    created_by: uuid.UUID | None = None
    claimed_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id", index=True)  # the broker
    claimed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # The pipeline (services/pipeline.py): every move is also a lead_stage_change row.
    stage: str = Field(default="new", sa_column=Column(String, nullable=False, server_default="new", index=True))
    stage_changed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    routed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))  # offered once
    created_at: datetime = Field(sa_column=_now_column())
    updated_at: datetime = Field(sa_column=_now_column(onupdate=func.now()))

    __table_args__ = (UniqueConstraint("need_id", "achievement_id", name="uq_lead_pair"),)
