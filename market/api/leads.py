"""The lead pipeline: the pool, stages, release and reassignment, activities, consent, the introduction
ledger and ratings. Declared before the leads router so `/v1/leads/pool` is not read as a lead id."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, status

from market.api.deps import Pagination, Session
from market.auth import Authenticated, Broker, BrokerOrOperator, Operator
from schemas.brokers import (
    ActivityCreate,
    ActivityRead,
    ConsentGrant,
    ConsentRead,
    IntroductionCreate,
    IntroductionRead,
    LeadAssign,
    LeadTask,
    LedgerVerification,
    RatingCreate,
    RatingRead,
    StageChange,
    StageChangeRead,
)
from schemas.common import Page
from schemas.matching import LeadRead
from services import activities, introductions, leads, pipeline, ratings
from services.pagination import decode_cursor, page

router = APIRouter(prefix="/v1/leads", tags=["leads"])
LeadId = uuid.UUID


async def _lead(session, principal, lead_id: uuid.UUID) -> LeadRead:
    return leads.lead_read(principal, *await leads.get_lead(session, principal, lead_id))


@router.get("/pool", response_model=Page[LeadRead])
async def leads_pool(principal: BrokerOrOperator, session: Session, pagination: Pagination,
                     min_score: Annotated[float | None, Query(ge=0, le=1)] = None):
    """Active leads no broker works, best score first: browse and claim (`POST /v1/leads/{id}/claim`).
    Leads above the routing threshold are offered to the best-fitting broker by the worker first."""
    rows = await pipeline.pool(session, principal, min_score=min_score, limit=pagination.limit,
                               after=decode_cursor(pagination.cursor, (float, uuid.UUID)))
    rows, cursor = page(rows, pagination.limit, lambda r: [r[0].score, str(r[0].id)])
    return Page(items=[leads.lead_read(principal, *row) for row in rows], next_cursor=cursor)


@router.get("/follow-ups", response_model=list[LeadTask])
async def leads_follow_ups(principal: Broker, session: Session, limit: Annotated[int, Query(ge=1, le=100)] = 50):
    """Your open leads whose latest activity asked for a follow-up that is now overdue, oldest first."""
    rows = await activities.overdue(session, principal, datetime.now(UTC).date(), limit)
    return [LeadTask(lead=leads.lead_read(principal, *row[:6]), follow_up_on=row[6]) for row in rows]


@router.get("/idle", response_model=list[LeadTask])
async def leads_idle(principal: Broker, session: Session, days: Annotated[int, Query(ge=1, le=365)] = 14,
                     limit: Annotated[int, Query(ge=1, le=100)] = 50):
    """Your open leads with no activity for `days` days (counted from the claim when there is none)."""
    rows = await activities.idle(session, principal, days, datetime.now(UTC), limit)
    return [LeadTask(lead=leads.lead_read(principal, *row[:6]), last_activity_at=row[6]) for row in rows]


@router.post("/{lead_id}/release", response_model=LeadRead)
async def leads_release(lead_id: LeadId, principal: BrokerOrOperator, session: Session):
    """Give an open lead back to the pool (its broker, or an operator)."""
    await pipeline.release(session, principal, lead_id)
    return await _lead(session, principal, lead_id)


@router.post("/{lead_id}/assign", response_model=LeadRead)
async def leads_assign(lead_id: LeadId, body: LeadAssign, principal: Operator, session: Session):
    """Hand an open lead to a broker (operators); the broker's capacity and pause state still count."""
    await pipeline.reassign(session, principal, lead_id, body.broker_id)
    return await _lead(session, principal, lead_id)


@router.post("/{lead_id}/stage", response_model=LeadRead)
async def leads_change_stage(lead_id: LeadId, body: StageChange, principal: BrokerOrOperator, session: Session):
    """Move the lead along `new → contacted → introduced → negotiating → won | lost` (its broker, or an
    operator). Another move is a 409 `lead.illegal_transition`; `lost` needs a `reason`."""
    await pipeline.change_stage(session, principal, lead_id, body)
    return await _lead(session, principal, lead_id)


