"""API models of full-text search."""

import uuid
from datetime import date

from pydantic import BaseModel, Field

from schemas.common import Money
from schemas.enums import TransferMode


class SearchHit(BaseModel):
    id: uuid.UUID
    title: str
    summary: str
    keywords: list[str]
    field: str
    region: str | None
    trl: int | None = Field(description="Maturity of an achievement; the required maturity of a need")
    modes: list[TransferMode] = Field(description="Transfer modes offered / cooperation modes wanted")
    organisation_id: uuid.UUID | None
    organisation_name: str
    price_min: Money | None = Field(None, description="Achievements: the price range (CNY)")
    price_max: Money | None = None
    budget_min: Money | None = Field(None, description="Needs: the budget range (CNY)")
    budget_max: Money | None = None
    deadline: date | None = Field(None, description="Needs: the last day the firm takes offers")
    challenge: bool | None = Field(None, description="Needs: a 揭榜挂帅 challenge with a reward")
    highlight: dict[str, str] = Field(
        default_factory=dict,
        description="The hit's own `title` and `summary`, exactly as written (either script), with the "
                    "matched terms wrapped in <em>…</em>; a summary longer than 160 characters is cut to "
                    "160 around its first match, with … where cut; a key is absent when nothing in it matched",
        examples=[{"title": "<em>氫能儲運</em>裝備的關鍵材料"}],
    )
    score: float | None = Field(None, description="Meilisearch ranking score, 0–1")


class SearchPage(BaseModel):
    query: str
    total: int = Field(description="Estimated number of hits")
    offset: int
    limit: int
    hits: list[SearchHit]
    facets: dict[str, dict[str, int]] = Field(
        default_factory=dict, examples=[{"field_top": {"advanced_energy": 12}, "region": {"cd.wuhou": 3}}])
    processing_ms: int
