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
