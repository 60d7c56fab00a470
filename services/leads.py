"""Reading leads: who may see which, and their read model (brokers and operators see all leads;
an organisation sees the leads of its own listings; a confidential firm stays 某企业 to others)."""

import uuid

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from schemas.enums import LeadSource, LeadStatus
from schemas.matching import LeadRead, ListingRef
from schemas.tables import Achievement, Lead, Need, Organisation
from services.errors import NotFound
from services.listings import CONFIDENTIAL_OWNER
from services.principal import Principal

NeedOrg = aliased(Organisation)
AchievementOrg = aliased(Organisation)


def readable(principal: Principal) -> Select:
    stmt = (select(Lead, Need, NeedOrg.name, Achievement, AchievementOrg.name)
            .join(Need, Need.id == Lead.need_id).join(NeedOrg, NeedOrg.id == Need.organisation_id)
            .join(Achievement, Achievement.id == Lead.achievement_id)
            .join(AchievementOrg, AchievementOrg.id == Achievement.organisation_id))
    if principal.is_operator or principal.is_broker:
        return stmt
    return stmt.where(or_(Need.organisation_id == principal.organisation_id,
                          Achievement.organisation_id == principal.organisation_id))


def lead_read(principal: Principal, lead: Lead, need: Need, need_org: str, achievement: Achievement,
              achievement_org: str) -> LeadRead:
    insider = principal.is_operator or principal.organisation_id == need.organisation_id
    return LeadRead(
        id=lead.id,
        need=ListingRef(id=need.id, title=need.title, status=need.status,
                        organisation_name=CONFIDENTIAL_OWNER if need.confidential and not insider else need_org),
        achievement=ListingRef(id=achievement.id, title=achievement.title, status=achievement.status,
                               organisation_name=achievement_org),
        status=lead.status, source=lead.source, score=lead.score, reasons=lead.reasons, need_rank=lead.need_rank,
        achievement_rank=lead.achievement_rank, engine_version=lead.engine_version, computed_at=lead.computed_at,
        created_at=lead.created_at,
    )


async def list_leads(session: AsyncSession, principal: Principal, *, need_id: uuid.UUID | None,
                     achievement_id: uuid.UUID | None, status: LeadStatus | None, source: LeadSource | None,
                     min_score: float | None, limit: int, after: list | None):
    stmt = readable(principal)
    for column, value in ((Lead.need_id, need_id), (Lead.achievement_id, achievement_id), (Lead.status, status),
                          (Lead.source, source)):
        if value is not None:
            stmt = stmt.where(column == value)
    if min_score is not None:
        stmt = stmt.where(Lead.score >= min_score)
    if after:
        score, last_id = after
        stmt = stmt.where(or_(Lead.score < score, (Lead.score == score) & (Lead.id > last_id)))
    rows = (await session.execute(stmt.order_by(Lead.score.desc(), Lead.id).limit(limit + 1))).all()
    return rows


async def get_lead(session: AsyncSession, principal: Principal, lead_id: uuid.UUID):
    row = (await session.execute(readable(principal).where(Lead.id == lead_id))).first()
    if row is None:
        raise NotFound("lead not found", code="lead.not_found")
    return row
