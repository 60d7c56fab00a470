"""API models of matches and leads (匹配线索)."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from schemas.enums import LeadSource, LeadStage, LeadStatus, ListingStatus

REASONS_EXAMPLE = {
    "engine_version": "match-2026.11.1", "score": 0.81,
    "matched_terms": [{"term": "采摘机器人", "origin": "thesaurus", "weight": 0.63, "relevance": 0.97,
                       "highlight": "基于视觉识别的嫩芽定位与柔性<em>采摘</em>末端执行器"}],
    "components": [{"name": "text", "fit": 0.86, "weight": 0.45, "contribution": 0.387,
                    "detail": "relevance of the matched terms"},
                   {"name": "field", "fit": 0.5, "weight": 0.2, "contribution": 0.1, "detail": "related field"}],
}


class MatchedTerm(BaseModel):
    term: str
    origin: str = Field(description="Where the term came from: keyword, title/description TF-IDF or thesaurus")
    weight: float
    relevance: float
    highlight: str | None = Field(None, description="The counterpart's title with the term in `<em>`")


class ScoreComponent(BaseModel):
    name: str = Field(description="text, field, maturity, price, mode, region or freshness")
    fit: float
    weight: float
    contribution: float
    detail: str


class TermsReason(BaseModel):
    terms: list[str]
    highlight: str | None = Field(None, description="The text the terms were found in, each in `<em>`")
    detail: str | None = None


class DismissedReason(BaseModel):
    factor: float = Field(description="What the score was multiplied by")
    reason: str = Field(description="Why the party said the pair is not relevant")
    detail: str


class MatchReasons(BaseModel):
    """Why a pair matched: the matched terms (with highlights) and each component's contribution; where
    they apply, the achievement's problem side that matched, what won leads taught the engine, a party's
    dismissal, and who added a lead by hand."""

    model_config = ConfigDict(json_schema_extra={"examples": [REASONS_EXAMPLE]})
    engine_version: str
    score: float
    matched_terms: list[MatchedTerm]
    components: list[ScoreComponent]
    highlight: str | None = Field(None, description="The counterpart's title with every matched term in `<em>`")
    problem_side: TermsReason | None = Field(
        None, description="Terms found in the achievement's application scenarios / problems solved")
    learned: TermsReason | None = Field(None, description="Associations learned from won leads")
    dismissed: DismissedReason | None = None
    added_by: str | None = Field(None, description="The user who added the lead by hand")


class MatchRead(BaseModel):
    id: uuid.UUID = Field(description="The matched listing (an achievement for a need, a need for an achievement)")
    title: str
    summary: str = ""
    organisation_name: str
    field: str
    region: str | None
    trl: int | None
    score: float = Field(ge=0, le=1)
    reasons: MatchReasons


class MatchPage(BaseModel):
    listing_id: uuid.UUID
    engine_version: str
    matches: list[MatchRead]


class ListingRef(BaseModel):
    id: uuid.UUID
    title: str
    organisation_name: str = Field(description="某企业 for a confidential need, except for insiders")
    status: ListingStatus


class LeadRead(BaseModel):
    id: uuid.UUID
    need: ListingRef
    achievement: ListingRef
    status: LeadStatus
    source: LeadSource
    score: float
    reasons: MatchReasons
    need_rank: int | None = Field(description="Rank among the need's matches; null when outside its top K")
    achievement_rank: int | None
    engine_version: str
    computed_at: datetime
    created_at: datetime
    claimed_by: uuid.UUID | None = Field(None, description="The broker working this lead")
    claimed_at: datetime | None = None
    stage: LeadStage = LeadStage.new
    stage_changed_at: datetime | None = None
    retired_reason: str | None = Field(None, description="Why a retired lead left the active set, e.g. `need.archived`")


class LeadCreate(BaseModel):
    """A lead a broker adds by hand; the engine still scores it and gives its reasons."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "need_id": "7d1c2f9e-0000-4000-8000-000000000001", "achievement_id": "0b6f5a3e-0000-4000-8000-000000000002"}]})
    need_id: uuid.UUID
    achievement_id: uuid.UUID
