"""Brokers and the lead pipeline: profiles, stage changes, activities, consent, the introduction ledger,
ratings and webhooks. Tables first, then the API models; enums and their labels are in schemas.enums."""

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, SmallInteger, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field as Column_
from sqlmodel import SQLModel

from schemas.common import JsonValue, Patch
from schemas.enums import (
    ActivityKind,
    BrokerLevel,
    BrokerStatus,
    ConsentMethod,
    DeliveryStatus,
    LeadStage,
    LedgerEntryKind,
    LostReason,
)
from schemas.matching import LeadRead


def _at(nullable: bool = False, **kw) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable,
                  server_default=None if nullable else text("now()"), **kw)


def _strings() -> Column:
    return Column(ARRAY(String), nullable=False, server_default=text("'{}'"))


# --- tables -----------------------------------------------------------------------------------------

class BrokerProfile(SQLModel, table=True):
    """A broker's public profile; its id is the broker's user id (what `lead.claimed_by` holds)."""

    __tablename__ = "broker_profile"
    id: uuid.UUID = Column_(foreign_key="user_account.id", primary_key=True)
    organisation_id: uuid.UUID = Column_(foreign_key="organisation.id", index=True)  # the agency
    level: str
    certificate_number: str | None = None
    specialties: list[str] = Column_(default_factory=list, sa_column=_strings())  # taxonomy field codes
    regions: list[str] = Column_(default_factory=list, sa_column=_strings())
    capacity: int = 10  # maximum active (open) leads
    status: str = Column_(default=BrokerStatus.active, index=True)
    bio: str = ""
    created_at: datetime = Column_(sa_column=_at())
    updated_at: datetime = Column_(sa_column=_at())


