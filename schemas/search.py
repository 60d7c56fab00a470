"""API models of full-text search."""

import uuid

from pydantic import BaseModel, Field


class SearchHit(BaseModel):
    id: uuid.UUID
    title: str
    summary: str
    keywords: list[str]
    field: str
    region: str | None
    trl: int | None = Field(description="Maturity of an achievement; the required maturity of a need")
    modes: list[str] = Field(description="Transfer modes offered / cooperation modes wanted")
    organisation_id: uuid.UUID | None
    organisation_name: str
    price_min: float | None = None
    price_max: float | None = None
    budget_min: float | None = None
    budget_max: float | None = None
    highlight: dict[str, str] = Field(
        default_factory=dict,
        description="Matched terms wrapped in <em>…</em>, over the normalised (simplified) text",
        examples=[{"title_n": "<em>氢能</em>储运装备的关键材料"}],
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
