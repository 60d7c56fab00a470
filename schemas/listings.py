"""API models of the two lists: achievements (科技成果) and needs (技术需求)."""

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from schemas.common import JsonValue, Money, Patch
from schemas.enums import IPType as _IPType
from schemas.enums import ListingStatus, ReviewAction, RevisionStatus, enum_input
from schemas.enums import Stage as _Stage
from schemas.enums import TransferMode as _TransferMode
from schemas.identity import Contact
from schemas.validators import validate_ip_number

CONFIDENTIAL_OWNER = "某企业"  # how the public sees the firm behind a confidential need
Keyword = Annotated[str, Field(min_length=1, max_length=40)]
FieldCode = Annotated[str, Field(min_length=2, max_length=80, examples=["advanced_energy.hydrogen"])]
TRL = Annotated[int, Field(ge=1, le=9, description="Technology readiness level 1–9")]
# On input an enum value may also be its Chinese label, in either script (中试, 許可, 发明专利).
Stage = Annotated[_Stage, BeforeValidator(enum_input(_Stage))]
TransferMode = Annotated[_TransferMode, BeforeValidator(enum_input(_TransferMode))]
IPType = Annotated[_IPType, BeforeValidator(enum_input(_IPType))]
# Stages overlap in practice (a 中试 line is often called TRL 5); only gross contradictions are refused.
STAGE_TRL = {_Stage.lab: range(1, 5), _Stage.bench: range(3, 7), _Stage.pilot: range(5, 9),
             _Stage.production: range(7, 10)}


class IPRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: IPType
    number: str | None = Field(None, max_length=40, examples=["ZL202110123456.7"],
                               description="Application (ZL…, check digit validated) or publication (CN…A) number")
    title: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _number(self) -> "IPRecord":
        if self.number:
            self.number = validate_ip_number(self.type.value, self.number)
        return self


class Attachment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    url: AnyHttpUrl


