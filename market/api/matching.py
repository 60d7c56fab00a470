"""Live matches of one listing, and the persisted leads."""

import uuid
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request, Response, status

from market.api.deps import AppSettings, Pagination, Search, Session
from market.auth import Anyone, Authenticated, Broker, BrokerOrOperator, Operator
from schemas.common import Page
from schemas.enums import LeadSource, LeadStatus, LeadView, ListKind
from schemas.matching import LeadCreate, LeadRead, MatchPage
from schemas.outcomes import LeadDismiss, MatchingQuality
from services import leads, pipeline
from services.matching import outcomes
from services.matching.engine import live_matches
from services.pagination import bigint, decode_cursor, finite, page

router = APIRouter(tags=["matching"])
Limit = Annotated[int, Query(ge=1, le=100, description="How many matches (default: the configured K)")]


def _page(page: dict) -> Response:
    # Encoded as it is (services.matching.engine.live_matches builds it as MatchPage would serialise);
    # `response_model` documents it.
    return Response(orjson.dumps(page), media_type="application/json")


@router.get("/v1/needs/{need_id}/matches", response_model=MatchPage)
async def needs_matches(need_id: uuid.UUID, session: Session, search: Search, settings: AppSettings,
                        principal: Anyone, limit: Limit = None):
    """The achievements that best fit this need, live, with a score in [0, 1] and the reasons.
    Works on the owner's unpublished drafts too, to preview before publishing."""
    return _page(await live_matches(session, search, settings, principal, ListKind.needs, need_id, limit))


@router.get("/v1/achievements/{achievement_id}/matches", response_model=MatchPage)
async def achievements_matches(achievement_id: uuid.UUID, session: Session, search: Search, settings: AppSettings,
                               principal: Anyone, limit: Limit = None):
    """The needs this achievement best fits, live, with a score and the reasons."""
    return _page(await live_matches(session, search, settings, principal, ListKind.achievements, achievement_id,
                                    limit))


@router.get("/v1/matching/quality", response_model=MatchingQuality)
async def matching_quality(principal: Operator, session: Session):
    """How good matching is (operators): the engine version, the labelled-set figures it was released
    with (recall@10, MRR, nDCG@10 on the word-sharing and the symptom-only needs), and the live
    outcomes of leads (won / lost / dismissed) per score band, so quality can be seen moving."""
    return await outcomes.quality(session)


leads_router = APIRouter(prefix="/v1/leads", tags=["leads"])


@leads_router.get("", response_model=Page[LeadRead])
async def leads_list(
    principal: Authenticated, session: Session, pagination: Pagination,
    need_id: uuid.UUID | None = None, achievement_id: uuid.UUID | None = None,
    status_: Annotated[LeadStatus | None, Query(alias="status")] = LeadStatus.active,
    source: LeadSource | None = None,
    min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    view: Annotated[LeadView | None, Query(
        description="`need`: the need's own top K (its live matches, persisted) in `need_rank` order; "
                    "`achievement`: the achievement's own top K in `achievement_rank` order")] = None,
):
    """Leads: brokers and operators see all, an organisation those of its listings.

    Without `view`, best score first: a need's leads then also include pairs that exist only because
    the achievement ranked the need in its own top K (and manual leads). With `view=need` (and
    `need_id`) the answer is the need's own top K in rank order, as `GET /v1/needs/{id}/matches`
    ranks them; `view=achievement` (and `achievement_id`) likewise for an achievement."""
    side = {LeadView.need: ListKind.needs, LeadView.achievement: ListKind.achievements}.get(view)
    key = (lambda r: [r[0].need_rank, str(r[0].id)]) if side == ListKind.needs else (
        (lambda r: [r[0].achievement_rank, str(r[0].id)]) if side else (lambda r: [r[0].score, str(r[0].id)]))
    rows = await leads.list_leads(session, principal, need_id=need_id, achievement_id=achievement_id,
                                  status=status_, source=source, min_score=min_score, limit=pagination.limit,
                                  after=decode_cursor(pagination.cursor, (bigint if side else finite, uuid.UUID)),
                                  view=side)
    rows, cursor = page(rows, pagination.limit, key)
    return Page(items=[leads.read(session, principal, row) for row in rows], next_cursor=cursor)


@leads_router.get("/{lead_id}", response_model=LeadRead)
async def leads_get(lead_id: uuid.UUID, principal: Authenticated, session: Session):
    """One lead with its score and reasons."""
    return leads.read(session, principal, await leads.get_lead(session, principal, lead_id))


@leads_router.post("", response_model=LeadRead, status_code=status.HTTP_201_CREATED)
async def leads_create(body: LeadCreate, request: Request, principal: BrokerOrOperator, session: Session):
    """Add a lead by hand (brokers); the engine scores it and gives its reasons all the same."""
    lead = await leads.add_manual(session, request.app.state.ctx, principal, body.need_id, body.achievement_id)
    return leads.read(session, principal, await leads.get_lead(session, principal, lead.id))


@leads_router.post("/{lead_id}/claim", response_model=LeadRead)
async def leads_claim(lead_id: uuid.UUID, principal: Broker, session: Session):
    """Take an active lead to work it (brokers with an active profile and spare capacity). Another
    broker's claim is a 409 `lead.already_claimed`. A confidential firm stays 某企业 until it consents
    (`POST /v1/leads/{id}/consent-request`)."""
    await pipeline.claim(session, principal, lead_id)
    return leads.read(session, principal, await leads.get_lead(session, principal, lead_id))


@leads_router.post("/{lead_id}/dismiss", response_model=LeadRead)
async def leads_dismiss(lead_id: uuid.UUID, body: LeadDismiss, principal: Authenticated, session: Session):
    """A party of the lead (the firm of the need, or the achievement's owner) says the pair is not
    relevant, and why. The pair keeps its row with a lowered score and the reason in its reasons, and
    the engine learns from it (`GET /v1/matching/quality`)."""
    await outcomes.dismiss(session, principal, lead_id, body.reason)
    return leads.read(session, principal, await leads.get_lead(session, principal, lead_id))
