"""The lead pipeline: one broker at a time works a lead (claim, release, reassign, routing) through the
stages new → contacted → introduced → negotiating → won | lost. Every move is a `lead_stage_change`
row, an audit row and a `lead.stage_changed` outbox event in the caller's transaction.

Lock order everywhere: the lead row, then the broker's profile row (capacity is counted under it), so
claims, reassignments and routing never deadlock one another.
"""

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.brokers import BrokerProfile, LeadStageChange, StageChange
from schemas.enums import BrokerStatus, LeadStage, LeadStatus
from schemas.tables import Achievement, Lead, Need, User
from services import audit, outbox
from services.brokers import OPEN_STAGES, fits, open_leads
from services.errors import Conflict, Forbidden, NotFound
from services.leads import get_lead, readable
from services.principal import Principal

SYSTEM = Principal(kind="system")

TRANSITIONS: dict[LeadStage, frozenset[LeadStage]] = {
    LeadStage.new: frozenset({LeadStage.contacted, LeadStage.lost}),
    LeadStage.contacted: frozenset({LeadStage.introduced, LeadStage.lost}),
    LeadStage.introduced: frozenset({LeadStage.negotiating, LeadStage.lost}),
    LeadStage.negotiating: frozenset({LeadStage.won, LeadStage.lost}),
    LeadStage.won: frozenset(),
    LeadStage.lost: frozenset(),
}


def next_stage(current: LeadStage, wanted: LeadStage) -> LeadStage:
    if wanted not in TRANSITIONS[current]:
        raise Conflict(f"a lead moves from {current} only to {sorted(TRANSITIONS[current]) or 'nowhere'}",
                       code="lead.illegal_transition", field="body.stage")
    return wanted


async def lock_lead(session: AsyncSession, lead_id: uuid.UUID) -> Lead:
    lead = await session.scalar(select(Lead).where(Lead.id == lead_id).with_for_update()
                                .execution_options(populate_existing=True))
    if lead is None:
        raise NotFound("lead not found", code="lead.not_found")
    return lead


async def worked_lead(session: AsyncSession, principal: Principal, lead_id: uuid.UUID) -> Lead:
    """The lead, locked, for its broker or an operator; others who may read it get 403, the rest 404."""
    await get_lead(session, principal, lead_id)
    lead = await lock_lead(session, lead_id)
    if not (principal.is_operator or (principal.user_id is not None and lead.claimed_by == principal.user_id)):
        raise Forbidden("only the broker working this lead (or an operator) does this", code="lead.not_your_lead")
    return lead


async def parties(session: AsyncSession, lead: Lead) -> list[str]:
    """The organisations an event about this lead concerns (its webhooks' audience): both owners and the
    broker's agency."""
    need_org = await session.scalar(select(Need.organisation_id).where(Need.id == lead.need_id))
    achievement_org = await session.scalar(select(Achievement.organisation_id).where(
        Achievement.id == lead.achievement_id))
    broker_org = lead.claimed_by and await session.scalar(select(User.organisation_id).where(
        User.id == lead.claimed_by))
    return [str(org) for org in (need_org, achievement_org, broker_org) if org]


async def _take(session: AsyncSession, lead: Lead, broker_id: uuid.UUID, now: datetime) -> None:
    """Give the (locked) lead to a broker with an active profile and spare capacity."""
    profile = await session.scalar(select(BrokerProfile).where(BrokerProfile.id == broker_id).with_for_update()
                                   .execution_options(populate_existing=True))
    if profile is None:
        raise Forbidden("a broker needs a profile to work leads", code="broker.no_profile")
    if profile.status != BrokerStatus.active:
        raise Conflict("the broker has paused taking leads", code="broker.paused")
    if await open_leads(session, broker_id) >= profile.capacity:
        raise Conflict(f"the broker already works {profile.capacity} open leads", code="broker.at_capacity")
    lead.claimed_by, lead.claimed_at, lead.updated_at = broker_id, now, now