class MoneyRange(BaseModel):
    """Negotiable (面议), or a range in CNY; either end may be open."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"negotiable": False, "min": "500000.00", "max": "2000000.00"}, {"negotiable": True}]})
    negotiable: bool = True
    min: Money | None = None
    max: Money | None = None

    @model_validator(mode="after")
    def _range(self) -> "MoneyRange":
        if not self.negotiable and self.min is None and self.max is None:
            raise ValueError("give min and/or max, or set negotiable")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self


class Challenge(BaseModel):
    """揭榜挂帅: a reward and a bidding window."""

    model_config = ConfigDict(extra="forbid")
    reward: Money
    opens: date
    closes: date

    @model_validator(mode="after")
    def _window(self) -> "Challenge":
        if self.closes < self.opens:
            raise ValueError("the bidding window closes before it opens")
        return self


def _check_stage(trl: int | None, stage: Stage | None) -> None:
    if trl is not None and stage is not None and trl not in STAGE_TRL[stage]:
        raise ValueError(f"TRL {trl} does not fit the stage {stage.value}")


def _dedupe(values: list) -> list:
    return list(dict.fromkeys(values))


PROBLEM_SIDE = (  # written in the buyers' language, so matching meets a firm's symptoms here
    "Where it applies (应用场景), in the words of the firms that would use it", "The problems it solves "
    "(解决的问题), as a firm would describe them: symptoms and costs, not the technique")


class _AchievementFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    summary: str = Field("", max_length=2000)
    description: str = Field("", max_length=20000)
    application_scenarios: str = Field("", max_length=2000, description=PROBLEM_SIDE[0])
    problems_solved: str = Field("", max_length=2000, description=PROBLEM_SIDE[1])
    keywords: list[Keyword] = Field(default_factory=list, max_length=20)
    secondary_fields: list[FieldCode] = Field(default_factory=list, max_length=5)
    ip: list[IPRecord] = Field(default_factory=list, max_length=50)
    trl: TRL | None = None
    stage: Stage | None = None
    transfer_modes: list[TransferMode] = Field(default_factory=list)
    price: MoneyRange = MoneyRange()
    team: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=50)
    region: str | None = Field(None, max_length=40, examples=["cd.wuhou"])
    contact: Contact = Contact()
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    external_id: str | None = Field(None, max_length=100, description="The id in the owner's own system")

    _unique = field_validator("keywords", "transfer_modes", "secondary_fields")(_dedupe)


class AchievementCreate(_AchievementFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "title": "基于视觉识别的嫩芽定位与柔性采摘末端执行器",
        "summary": "面向名优茶机采的嫩芽识别与柔性采摘技术，识别准确率92%。",
        "application_scenarios": "名优茶茶园的春茶采摘", "problems_solved": "采茶全靠人工，旺季招不到人、成本高",
        "keywords": ["嫩芽识别", "采摘机器人", "末端执行器"], "field": "artificial_intelligence.vision",
        "secondary_fields": ["modern_agriculture.smart_agriculture"],
        "ip": [{"type": "invention_patent", "number": "ZL202110123456.7"}],
        "trl": 6, "stage": "pilot", "transfer_modes": ["licence", "co_development"],
        "price": {"negotiable": False, "min": "500000.00", "max": "1500000.00"}, "region": "cd.wuhou",
        "external_id": "SCU-2024-001",
    }]})
    title: str = Field(min_length=2, max_length=200)
    field: FieldCode

    @model_validator(mode="after")
    def _consistent(self) -> "AchievementCreate":
        _check_stage(self.trl, self.stage)
        return self


class AchievementUpdate(Patch):
    """Only the fields sent change (PATCH)."""

    nullable = frozenset({"trl", "stage", "region", "external_id"})
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"summary": "新的简介"}]})
    title: str | None = Field(None, min_length=2, max_length=200)
    field: FieldCode | None = None
    summary: str | None = Field(None, max_length=2000)
    description: str | None = Field(None, max_length=20000)
    application_scenarios: str | None = Field(None, max_length=2000, description=PROBLEM_SIDE[0])
    problems_solved: str | None = Field(None, max_length=2000, description=PROBLEM_SIDE[1])
    keywords: list[Keyword] | None = Field(None, max_length=20)
    secondary_fields: list[FieldCode] | None = Field(None, max_length=5)
    ip: list[IPRecord] | None = Field(None, max_length=50)
    trl: TRL | None = None
    stage: Stage | None = None
    transfer_modes: list[TransferMode] | None = None
    price: MoneyRange | None = None
    team: list[Annotated[str, Field(max_length=100)]] | None = None
    region: str | None = Field(None, max_length=40)
    contact: Contact | None = None
    attachments: list[Attachment] | None = Field(None, max_length=20)
    external_id: str | None = Field(None, max_length=100)


class ListingOwner(BaseModel):
    organisation_id: uuid.UUID | None = Field(description="Null for a confidential need seen by the public")
    organisation_name: str = Field(examples=["四川大学", "某企业"])


class ListingRevision(BaseModel):
    """A published listing's substantive edit waiting for review; the published version stays live."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "status": "submitted", "submitted_at": "2026-12-01T08:00:00+00:00", "rejection_reason": None,
        "values": {"title": "基于视觉识别的嫩芽定位与柔性采摘末端执行器（第二代）"}}]})
    status: RevisionStatus
    submitted_at: datetime
    rejection_reason: str | None = None
    values: dict[str, JsonValue] = Field(description="The proposed values of the changed fields, named as in the audit "
                                               "trail (`title`, `price_min`, `challenge_closes` …)")


class _Review(BaseModel):
    status: ListingStatus
    rejection_reason: str | None = None
    submitted_at: datetime | None = None
    published_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    revision: ListingRevision | None = Field(None, description="Only for the owner and operators: the edit "
                                                               "waiting for review, beside the live version")


class AchievementRead(_Review, ListingOwner):
    id: uuid.UUID
    external_id: str | None
    title: str
    summary: str
    description: str
    application_scenarios: str
    problems_solved: str
    keywords: list[str]
    field: str
    secondary_fields: list[str]
    ip: list[IPRecord]
    trl: int | None
    stage: Stage | None
    transfer_modes: list[TransferMode]
    price: MoneyRange
    team: list[str]
    region: str | None
    contact: Contact | None = Field(None, description="Never public: owner, operators, and brokers on a lead")
    attachments: list[Attachment]


