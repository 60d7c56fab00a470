"""Activities on a lead (notes, calls, meetings, site visits, introductions) and the broker's to-do lists
built from them: overdue follow-ups, and open leads nobody has touched for N days."""

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.brokers import ActivityCreate, LeadActivity
from schemas.enums import LeadStatus
from schemas.tables import Lead
from services import audit
from services.brokers import OPEN_STAGES
from services.leads import get_lead, readable
from services.pipeline import worked_lead
from services.principal import Principal


async def add(session: AsyncSession, principal: Principal, lead_id: uuid.UUID, body: ActivityCreate) -> LeadActivity:
    """The broker working the lead (or an operator) records what happened; a retired lead keeps its history."""
    lead = await worked_lead(session, principal, lead_id)
    activity = LeadActivity(lead_id=lead.id, kind=body.kind, at=body.at or datetime.now(UTC),
                            author_id=principal.user_id, text=body.text, follow_up_on=body.follow_up_on)
    session.add(activity)
    await session.flush()
    audit.record(session, principal, "lead_activity.created", "lead", lead.id,
                 {"activity": {"before": None, "after": {"id": activity.id, "kind": activity.kind}}})
    return activity


async def list_for_lead(session: AsyncSession, principal: Principal, lead_id: uuid.UUID) -> list[LeadActivity]:
    """Only those who work leads read their notes: the broker working it (or who did), and operators."""
    await get_lead(session, principal, lead_id)
    stmt = select(LeadActivity).where(LeadActivity.lead_id == lead_id)
    if not principal.is_operator:
        stmt = stmt.where(LeadActivity.author_id == principal.user_id)
    return list((await session.scalars(stmt.order_by(LeadActivity.at.desc(), LeadActivity.id))).all())


def _latest():
    """Each lead's latest activity (by when it happened)."""
    return (select(LeadActivity.lead_id, LeadActivity.at, LeadActivity.follow_up_on)
            .ext(distinct_on(LeadActivity.lead_id)).order_by(LeadActivity.lead_id, LeadActivity.at.desc(),
                                                     LeadActivity.created_at.desc()).subquery())


def _mine(principal: Principal):
    return readable(principal).where(Lead.claimed_by == principal.user_id, Lead.stage.in_(OPEN_STAGES),
                                     Lead.status == LeadStatus.active)


async def overdue(session: AsyncSession, principal: Principal, today: date, limit: int):
    """The broker's open leads whose latest activity asked for a follow-up before `today`."""
    latest = _latest()
    stmt = (_mine(principal).join(latest, latest.c.lead_id == Lead.id)
            .where(latest.c.follow_up_on < today).add_columns(latest.c.follow_up_on)
            .order_by(latest.c.follow_up_on, Lead.id).limit(limit))
    return (await session.execute(stmt)).all()


async def idle(session: AsyncSession, principal: Principal, days: int, now: datetime, limit: int):
    """The broker's open leads with no activity for `days` days (counted from the claim when there is none)."""
    latest = _latest()
    last = func.coalesce(latest.c.at, Lead.claimed_at)
    stmt = (_mine(principal).outerjoin(latest, latest.c.lead_id == Lead.id)
            .where(last < now - timedelta(days=days)).add_columns(last).order_by(last, Lead.id).limit(limit))
    return (await session.execute(stmt)).all()