async def claim(session: AsyncSession, principal: Principal, lead_id: uuid.UUID) -> None:
    """A broker takes an active lead to work it. Two brokers at once: the row lock makes one wait and
    then see the other's claim (409 `lead.already_claimed`)."""
    lead = await lock_lead(session, lead_id)
    if lead.status != LeadStatus.active:
        raise Conflict("only an active lead can be claimed", code="lead.not_active", field="status")
    if lead.claimed_by == principal.user_id:
        return
    if lead.claimed_by is not None:
        raise Conflict("another broker works this lead", code="lead.already_claimed")
    await _take(session, lead, principal.user_id, datetime.now(UTC))
    audit.record(session, principal, "lead.claimed", "lead", lead.id,
                 {"claimed_by": {"before": None, "after": str(principal.user_id)}})


async def release(session: AsyncSession, principal: Principal, lead_id: uuid.UUID) -> None:
    """The broker gives an open lead back to the pool (it is not offered automatically again)."""
    lead = await worked_lead(session, principal, lead_id)
    if lead.claimed_by is None:
        return
    if lead.stage not in OPEN_STAGES:
        raise Conflict("a won or lost lead stays with its broker", code="lead.closed", field="stage")
    before = lead.claimed_by
    lead.claimed_by, lead.claimed_at, lead.updated_at = None, None, datetime.now(UTC)
    audit.record(session, principal, "lead.released", "lead", lead.id,
                 {"claimed_by": {"before": str(before), "after": None}})


async def _assigned(session: AsyncSession, principal: Principal, lead: Lead, before: uuid.UUID | None) -> None:
    audit.record(session, principal, "lead.assigned", "lead", lead.id,
                 {"claimed_by": {"before": str(before) if before else None, "after": str(lead.claimed_by)}})
    outbox.emit(session, "lead.assigned", "lead", lead.id, {
        "lead_id": str(lead.id), "broker_id": str(lead.claimed_by), "organisation_ids": await parties(session, lead)})


async def reassign(session: AsyncSession, principal: Principal, lead_id: uuid.UUID, broker_id: uuid.UUID) -> None:
    """An operator hands an open lead to another broker (their capacity still counts)."""
    lead = await lock_lead(session, lead_id)
    if lead.stage not in OPEN_STAGES:
        raise Conflict("a won or lost lead stays with its broker", code="lead.closed", field="stage")
    if lead.claimed_by == broker_id:
        return
    before = lead.claimed_by
    await _take(session, lead, broker_id, datetime.now(UTC))
    await _assigned(session, principal, lead, before)


async def change_stage(session: AsyncSession, principal: Principal, lead_id: uuid.UUID, body: StageChange) -> None:
    lead = await worked_lead(session, principal, lead_id)
    if lead.claimed_by is None:
        raise Conflict("claim the lead before moving it", code="lead.not_claimed")
    before = LeadStage(lead.stage)
    lead.stage = next_stage(before, body.stage)
    now = datetime.now(UTC)
    lead.stage_changed_at = lead.updated_at = now
    session.add(LeadStageChange(lead_id=lead.id, from_stage=before, to_stage=lead.stage, at=now,
                                by=principal.user_id, reason=body.reason, note=body.note))
    audit.record(session, principal, "lead.stage_changed", "lead", lead.id, {
        "stage": {"before": before, "after": lead.stage}, **({"reason": {"before": None, "after": body.reason}}
                                                              if body.reason else {})})
    outbox.emit(session, "lead.stage_changed", "lead", lead.id, {
        "lead_id": str(lead.id), "from_stage": before.value, "to_stage": lead.stage,
        "reason": body.reason.value if body.reason else None, "organisation_ids": await parties(session, lead)})


