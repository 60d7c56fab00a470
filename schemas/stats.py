"""API models of the turnover statistics (技术合同成交额 / 技术交易额)."""

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from schemas.common import Money


class Dimension(StrEnum):
    year = "year"
    quarter = "quarter"
    month = "month"
    field = "field"
    contract_type = "contract_type"
    seller_type = "seller_type"
    seller = "seller"
    buyer_region = "buyer_region"
    broker = "broker"


class StatRow(BaseModel):
    key: str | None = Field(description="The group's code (a year, a field code, an organisation id …)")
    label: str = Field(description="The group's name, in Chinese where there is one")
    deals: int
    turnover: Money = Field(description="成交额: the contract amounts")
    technology_turnover: Money = Field(description="技术交易额: certified income once registered, else as agreed")


class StatTotals(BaseModel):
    deals: int
    turnover: Money
    technology_turnover: Money


class StatTable(BaseModel):
    dimension: Dimension
    scope: str = Field(description="platform, organisation or broker: whose deals these figures count")
    rows: list[StatRow]
    total: StatTotals


class GrowthRow(BaseModel):
    year: int
    deals: int
    turnover: Money
    technology_turnover: Money
    growth: Decimal | None = Field(description="Turnover growth on the year before (0.12 = +12 %); null in the first")
    target: Decimal = Field(description="The growth target (setting TURNOVER_GROWTH_TARGET)")
    target_met: bool | None
    academic_turnover: Money = Field(description="成交额 of contracts whose seller is a university or institute")
    academic_share: Decimal | None = Field(description="academic_turnover / turnover")


class GrowthTable(BaseModel):
    scope: str
    rows: list[GrowthRow]


class PublicYear(BaseModel):
    year: int
    public: bool


class FunnelBy(StrEnum):
    platform = "platform"
    field = "field"
    broker = "broker"


class FunnelStage(BaseModel):
    stage: str
    label: str
    leads: int = Field(description="Leads that reached this stage")
    conversion: Decimal | None = Field(description="Share of the previous stage's leads that reached this one")
    median_days: float | None = Field(description="Median days a lead spent in this stage before moving on")


class FunnelRow(BaseModel):
    key: str | None
    label: str
    stages: list[FunnelStage]
    lost: int
    won_rate: Decimal | None = Field(description="won / leads worked")


class FunnelTable(BaseModel):
    by: FunnelBy
    scope: str
    rows: list[FunnelRow]


class LeaderboardRow(BaseModel):
    broker_id: str
    name: str
    deals: int
    turnover: Money
    technology_turnover: Money
    leads: int = Field(description="Leads worked (claimed)")
    won: int
    conversion: Decimal | None = Field(description="won / leads worked")
    median_days_to_close: float | None = Field(description="Median days from claiming a lead to winning it")
    rating: float | None = Field(description="Average of the parties' ratings (1–5)")
    ratings: int


class Leaderboard(BaseModel):
    rows: list[LeaderboardRow]