@router.get("/{lead_id}/stages", response_model=list[StageChangeRead])
async def leads_stages(lead_id: LeadId, principal: Authenticated, session: Session):
    """The lead's stage history, oldest first."""
    return [StageChangeRead.model_validate(c, from_attributes=True)
            for c in await pipeline.stage_history(session, principal, lead_id)]


@router.post("/{lead_id}/activities", response_model=ActivityRead, status_code=status.HTTP_201_CREATED)
async def leads_activities_create(lead_id: LeadId, body: ActivityCreate, principal: BrokerOrOperator,
                                  session: Session):
    """Record a note, call, meeting, site visit or introduction, with an optional follow-up date."""
    return ActivityRead.model_validate(await activities.add(session, principal, lead_id, body), from_attributes=True)


@router.get("/{lead_id}/activities", response_model=list[ActivityRead])
async def leads_activities_list(lead_id: LeadId, principal: BrokerOrOperator, session: Session):
    """The lead's activities, newest first (your own; operators see all)."""
    return [ActivityRead.model_validate(a, from_attributes=True)
            for a in await activities.list_for_lead(session, principal, lead_id)]


@router.post("/{lead_id}/consent-request", response_model=ConsentRead, status_code=status.HTTP_201_CREATED)
async def leads_consent_request(lead_id: LeadId, principal: Broker, session: Session):
    """Ask the confidential firm behind the need to be named on this lead (the broker working it)."""
    consent = await introductions.request_consent(session, principal, lead_id)
    return ConsentRead.model_validate(consent, from_attributes=True)


@router.post("/{lead_id}/consent", response_model=ConsentRead)
async def leads_consent_grant(lead_id: LeadId, body: ConsentGrant, principal: Authenticated, session: Session):
    """The firm grants a broker's request: from now on that broker, and after the introduction the
    achievement's owner, see the firm. Recorded in the introduction ledger (who, when, how)."""
    consent = await introductions.grant_consent(session, principal, lead_id, body)
    return ConsentRead.model_validate(consent, from_attributes=True)


@router.get("/{lead_id}/introductions", response_model=list[IntroductionRead])
async def leads_introductions_list(lead_id: LeadId, principal: Authenticated, session: Session):
    """The lead's introduction ledger, for both parties, the broker and operators. Entries are never
    changed or deleted; each carries the hash of the previous one."""
    return await introductions.ledger(session, principal, lead_id)


@router.post("/{lead_id}/introductions", response_model=IntroductionRead, status_code=status.HTTP_201_CREATED)
async def leads_introductions_create(lead_id: LeadId, body: IntroductionCreate, principal: Broker, session: Session):
    """Record that you introduced the need's owner to the achievement's owner (or, with `corrects`, a
    correction of an entry). The firm's consent, if granted, is part of the entry."""
    entry = await introductions.record(session, principal, lead_id, body)
    return next(e for e in await introductions.ledger(session, principal, lead_id) if e.seq == entry.seq)


@router.get("/{lead_id}/introductions/verify", response_model=LedgerVerification)
async def leads_introductions_verify(lead_id: LeadId, principal: Authenticated, session: Session):
    """Recompute the ledger's hash chain; `broken_at` names the first entry that was tampered with."""
    return await introductions.verify(session, principal, lead_id)


@router.post("/{lead_id}/ratings", response_model=RatingRead, status_code=status.HTTP_201_CREATED)
async def leads_rate(lead_id: LeadId, body: RatingCreate, principal: Authenticated, session: Session):
    """Rate the broker of a won lead (each party once): responsiveness, expertise, integrity 1–5."""
    return RatingRead.model_validate(await ratings.rate(session, principal, lead_id, body), from_attributes=True)
