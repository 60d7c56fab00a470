"""Deals (技术合同): the tables and API models of a contract, its obligations and its registration.

A deal's registration (技术合同认定登记) lives in `registration_*` columns of the deal itself: it is one
record per contract, and the statistics read it in the same row as the amounts.
"""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Column, Date, DateTime, Index, Integer, Numeric, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field as TableField
from sqlmodel import SQLModel

from schemas.common import Money, Patch
from schemas.enums import (
    CommissionStatus,
    ContractType,
    DealStatus,
    ObligationKind,
    ObligationStatus,
    Period,
    RegistrationState,
    SellerType,
)
from schemas.listings import FieldCode, IPRecord

_FORBID = ConfigDict(extra="forbid")
# The statuses the turnover statistics (and a broker's figures) count: the contract was signed and stands.
COUNTED = (DealStatus.signed, DealStatus.performing, DealStatus.completed)
Rate = Annotated[Decimal, Field(gt=0, le=1, max_digits=5, decimal_places=4, examples=["0.0500"],
                                description="A fraction: 0.05 is 5 %")]


def _now(**kw) -> Column:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now(), **kw)


def _money(nullable: bool = True) -> Column:
    return Column(Numeric(14, 2), nullable=nullable)


# --- tables -----------------------------------------------------------------------------------------