class LeadStageChange(SQLModel, table=True):
    """Every pipeline move of a lead; the funnel statistics are computed from these rows."""

    __tablename__ = "lead_stage_change"
    id: int | None = Column_(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    lead_id: uuid.UUID = Column_(foreign_key="lead.id", index=True)
    from_stage: str | None = None
    to_stage: str
    at: datetime = Column_(sa_column=_at())
    by: uuid.UUID | None = None  # the user; null for the system (routing)
    reason: str | None = None  # LostReason for `lost`
    note: str | None = None


class LeadActivity(SQLModel, table=True):
    __tablename__ = "lead_activity"
    id: uuid.UUID = Column_(default_factory=uuid.uuid4, primary_key=True)
    lead_id: uuid.UUID = Column_(foreign_key="lead.id", index=True)
    kind: str
    at: datetime = Column_(sa_column=_at())  # when it happened (a call yesterday is recorded today)
    author_id: uuid.UUID = Column_(foreign_key="user_account.id")
    text: str
    follow_up_on: date | None = None
    created_at: datetime = Column_(sa_column=_at())


class LeadConsent(SQLModel, table=True):
    """A broker asks a confidential firm to be named on one lead; a user of the firm grants it."""

    __tablename__ = "lead_consent"
    id: uuid.UUID = Column_(default_factory=uuid.uuid4, primary_key=True)
    lead_id: uuid.UUID = Column_(foreign_key="lead.id", index=True)
    broker_id: uuid.UUID = Column_(foreign_key="user_account.id")
    requested_at: datetime = Column_(sa_column=_at())
    granted_by: uuid.UUID | None = Column_(default=None, foreign_key="user_account.id")
    granted_at: datetime | None = Column_(default=None, sa_column=_at(nullable=True))
    method: str | None = None
    note: str | None = None

    __table_args__ = (UniqueConstraint("lead_id", "broker_id", name="uq_lead_consent"),)


class Introduction(SQLModel, table=True):
    """The introduction ledger: append-only (a trigger refuses UPDATE and DELETE), each entry chained to
    the previous entry of the same lead by `prev_hash`, so an edited row breaks the chain."""

    __tablename__ = "introduction"
    id: int | None = Column_(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    lead_id: uuid.UUID = Column_(foreign_key="lead.id", index=True)
    seq: int
    kind: str
    broker_id: uuid.UUID = Column_(foreign_key="user_account.id", index=True)
    need_organisation_id: uuid.UUID
    achievement_organisation_id: uuid.UUID
    recorded_at: datetime = Column_(sa_column=Column(DateTime(timezone=True), nullable=False))
    consent: dict[str, Any] | None = Column_(default=None, sa_column=Column(JSONB, nullable=True))
    note: str = ""
    corrects: int | None = None  # the seq of the entry this one corrects
    prev_hash: str
    hash: str

    __table_args__ = (UniqueConstraint("lead_id", "seq", name="uq_introduction_seq"),)


class BrokerRating(SQLModel, table=True):
    __tablename__ = "broker_rating"
    id: uuid.UUID = Column_(default_factory=uuid.uuid4, primary_key=True)
    lead_id: uuid.UUID = Column_(foreign_key="lead.id")
    broker_id: uuid.UUID = Column_(foreign_key="user_account.id", index=True)
    organisation_id: uuid.UUID = Column_(foreign_key="organisation.id")  # the rating party
    rated_by: uuid.UUID = Column_(foreign_key="user_account.id")
    responsiveness: int = Column_(sa_column=Column(SmallInteger, nullable=False))
    expertise: int = Column_(sa_column=Column(SmallInteger, nullable=False))
    integrity: int = Column_(sa_column=Column(SmallInteger, nullable=False))
    comment: str = ""
    created_at: datetime = Column_(sa_column=_at())

    __table_args__ = (UniqueConstraint("lead_id", "organisation_id", name="uq_rating_party"),)


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"
    id: uuid.UUID = Column_(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Column_(foreign_key="organisation.id", index=True)
    url: str
    events: list[str] = Column_(default_factory=list, sa_column=_strings())
    secret: str  # signs the deliveries, so it is kept; shown to the caller once
    active: bool = True
    created_by: uuid.UUID | None = None
    created_at: datetime = Column_(sa_column=_at())


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint; `next_attempt_at` is also the lease of a worker sending it."""

    __tablename__ = "webhook_delivery"
    id: uuid.UUID = Column_(default_factory=uuid.uuid4, primary_key=True)
    endpoint_id: uuid.UUID = Column_(foreign_key="webhook_endpoint.id", index=True)
    event_id: int = Column_(sa_column=Column(BigInteger, nullable=False))  # receivers drop repeats by it
    topic: str
    body: dict[str, Any] = Column_(sa_column=Column(JSONB, nullable=False))
    status: str = DeliveryStatus.pending
    attempts: int = 0
    next_attempt_at: datetime = Column_(sa_column=_at())
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = Column_(default=None, sa_column=_at(nullable=True))
    created_at: datetime = Column_(sa_column=_at())

    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_delivery_event"),
        Index("ix_delivery_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    )


# --- API models ---------------------------------------------------------------------------------------

class BrokerCreate(BaseModel):
    """A profile for a user with the broker role in an agency (its admin or an operator creates it)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "user_id": "3f0c2a9e-0000-4000-8000-000000000001", "level": "intermediate",
        "certificate_number": "JSJJR-2025-0123", "specialties": ["modern_agriculture"],
        "regions": ["cd.pujiang"], "capacity": 8, "bio": "十年农业机械技术转移经验。"}]})
    user_id: uuid.UUID
    level: BrokerLevel
    certificate_number: str | None = Field(None, max_length=64)
    specialties: list[str] = Field(default_factory=list, max_length=20, description="Taxonomy field codes")
    regions: list[str] = Field(default_factory=list, max_length=30, description="Region codes served")
    capacity: int = Field(10, ge=0, le=500, description="Maximum open leads at once")
    bio: str = Field("", max_length=2000)


class BrokerUpdate(Patch):
    """Admins and operators change anything; the broker themself only `bio` and `status`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"status": "paused"},
                                                                             {"capacity": 12, "level": "senior"}]})
    nullable = frozenset({"certificate_number"})
    level: BrokerLevel | None = None
    certificate_number: str | None = Field(None, max_length=64)
    specialties: list[str] | None = Field(None, max_length=20)
    regions: list[str] | None = Field(None, max_length=30)
    capacity: int | None = Field(None, ge=0, le=500)
    status: BrokerStatus | None = None
    bio: str | None = Field(None, max_length=2000)


class RatingAverages(BaseModel):
    count: int
    responsiveness: float | None
    expertise: float | None
    integrity: float | None


class BrokerFigures(BaseModel):
    open_leads: int
    won_12m: int
    lost_12m: int
    turnover_12m: str = Field(description="Turnover of signed deals in 12 months, CNY (decimal string)")
    median_days_to_won: float | None = Field(description="Median days from claim to won, last 12 months")
    ratings: RatingAverages


class BrokerRead(BaseModel):
    id: uuid.UUID = Field(description="The broker's user id")
    display_name: str
    email: str | None = Field(None, description="Contact; null for anonymous callers")
    organisation_id: uuid.UUID
    organisation_name: str
    level: BrokerLevel
    level_label: str
    certificate_number: str | None
    specialties: list[str]
    regions: list[str]
    capacity: int
    status: BrokerStatus
    bio: str
    figures: BrokerFigures


class StageChange(BaseModel):
    """Move a lead along the pipeline. `lost` needs a `reason` (and `note` when the reason is `other`)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"stage": "contacted"}, {"stage": "lost", "reason": "price", "note": "预算只有报价的一半"}]})
    stage: LeadStage
    reason: LostReason | None = None
    note: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _lost_needs_a_reason(self) -> "StageChange":
        if self.stage == LeadStage.lost and self.reason is None:
            raise ValueError("a lost lead needs a reason")
        if self.reason == LostReason.other and not self.note:
            raise ValueError("reason `other` needs a note")
        if self.reason is not None and self.stage != LeadStage.lost:
            raise ValueError("a reason is given only for `lost`")
        return self


