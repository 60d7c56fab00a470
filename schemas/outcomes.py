"""What became of leads (won, lost, dismissed as not relevant): labelled pairs the engine learns from,
and the need → achievement term associations learned from the won ones (data beside the thesaurus)."""

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Field as Column
from sqlmodel import SQLModel

from schemas.common import JsonValue
from schemas.tables import _now_column


class LeadOutcome(StrEnum):
    won = "won"
    lost = "lost"
    dismissed = "dismissed"  # a party of the lead says the pair is not relevant


class LeadOutcomeRow(SQLModel, table=True):
    __tablename__ = "lead_outcome"

    id: uuid.UUID = Column(default_factory=uuid.uuid4, primary_key=True)
    lead_id: uuid.UUID = Column(foreign_key="lead.id", index=True)
    need_id: uuid.UUID = Column(index=True)  # kept with the row: the pair stays labelled if the lead goes
    achievement_id: uuid.UUID = Column(index=True)
    outcome: str
    reason: str = ""
    score: float = 0.0  # the lead's score when it was recorded: outcome rates per score band
    engine_version: str = ""
    recorded_by: uuid.UUID | None = None
    created_at: datetime = Column(sa_column=_now_column())


class TermAssociation(SQLModel, table=True):
    """A need's word that, in won leads, went with an achievement's word, at least `support` times."""

    __tablename__ = "term_association"

    need_term: str = Column(primary_key=True)
    achievement_term: str = Column(primary_key=True)
    support: int
    learned_at: datetime = Column(sa_column=_now_column())


class LeadDismiss(BaseModel):
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"reason": "我们要的是采摘设备，不是茶叶深加工"}]})
    reason: str = Field(min_length=2, max_length=500, description="Why the pair is not relevant (kept with it)")


class BandRates(BaseModel):
    band: str = Field(examples=["0.80–1.00"])
    won: int
    lost: int
    dismissed: int


class MatchingQuality(BaseModel):
    engine_version: str
    released: dict[str, JsonValue] = Field(
        description="The labelled-set figures this engine version was released with (per set: needs, recall@10, "
                    "MRR, nDCG@10)")
    outcomes: list[BandRates] = Field(description="Live outcome counts per score band")
    associations: int = Field(description="Term associations learned from won leads")