class Deal(SQLModel, table=True):
    id: uuid.UUID = TableField(default_factory=uuid.uuid4, primary_key=True)
    status: str = TableField(default=DealStatus.draft, index=True)
    contract_type: str
    seller_id: uuid.UUID = TableField(foreign_key="organisation.id", index=True)
    buyer_id: uuid.UUID = TableField(foreign_key="organisation.id", index=True)
    lead_id: uuid.UUID | None = TableField(default=None, foreign_key="lead.id", index=True)
    achievement_id: uuid.UUID | None = TableField(default=None, foreign_key="achievement.id")
    need_id: uuid.UUID | None = TableField(default=None, foreign_key="need.id")
    title: str
    field: str | None = None  # the technical field (技术领域) the statistics and the registration use
    seller_type: str  # derived from the seller's organisation kind, overridable
    signed_on: date | None = None
    term_start: date | None = None
    term_end: date | None = None
    amount: Decimal = TableField(sa_column=_money(nullable=False))  # 成交额
    technology_amount: Decimal = TableField(sa_column=_money(nullable=False))  # 技术交易额 as agreed
    currency: str = "CNY"
    ip: list[dict[str, Any]] = TableField(default_factory=list,
                                       sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb")))
    broker_id: uuid.UUID | None = TableField(default=None, foreign_key="user_account.id", index=True)
    commission_rate: Decimal | None = TableField(default=None, sa_column=Column(Numeric(5, 4), nullable=True))
    commission_amount: Decimal | None = TableField(default=None, sa_column=_money())
    commission_status: str | None = None
    termination_reason: str | None = None
    registration_state: str = TableField(default=RegistrationState.unregistered)
    registration_number: str | None = TableField(default=None, sa_column=Column(String(16), unique=True, nullable=True))
    registered_on: date | None = None
    certified_income: Decimal | None = TableField(default=None, sa_column=_money())  # 核定技术性收入
    registration_refusal: str | None = None
    created_by: uuid.UUID | None = None
    created_at: datetime = TableField(sa_column=_now())
    updated_at: datetime = TableField(sa_column=_now(onupdate=func.now()))

    # The statistics group signed contracts by date; the partial index is all they read.
    __table_args__ = (
        Index("ix_deal_counted_signed_on", "signed_on",
              postgresql_where=text("status IN ('signed', 'performing', 'completed')")),
    )


class DealObligation(SQLModel, table=True):
    __tablename__ = "deal_obligation"
    id: uuid.UUID = TableField(default_factory=uuid.uuid4, primary_key=True)
    deal_id: uuid.UUID = TableField(foreign_key="deal.id", index=True)
    kind: str
    title: str
    deliverable: str | None = None  # a milestone's deliverable
    series_id: uuid.UUID | None = None  # the entries of one recurring or royalty schedule
    due_on: date = TableField(sa_column=Column(Date, nullable=False))
    amount: Decimal | None = TableField(default=None, sa_column=_money())  # null: a royalty not yet reported
    royalty_rate: Decimal | None = TableField(default=None, sa_column=Column(Numeric(5, 4), nullable=True))
    royalty_base: str | None = None
    period_start: date | None = None
    period_end: date | None = None
    status: str = TableField(default=ObligationStatus.pending)
    paid_on: date | None = None
    note: str | None = None
    created_at: datetime = TableField(sa_column=_now())
    updated_at: datetime = TableField(sa_column=_now(onupdate=func.now()))

    # The worker's tick reads open obligations by due date.
    __table_args__ = (
        Index("ix_obligation_open_due_on", "status", "due_on",
              postgresql_where=text("status IN ('pending', 'due', 'overdue')")),
    )


class StatsPublicYear(SQLModel, table=True):
    """The years whose platform totals an operator has made public."""

    __tablename__ = "stats_public_year"
    year: int = TableField(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    published_by: uuid.UUID | None = None
    published_at: datetime = TableField(sa_column=_now())


# --- deals: API models --------------------------------------------------------------------------------

class Commission(BaseModel):
    """The broker's commission: a rate of the contract amount, or a fixed amount."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"rate": "0.0500", "status": "agreed"}]})
    rate: Rate | None = None
    amount: Money | None = None
    status: CommissionStatus = CommissionStatus.agreed

    @model_validator(mode="after")
    def _one_of(self) -> "Commission":
        if (self.rate is None) == (self.amount is None):
            raise ValueError("give either rate or amount")
        return self


def _check_term(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and end < start:
        raise ValueError("term_end is before term_start")


def _check_amounts(amount: Decimal | None, technology_amount: Decimal | None) -> None:
    if amount is not None and technology_amount is not None and technology_amount > amount:
        raise ValueError("technology_amount (技术交易额) exceeds amount (成交额)")


class DealCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "contract_type": "licence", "seller_id": "6f1c…", "buyer_id": "0b7e…", "title": "嫩芽识别专利实施许可合同",
        "signed_on": "2026-03-18", "term_start": "2026-04-01", "term_end": "2029-03-31",
        "amount": "1200000.00", "technology_amount": "1000000.00", "field": "artificial_intelligence.vision",
        "ip": [{"type": "invention_patent", "number": "ZL202110123456.7"}],
        "commission": {"rate": "0.0500"},
    }]})
    contract_type: ContractType
    seller_id: uuid.UUID
    buyer_id: uuid.UUID
    lead_id: uuid.UUID | None = None
    achievement_id: uuid.UUID | None = None
    need_id: uuid.UUID | None = None
    title: str = Field(min_length=2, max_length=200)
    field: FieldCode | None = Field(None, description="技术领域; default: the achievement's or the need's field")
    seller_type: SellerType | None = Field(None, description="Default: from the seller organisation's kind")
    signed_on: date | None = None
    term_start: date | None = None
    term_end: date | None = None
    amount: Money = Field(description="成交额: the whole contract amount, CNY")
    technology_amount: Money | None = Field(None, description="技术交易额 (≤ amount); default: the amount")
    ip: list[IPRecord] = Field(default_factory=list, max_length=50)
    broker_id: uuid.UUID | None = Field(None, description="The attributed broker (a user with the broker role)")
    commission: Commission | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "DealCreate":
        _check_term(self.term_start, self.term_end)
        _check_amounts(self.amount, self.technology_amount)
        return self


class DealFromLead(BaseModel):
    """What a lead does not say: everything else is pre-filled from the lead and its listings."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "contract_type": "licence", "amount": "800000.00"}]})
    contract_type: ContractType
    title: str | None = Field(None, min_length=2, max_length=200, description="Default: the achievement's title")
    amount: Money
    technology_amount: Money | None = None
    signed_on: date | None = None
    term_start: date | None = None
    term_end: date | None = None
    commission: Commission | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "DealFromLead":
        _check_term(self.term_start, self.term_end)
        _check_amounts(self.amount, self.technology_amount)
        return self


class DealUpdate(Patch):
    """Changes to a draft, or amendments to a signed contract (audited with before and after)."""

    nullable = frozenset({"field", "signed_on", "term_start", "term_end", "broker_id", "commission", "lead_id",
                          "achievement_id", "need_id"})
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"amount": "1300000.00"}]})
    contract_type: ContractType | None = None
    title: str | None = Field(None, min_length=2, max_length=200)
    field: FieldCode | None = None
    seller_type: SellerType | None = None
    lead_id: uuid.UUID | None = None
    achievement_id: uuid.UUID | None = None
    need_id: uuid.UUID | None = None
    signed_on: date | None = None
    term_start: date | None = None
    term_end: date | None = None
    amount: Money | None = None
    technology_amount: Money | None = None
    ip: list[IPRecord] | None = Field(None, max_length=50)
    broker_id: uuid.UUID | None = None
    commission: Commission | None = None


