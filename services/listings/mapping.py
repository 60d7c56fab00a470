"""Listing rows <-> the API: the columns a Create/Update body sets, the Read models (what an outsider
sees), and a row's values as audited and as held in a pending revision."""

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Numeric

from schemas.listings import CONFIDENTIAL_OWNER, AchievementRead, NeedRead
from schemas.tables import Achievement, Need
from services import kinds
from services.kinds import Kind
from services.listings.rules import is_insider
from services.principal import Principal


def _money_columns(about: Kind, value: dict | None) -> dict[str, Any]:
    value = value or {"negotiable": True}
    negotiable, low, high = about.amount_columns()
    return {negotiable: value.get("negotiable", True), low: value.get("min"), high: value.get("max")}


def _money_read(row) -> dict:
    negotiable, low, high = kinds.of_row(row).amount_columns()
    return {"negotiable": getattr(row, negotiable), "min": getattr(row, low), "max": getattr(row, high)}


def achievement_columns(body) -> dict[str, Any]:
    """The columns an AchievementCreate/Update sets; only the fields the client sent."""
    data = body.model_dump(exclude_unset=True, exclude={"price", "contact", "ip", "attachments"})
    sent = body.model_fields_set
    if "price" in sent:
        data.update(_money_columns(kinds.ACHIEVEMENT, body.price.model_dump() if body.price else None))
    for name in ("contact", "ip", "attachments"):
        if name in sent:
            value = getattr(body, name)
            data[name] = ([v.model_dump(mode="json", exclude_none=True) for v in value] if isinstance(value, list)
                          else (value.model_dump(mode="json", exclude_none=True) if value else {}))
    return data


def need_columns(body) -> dict[str, Any]:
    data = body.model_dump(exclude_unset=True, exclude={"budget", "contact", "challenge"})
    sent = body.model_fields_set
    if "budget" in sent:
        data.update(_money_columns(kinds.NEED, body.budget.model_dump() if body.budget else None))
    if "contact" in sent:
        data["contact"] = body.contact.model_dump(exclude_none=True) if body.contact else {}
    if "challenge" in sent:
        c = body.challenge
        data.update(challenge_reward=c.reward if c else None, challenge_opens=c.opens if c else None,
                    challenge_closes=c.closes if c else None)
    return data


def _review_fields(row, owner: bool) -> dict:
    return {"status": row.status, "rejection_reason": row.rejection_reason, "submitted_at": row.submitted_at,
            "published_at": row.published_at, "created_at": row.created_at, "updated_at": row.updated_at,
            "revision": row.revision if owner else None}


def achievement_read(row: Achievement, org_name: str, principal: Principal, insider: bool = False) -> AchievementRead:
    owner = is_insider(row, principal)  # a broker on a lead is an insider too, but reviews are not its business
    insider = insider or owner
    return AchievementRead(
        id=row.id, organisation_id=row.organisation_id, organisation_name=org_name, external_id=row.external_id,
        title=row.title, summary=row.summary, description=row.description,
        application_scenarios=row.application_scenarios, problems_solved=row.problems_solved, keywords=row.keywords,
        field=row.field, secondary_fields=row.secondary_fields, ip=row.ip, trl=row.trl, stage=row.stage,
        transfer_modes=row.transfer_modes, price=_money_read(row), team=row.team, region=row.region,
        contact=row.contact if insider else None, attachments=row.attachments, **_review_fields(row, owner),
    )


def need_read(row: Need, org_name: str, principal: Principal, insider: bool = False) -> NeedRead:
    owner = is_insider(row, principal)
    insider = insider or owner
    hidden = row.confidential and not insider
    challenge = ({"reward": row.challenge_reward, "opens": row.challenge_opens, "closes": row.challenge_closes}
                 if row.challenge_reward is not None else None)
    return NeedRead(
        id=row.id, organisation_id=None if hidden else row.organisation_id,
        organisation_name=CONFIDENTIAL_OWNER if hidden else org_name, external_id=None if hidden else row.external_id,
        title=row.title, description=row.description, keywords=row.keywords, field=row.field,
        budget=_money_read(row), deadline=row.deadline, cooperation_modes=row.cooperation_modes,
        required_trl=row.required_trl, region=row.region, confidential=row.confidential,
        contact=row.contact if insider else None, challenge=challenge, **_review_fields(row, owner),
    )


def values_of(row) -> dict[str, Any]:
    """A row's values as audited and compared with an edit (not its timestamps or pending revision)."""
    return {c.name: getattr(row, c.name) for c in row.__table__.columns
            if c.name not in ("created_at", "updated_at", "revision")}


def revision_values(row) -> dict[str, Any]:
    """The pending revision's values, back from JSONB into the columns' Python types."""
    columns = row.__table__.columns
    values = {}
    for key, value in ((row.revision or {}).get("values") or {}).items():
        if value is not None and isinstance(columns[key].type, Numeric):
            value = Decimal(value)
        elif value is not None and isinstance(columns[key].type, Date):
            value = date.fromisoformat(value)
        values[key] = value
    return values