class _NeedFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = Field("", max_length=20000)
    keywords: list[Keyword] = Field(default_factory=list, max_length=20)
    budget: MoneyRange = MoneyRange()
    deadline: date | None = None
    cooperation_modes: list[TransferMode] = Field(default_factory=list)
    required_trl: TRL | None = Field(None, description="The least maturity the firm can use")
    region: str | None = Field(None, max_length=40, examples=["cd.pujiang"])
    confidential: bool = Field(False, description="Hide the firm's identity and contact from the public")
    contact: Contact = Contact()
    challenge: Challenge | None = None
    external_id: str | None = Field(None, max_length=100)

    _unique = field_validator("keywords", "cooperation_modes")(_dedupe)


class NeedCreate(_NeedFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "title": "名优茶采摘全靠人工，旺季招不到人",
        "description": "公司有3000亩茶园，明前茶采摘全靠人工，旺季招工难、成本高，希望找到能替代人工的采摘设备。",
        "keywords": ["采茶", "机器人", "招工难"], "field": "modern_agriculture.smart_agriculture",
        "budget": {"negotiable": False, "min": "300000.00", "max": "800000.00"}, "deadline": "2027-06-30",
        "cooperation_modes": ["co_development", "licence"], "required_trl": 5, "region": "cd.pujiang",
        "confidential": True,
    }]})
    title: str = Field(min_length=2, max_length=200)
    field: FieldCode


class NeedUpdate(Patch):
    """Only the fields sent change (PATCH)."""

    nullable = frozenset({"deadline", "required_trl", "region", "challenge", "external_id"})
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"deadline": "2027-09-30"}]})
    title: str | None = Field(None, min_length=2, max_length=200)
    field: FieldCode | None = None
    description: str | None = Field(None, max_length=20000)
    keywords: list[Keyword] | None = Field(None, max_length=20)
    budget: MoneyRange | None = None
    deadline: date | None = None
    cooperation_modes: list[TransferMode] | None = None
    required_trl: TRL | None = None
    region: str | None = Field(None, max_length=40)
    confidential: bool | None = None
    contact: Contact | None = None
    challenge: Challenge | None = None
    external_id: str | None = Field(None, max_length=100)


class NeedRead(_Review, ListingOwner):
    id: uuid.UUID
    external_id: str | None
    title: str
    description: str
    keywords: list[str]
    field: str
    budget: MoneyRange
    deadline: date | None
    cooperation_modes: list[TransferMode]
    required_trl: int | None
    region: str | None
    confidential: bool
    contact: Contact | None = Field(None, description="Only the firm, operators and the broker on a lead")
    challenge: Challenge | None


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"reason": "成果简介过于简略，请补充技术指标"}]})
    reason: str = Field(min_length=2, max_length=2000)


class ReviewRequest(BaseModel):
    """Approve or reject many listings at once (operators)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "ids": ["0b6f0c6e-8f4e-4c1e-9d43-0c4b8e2f5a11"], "action": "approve"}]})
    ids: list[uuid.UUID] = Field(min_length=1, max_length=500)
    action: ReviewAction
    reason: str | None = Field(None, min_length=2, max_length=2000, description="Required to reject")

    @model_validator(mode="after")
    def _reason(self) -> "ReviewRequest":
        if self.action == "reject" and not self.reason:
            raise ValueError("give the reason for the rejection")
        return self


class ReviewOutcome(BaseModel):
    id: uuid.UUID
    status: int = Field(description="What a single approve/reject would have answered: 200, 404, 409, 422")
    listing_status: ListingStatus | None = None
    code: str | None = Field(None, description="The problem code when it failed, e.g. `listing.illegal_transition`")
    detail: str | None = None
    field: str | None = None


class ReviewReport(BaseModel):
    succeeded: int
    failed: int
    items: list[ReviewOutcome]