class DealTerminate(BaseModel):
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"reason": "买方资金未到位，双方协商解除"}]})
    reason: str = Field(min_length=2, max_length=1000)


class RegistrationRead(BaseModel):
    state: RegistrationState
    number: str | None
    registered_on: date | None
    certified_income: Money | None = Field(description="核定技术性收入")
    refusal_reason: str | None


class DealRead(BaseModel):
    id: uuid.UUID
    status: DealStatus
    contract_type: ContractType
    contract_type_label: str
    seller_id: uuid.UUID
    seller_name: str
    buyer_id: uuid.UUID
    buyer_name: str
    lead_id: uuid.UUID | None
    achievement_id: uuid.UUID | None
    need_id: uuid.UUID | None
    title: str
    field: str | None
    seller_type: SellerType
    signed_on: date | None
    term_start: date | None
    term_end: date | None
    amount: Money
    technology_amount: Money
    currency: str
    ip: list[IPRecord]
    broker_id: uuid.UUID | None
    commission: Commission | None
    termination_reason: str | None
    registration: RegistrationRead
    created_at: datetime
    updated_at: datetime


# --- obligations: API models ----------------------------------------------------------------------------

class Royalty(BaseModel):
    """提成: a rate on a base (e.g. the product's net sales), reported per period."""

    model_config = _FORBID
    rate: Rate
    base: str = Field(min_length=2, max_length=200, examples=["许可产品年度净销售额"])
    period: Period = Period.year
    periods: int = Field(1, ge=1, le=40, description="How many reporting periods, from `due_on`'s period on")


class Recurrence(BaseModel):
    model_config = _FORBID
    every: Period
    count: int = Field(ge=2, le=120)


