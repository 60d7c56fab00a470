"""Has the worker caught up? The outbox backlog (operators) and each listing's sync status."""

import uuid

from fastapi import APIRouter

from market.api.deps import Session
from market.auth import Anyone, Operator
from schemas.ops import Backlog, SyncStatus
from services import backlog, listings

router = APIRouter(tags=["ops"])


@router.get("/v1/ops/backlog", response_model=Backlog)
async def ops_backlog(principal: Operator, session: Session):
    """Outbox events not yet processed by the workers, per aggregate type and topic: how many, how many
    failed and wait for a retry, and how long the oldest has waited (operators)."""
    return await backlog.backlog(session)


@router.get("/v1/achievements/{achievement_id}/sync-status", response_model=SyncStatus, tags=["achievements"])
async def achievements_sync_status(achievement_id: uuid.UUID, principal: Anyone, session: Session):
    """Whether search and the leads reflect this achievement's last change yet (whoever may read it)."""
    return await backlog.sync_status(session, principal, listings.ACHIEVEMENTS, achievement_id)


@router.get("/v1/needs/{need_id}/sync-status", response_model=SyncStatus, tags=["needs"])
async def needs_sync_status(need_id: uuid.UUID, principal: Anyone, session: Session):
    """Whether search and the leads reflect this need's last change yet (whoever may read it)."""
    return await backlog.sync_status(session, principal, listings.NEEDS, need_id)
