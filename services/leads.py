"""Leads: who may see which, their read model, and leads added by hand. Brokers and operators see all
leads, an organisation those of its own listings; a confidential firm stays 某企业 to others until it
consents (services.reveal), and a listing that left the list shows its title only to its owner and
operators (an unpublished edit must not leak through a lead). The pipeline is services.pipeline."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from schemas.enums import LeadSource, LeadStatus, ListingStatus, ListKind
from schemas.listings import CONFIDENTIAL_OWNER
from schemas.matching import LeadRead, ListingRef
from schemas.tables import Achievement, Lead, Need, Organisation
from services import audit, kinds
from services.db import flush_or_conflict
from services.errors import Conflict, NotFound
from services.listings.rules import is_insider
from services.matching import ENGINE_VERSION
from services.matching.engine import score_rows
from services.principal import Principal
from services.reveal import firm_revealed

NeedOrg = aliased(Organisation)
AchievementOrg = aliased(Organisation)


def readable(principal: Principal) -> Select:
    stmt = (select(Lead, Need, NeedOrg.name, Achievement, AchievementOrg.name, firm_revealed(principal))
            .join(Need, Need.id == Lead.need_id).join(NeedOrg, NeedOrg.id == Need.organisation_id)
            .join(Achievement, Achievement.id == Lead.achievement_id)
            .join(AchievementOrg, AchievementOrg.id == Achievement.organisation_id))
    if principal.is_operator or principal.is_broker:
        return stmt
    return stmt.where(or_(Need.organisation_id == principal.organisation_id,
                          Achievement.organisation_id == principal.organisation_id))


WITHDRAWN = "（已下架）"


def _title(principal: Principal, listing: Need | Achievement) -> str:
    return listing.title if is_insider(listing, principal) or listing.status == ListingStatus.published else WITHDRAWN


def retired_reason(lead: Lead, need: Need, achievement: Achievement) -> str | None:
    """Why a retired lead left the active set: a side left the list, or the pair fell out of both top Ks."""
    if lead.status != LeadStatus.retired:
        return None
    for noun, listing in (("need", need), ("achievement", achievement)):
        if listing.status != ListingStatus.published:
            return f"{noun}.{listing.status}"
    return "lead.out_of_top_k"


def lead_read(principal: Principal, lead: Lead, need: Need, need_org: str, achievement: Achievement,
              achievement_org: str, revealed: bool = False) -> LeadRead:
    insider = is_insider(need, principal) or revealed
    return LeadRead(
        id=lead.id,
        need=ListingRef(id=need.id, title=_title(principal, need), status=need.status,
                        organisation_name=CONFIDENTIAL_OWNER if need.confidential and not insider else need_org),
        achievement=ListingRef(id=achievement.id, title=_title(principal, achievement), status=achievement.status,
                               organisation_name=achievement_org),
        status=lead.status, source=lead.source, score=lead.score, reasons=lead.reasons, need_rank=lead.need_rank,
        achievement_rank=lead.achievement_rank, engine_version=lead.engine_version, computed_at=lead.computed_at,
        created_at=lead.created_at, claimed_by=lead.claimed_by, claimed_at=lead.claimed_at, stage=lead.stage,
        stage_changed_at=lead.stage_changed_at, retired_reason=retired_reason(lead, need, achievement),
    )


def read(session: AsyncSession, principal: Principal, row) -> LeadRead:
    """A lead as the caller sees it (a row of `readable`); a confidential firm shown to an outsider through
    its consent (services.reveal) is audited."""
    lead, need, revealed = row[0], row[1], row[5]
    if need.confidential and revealed and not is_insider(need, principal):
        audit.record_reveal(session, principal, need, lead.id)
    return lead_read(principal, *row)


async def list_leads(session: AsyncSession, principal: Principal, *, need_id: uuid.UUID | None,
                     achievement_id: uuid.UUID | None, status: LeadStatus | None, source: LeadSource | None,
                     min_score: float | None, limit: int, after: list | None, view: ListKind | None = None):
    """Best score first; or, with a `view`, one side's own top K in its rank order (`needs`: the leads
    in each need's top K by `need_rank`; `achievements`: by `achievement_rank`). The cursor is the sort
    key: (score, id), or (rank, id) with a view."""
    stmt = readable(principal)
    for column, value in ((Lead.need_id, need_id), (Lead.achievement_id, achievement_id), (Lead.status, status),
                          (Lead.source, source)):
        if value is not None:
            stmt = stmt.where(column == value)
    if min_score is not None:
        stmt = stmt.where(Lead.score >= min_score)
    if view is not None:
        rank = getattr(Lead, kinds.of(view).rank_column)
        stmt = stmt.where(rank.is_not(None))
        if after:
            stmt = stmt.where(or_(rank > after[0], (rank == after[0]) & (Lead.id > after[1])))
        return (await session.execute(stmt.order_by(rank, Lead.id).limit(limit + 1))).all()
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


async def add_manual(session: AsyncSession, ctx, principal: Principal, need_id: uuid.UUID,
                     achievement_id: uuid.UUID) -> Lead:
    """A broker's own lead: scored by the engine like any other, kept active until a side leaves the list."""
    need = await session.get(Need, need_id)
    achievement = await session.get(Achievement, achievement_id)
    for row, noun in ((need, "need"), (achievement, "achievement")):
        if row is None or row.status != ListingStatus.published:
            raise NotFound(f"published {noun} not found", code=f"{noun}.not_found", field=f"body.{noun}_id")
    existing = await session.scalar(select(Lead).where(Lead.need_id == need_id, Lead.achievement_id == achievement_id)
                                    .with_for_update())
    if existing is not None and existing.status == LeadStatus.active:
        raise Conflict("this pair is already an active lead", code="lead.duplicate", field="body")
    match = await score_rows(session, ctx.settings, need, achievement)
    score, reasons = match.score, match.reasons
    now = datetime.now(UTC)
    if existing is None:
        existing = Lead(need_id=need_id, achievement_id=achievement_id, created_by=principal.user_id)
        session.add(existing)
    existing.source, existing.status = LeadSource.manual, LeadStatus.active
    existing.score, existing.reasons = score, {**reasons, "added_by": str(principal.user_id)}
    existing.engine_version, existing.computed_at, existing.updated_at = ENGINE_VERSION, now, now
    await flush_or_conflict(session, {"uq_lead_pair": lambda: Conflict(  # two brokers at the same moment
        "this pair is already an active lead", code="lead.duplicate", field="body")})
    audit.record(session, principal, "lead.created", "lead", existing.id,
                 {"need_id": {"before": None, "after": str(need_id)},
                  "achievement_id": {"before": None, "after": str(achievement_id)}, "source": {
                      "before": None, "after": "manual"}})
    return existing