class StageChangeRead(BaseModel):
    from_stage: LeadStage | None
    to_stage: LeadStage
    at: datetime
    by: uuid.UUID | None
    reason: LostReason | None
    note: str | None


class LeadAssign(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "broker_id": "3f0c2a9e-0000-4000-8000-000000000001"}]})
    broker_id: uuid.UUID = Field(description="The broker's user id")


class ActivityCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "kind": "call", "text": "与王总通话，约下周到茶园看现场。", "follow_up_on": "2026-12-10"}]})
    kind: ActivityKind
    at: datetime | None = Field(None, description="When it happened; default now")
    text: str = Field(min_length=1, max_length=5000)
    follow_up_on: date | None = None


class ActivityRead(BaseModel):
    id: uuid.UUID
    lead_id: uuid.UUID
    kind: ActivityKind
    at: datetime
    author_id: uuid.UUID
    text: str
    follow_up_on: date | None


class ConsentGrant(BaseModel):
    """The firm's consent to be named to the achievement's owner on this lead."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"method": "written",
                                                                              "note": "盖章的同意披露函"}]})
    broker_id: uuid.UUID | None = Field(None, description="Whose request is granted; default the lead's broker")
    method: ConsentMethod = ConsentMethod.platform
    note: str | None = Field(None, max_length=1000)


class ConsentRead(BaseModel):
    lead_id: uuid.UUID
    broker_id: uuid.UUID
    requested_at: datetime
    granted_by: uuid.UUID | None
    granted_at: datetime | None
    method: ConsentMethod | None
    note: str | None


class IntroductionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "note": "12月3日在茶园现场介绍双方见面"}]})
    note: str = Field("", max_length=2000)
    corrects: int | None = Field(None, ge=1, description="The `seq` of an entry this one corrects")


class IntroductionRead(BaseModel):
    seq: int
    kind: LedgerEntryKind
    lead_id: uuid.UUID
    broker_id: uuid.UUID
    need_organisation: str = Field(description="某企业 while a confidential firm has not consented")
    achievement_organisation: str
    recorded_at: datetime
    consent: dict[str, JsonValue] | None = Field(
        description="The consent behind the entry (who, when, how); only `granted` before the firm is revealed")
    note: str
    corrects: int | None
    prev_hash: str
    hash: str


class LedgerVerification(BaseModel):
    lead_id: uuid.UUID
    entries: int
    valid: bool
    broken_at: int | None = Field(None, description="The first entry whose hash does not match (its seq)")


class RatingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "responsiveness": 5, "expertise": 4, "integrity": 5, "comment": "响应很快"}]})
    responsiveness: int = Field(ge=1, le=5)
    expertise: int = Field(ge=1, le=5)
    integrity: int = Field(ge=1, le=5)
    comment: str = Field("", max_length=2000)


class RatingRead(BaseModel):
    id: uuid.UUID
    lead_id: uuid.UUID
    broker_id: uuid.UUID
    responsiveness: int
    expertise: int
    integrity: int
    comment: str
    created_at: datetime


WEBHOOK_EVENTS = ("lead.assigned", "lead.stage_changed", "introduction.recorded", "deal.obligation_due",
                  "deal.obligation_overdue")


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "url": "https://crm.example.cn/hooks/market", "events": ["lead.assigned", "lead.stage_changed"]}]})
    url: str = Field(min_length=8, max_length=2000)
    events: list[str] = Field(min_length=1, max_length=20, description=f"Event types, e.g. {', '.join(WEBHOOK_EVENTS)}")


class WebhookRead(BaseModel):
    id: uuid.UUID
    organisation_id: uuid.UUID
    url: str
    events: list[str]
    active: bool
    created_at: datetime
    secret: str | None = Field(None, description="Shown once, when the endpoint is created")


class DeliveryRead(BaseModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: int
    topic: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


class LeadTask(BaseModel):
    """A lead on a broker's to-do list, with the date that put it there."""

    lead: LeadRead
    follow_up_on: date | None = None
    last_activity_at: datetime | None = None