class ObligationCreate(BaseModel):
    """One entry of the payment schedule; a recurring or royalty entry creates one row per period."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"kind": "upfront", "title": "合同生效后首付款", "due_on": "2026-04-15", "amount": "300000.00"},
        {"kind": "milestone", "title": "样机验收", "deliverable": "样机通过买方验收", "due_on": "2026-10-31",
         "amount": "500000.00"},
        {"kind": "royalty", "title": "销售提成", "due_on": "2027-01-31",
         "royalty": {"rate": "0.0300", "base": "许可产品年度净销售额", "period": "year", "periods": 3}}]})
    kind: ObligationKind
    title: str = Field(min_length=1, max_length=200)
    deliverable: str | None = Field(None, max_length=500, description="A milestone's deliverable (required there)")
    due_on: date = Field(description="Due date (of the first entry, for recurring and royalty schedules)")
    amount: Money | None = Field(None, description="Fixed amount (of each entry, for recurring)")
    recurrence: Recurrence | None = None
    royalty: Royalty | None = None

    @model_validator(mode="after")
    def _rule_fits_kind(self) -> "ObligationCreate":
        if self.kind == ObligationKind.royalty:
            if self.royalty is None or self.amount is not None:
                raise ValueError("a royalty entry has a royalty rule and no fixed amount")
        elif self.amount is None or self.royalty is not None:
            raise ValueError(f"a {self.kind.value} entry has a fixed amount")
        if (self.kind == ObligationKind.recurring) != (self.recurrence is not None):
            raise ValueError("recurrence is given for recurring entries, and only for them")
        if self.kind == ObligationKind.milestone and not self.deliverable:
            raise ValueError("a milestone names its deliverable")
        return self


class ObligationUpdate(Patch):
    """Reschedule, or report a royalty period's amount."""

    nullable = frozenset({"deliverable", "note"})
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"amount": "42000.00"}]})
    title: str | None = Field(None, min_length=1, max_length=200)
    deliverable: str | None = Field(None, max_length=500)
    due_on: date | None = None
    amount: Money | None = None
    note: str | None = Field(None, max_length=1000)


class ObligationSettle(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"paid_on": "2026-04-20"}]})
    paid_on: date | None = Field(None, description="Default: today")
    note: str | None = Field(None, max_length=1000)


class ObligationWaive(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "双方协商，以验收款抵扣"}]})
    note: str = Field(min_length=2, max_length=1000, description="Why the payment is waived")


class ObligationRead(BaseModel):
    id: uuid.UUID
    deal_id: uuid.UUID
    deal_title: str
    kind: ObligationKind
    title: str
    deliverable: str | None
    series_id: uuid.UUID | None
    due_on: date
    amount: Money | None
    royalty_rate: Decimal | None
    royalty_base: str | None
    period_start: date | None
    period_end: date | None
    status: ObligationStatus
    paid_on: date | None
    note: str | None


# --- registration: API models ----------------------------------------------------------------------------

class RegistrationSubmit(BaseModel):
    """Registration asked for: the field and seller type the registration point will certify."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "field": "artificial_intelligence.vision", "seller_type": "university"}]})
    field: FieldCode | None = None
    seller_type: SellerType | None = None


class RegistrationRecord(BaseModel):
    """What the registration point issued."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "number": "2026510107000123", "registered_on": "2026-04-02", "certified_income": "1000000.00"}]})
    number: str = Field(min_length=14, max_length=16, pattern=r"^\d+$", description="登记编号, 16 or 14 digits")
    registered_on: date
    certified_income: Money = Field(description="核定技术性收入 (used as 技术交易额 by the statistics)")


class RegistrationRefuse(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "合同内容不属于技术合同"}]})
    reason: str = Field(min_length=2, max_length=1000)


class FormParty(BaseModel):
    name: str
    credit_code: str | None
    region: str | None
    area_code: str = Field(description="技术合同登记表 4-digit area code (所在地区)")
    area_name: str


class RegistrationForm(BaseModel):
    """The data the 技术合同登记表 asks for, as far as the platform knows it."""

    deal_id: uuid.UUID
    contract_title: str
    contract_type: ContractType
    contract_type_label: str
    registration_number: str | None
    registered_on: date | None
    signed_on: date | None
    term_start: date | None
    term_end: date | None
    amount: Money
    technology_amount: Money
    certified_income: Money | None
    field: str | None
    field_name: str | None
    seller_type: SellerType
    seller_type_label: str
    seller: FormParty
    buyer: FormParty
    ip: list[IPRecord]
    broker_name: str | None
    achievement_title: str | None
    need_title: str | None
    missing: list[str] = Field(description="Form fields the platform does not know yet")
