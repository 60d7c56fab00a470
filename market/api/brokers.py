"""Broker profiles (技术经纪人): public read of active profiles, managed by their agency and operators."""

import uuid

from fastapi import APIRouter, status

from market.api.deps import Pagination, Session
from market.auth import Anyone, Authenticated, OrgManager
from schemas.brokers import BrokerCreate, BrokerRead, BrokerUpdate
from schemas.common import Page
from services import brokers
from services.pagination import decode_cursor, page

router = APIRouter(prefix="/v1/brokers", tags=["brokers"])


@router.get("", response_model=Page[BrokerRead])
async def brokers_list(principal: Anyone, session: Session, pagination: Pagination, specialty: str | None = None,
                       region: str | None = None):
    """Active broker profiles with their figures (open leads, won / lost in 12 months, median days from
    claim to won, the parties' ratings); filter by a specialty (field code) or a region served. Contact
    data only for signed-in callers; an agency's admin also sees its paused brokers."""
    after = decode_cursor(pagination.cursor, (uuid.UUID,))
    rows = await brokers.list_profiles(session, principal, specialty=specialty, region=region,
                                       limit=pagination.limit, after=after[0] if after else None)
    rows, cursor = page(rows, pagination.limit, lambda r: [str(r[0].id)])
    return Page(items=[await brokers.read(session, principal, row) for row in rows], next_cursor=cursor)


@router.get("/{broker_id}", response_model=BrokerRead)
async def brokers_get(broker_id: uuid.UUID, principal: Anyone, session: Session):
    """One broker's profile and figures."""
    return await brokers.read(session, principal, await brokers.get_row(session, principal, broker_id))


@router.post("", response_model=BrokerRead, status_code=status.HTTP_201_CREATED)
async def brokers_create(body: BrokerCreate, principal: OrgManager, session: Session):
    """Create the profile of a user with the broker role (the agency's admin, or an operator)."""
    profile = await brokers.create(session, principal, body)
    return await brokers.read(session, principal, await brokers.get_row(session, principal, profile.id))


@router.patch("/{broker_id}", response_model=BrokerRead)
async def brokers_update(broker_id: uuid.UUID, body: BrokerUpdate, principal: Authenticated, session: Session):
    """Change a profile: the agency's admin and operators change anything, the broker only `bio` and
    `status` (pause / resume taking leads)."""
    await brokers.update(session, principal, broker_id, body)
    return await brokers.read(session, principal, await brokers.get_row(session, principal, broker_id))
