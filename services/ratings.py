"""Ratings of a broker by the parties of a lead they won: once per party, 1–5 on three counts."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.brokers import BrokerRating, RatingCreate
from schemas.enums import LeadStage
from services import audit
from services.db import flush_or_conflict
from services.errors import Conflict, Forbidden
from services.leads import get_lead
from services.principal import Principal


async def rate(session: AsyncSession, principal: Principal, lead_id: uuid.UUID, body: RatingCreate) -> BrokerRating:
    lead, need, _, achievement, _, _ = await get_lead(session, principal, lead_id)
    if principal.kind != "user" or principal.organisation_id not in (need.organisation_id, achievement.organisation_id):
        raise Forbidden("the parties of the lead rate its broker", code="rating.parties_only")
    if lead.stage != LeadStage.won or lead.claimed_by is None:
        raise Conflict("a broker is rated after the lead is won", code="rating.not_won", field="stage")
    rating = BrokerRating(lead_id=lead.id, broker_id=lead.claimed_by, organisation_id=principal.organisation_id,
                          rated_by=principal.user_id, **body.model_dump())
    session.add(rating)
    await flush_or_conflict(session, {"uq_rating_party": lambda: Conflict(
        "your organisation rated this broker for this lead already", code="rating.duplicate")})
    audit.record(session, principal, "broker.rated", "broker", lead.claimed_by,
                 {"lead_id": {"before": None, "after": lead.id}, **{
                     k: {"before": None, "after": v} for k, v in body.model_dump(exclude={"comment"}).items()}})
    return rating


async def list_for_broker(session: AsyncSession, broker_id: uuid.UUID, limit: int) -> list[BrokerRating]:
    return list((await session.scalars(select(BrokerRating).where(BrokerRating.broker_id == broker_id)
                                       .order_by(BrokerRating.created_at.desc()).limit(limit))).all())