async def stage_history(session: AsyncSession, principal: Principal, lead_id: uuid.UUID) -> list[LeadStageChange]:
    await get_lead(session, principal, lead_id)
    return list((await session.scalars(select(LeadStageChange).where(LeadStageChange.lead_id == lead_id)
                                       .order_by(LeadStageChange.id))).all())


async def pool(session: AsyncSession, principal: Principal, *, min_score: float | None, limit: int,
               after: list | None):
    """Active leads no broker works, best score first: what brokers browse and claim."""
    stmt = readable(principal).where(Lead.status == LeadStatus.active, Lead.claimed_by.is_(None),
                                     Lead.stage.in_(OPEN_STAGES))
    if min_score is not None:
        stmt = stmt.where(Lead.score >= min_score)
    if after:
        score, last_id = after
        stmt = stmt.where((Lead.score < score) | ((Lead.score == score) & (Lead.id > last_id)))
    return (await session.execute(stmt.order_by(Lead.score.desc(), Lead.id).limit(limit + 1))).all()


# --- routing (the worker) -------------------------------------------------------------------------------

async def route_pool(session: AsyncSession, min_score: float, now: datetime, limit: int = 100) -> int:
    """Offer unowned leads at or above `min_score`, best first, each once: to the active broker with the best
    specialty/region fit and spare capacity (ties: fewest open leads, then whoever was given a lead
    longest ago). A lead nobody fits stays in the pool. Returns how many were assigned."""
    rows = (await session.execute(
        select(Lead, Need.field, Need.region, Achievement.region)
        .join(Need, Need.id == Lead.need_id).join(Achievement, Achievement.id == Lead.achievement_id)
        .where(Lead.status == LeadStatus.active, Lead.claimed_by.is_(None), Lead.routed_at.is_(None),
               Lead.stage == LeadStage.new, Lead.score >= min_score)
        .order_by(Lead.score.desc(), Lead.id).limit(limit).with_for_update(of=Lead, skip_locked=True))).all()
    if not rows:
        return 0
    profiles = list((await session.scalars(select(BrokerProfile).where(
        BrokerProfile.status == BrokerStatus.active))).all())
    load = dict((await session.execute(select(Lead.claimed_by, func.count()).where(
        Lead.claimed_by.is_not(None), Lead.stage.in_(OPEN_STAGES), Lead.status == LeadStatus.active)
        .group_by(Lead.claimed_by))).all())
    last = dict((await session.execute(select(Lead.claimed_by, func.max(Lead.claimed_at)).where(
        Lead.claimed_by.is_not(None)).group_by(Lead.claimed_by))).all())
    assigned = 0
    for lead, field, need_region, achievement_region in rows:
        lead.routed_at = now
        regions = {r for r in (need_region, achievement_region) if r}
        ranked = sorted(
            ((fits(p, field, regions), p) for p in profiles if load.get(p.id, 0) < p.capacity),
            key=lambda fp: (-fp[0], load.get(fp[1].id, 0), last.get(fp[1].id) or datetime.min.replace(tzinfo=UTC),
                            fp[1].id))
        for fit, profile in ranked:
            if fit == 0:
                break
            try:
                async with session.begin_nested():
                    await _take(session, lead, profile.id, now)
            except Conflict:  # paused or full since we looked: the next best
                continue
            await _assigned(session, SYSTEM, lead, None)
            load[profile.id], last[profile.id] = load.get(profile.id, 0) + 1, now
            assigned += 1
            break
    return assigned


async def tick_lead_routing(ctx, now: datetime) -> None:
    """The routing sweep: catches every pool lead above the threshold, whatever created it."""
    async with ctx.sessions() as session, session.begin():
        await route_pool(session, ctx.settings.lead_routing_min_score, now)


async def handle_lead_routing(ctx, events) -> None:
    """After listings changed (their leads were recomputed), offer the new pool leads; idempotent, since
    a lead is offered once (`routed_at`)."""
    await tick_lead_routing(ctx, datetime.now(UTC))
