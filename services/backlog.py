"""How far the workers lag: the outbox backlog per aggregate type (and topic), and one listing's sync."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.ops import Backlog, BacklogEntry, SyncStatus
from schemas.tables import OutboxEvent
from services import listings
from services.errors import NotFound
from services.principal import Principal

REFRESH_SUFFIX = ".refresh_requested"  # leads only: the listing itself did not change


async def backlog(session: AsyncSession, by_topic: bool = True) -> Backlog:
    """Pending events grouped by aggregate type (and topic), the longest wait first."""
    age = func.extract("epoch", func.now() - func.min(OutboxEvent.created_at))
    keys = [OutboxEvent.aggregate_type, *([OutboxEvent.topic] if by_topic else [])]
    rows = (await session.execute(
        select(*keys, func.count(), func.count().filter(OutboxEvent.attempts > 0), age)
        .where(OutboxEvent.processed_at.is_(None)).group_by(*keys).order_by(age.desc())
    )).all()
    entries = [BacklogEntry(aggregate_type=row[0], topic=row[1] if by_topic else None, pending=row[-3],
                            failing=row[-2], oldest_age_seconds=round(float(row[-1]), 3)) for row in rows]
    return Backlog(pending=sum(e.pending for e in entries),
                   oldest_age_seconds=max((e.oldest_age_seconds for e in entries), default=0.0), entries=entries)


async def sync_status(session: AsyncSession, principal: Principal, spec: listings.ListingSpec,
                      listing_id: uuid.UUID) -> SyncStatus:
    """A listing the caller may read: its pending events, and when the last one was processed."""
    if (await session.execute(listings.readable(spec, principal).where(spec.table.id == listing_id))).first() is None:
        raise NotFound(f"{spec.noun} {listing_id} not found", code=f"{spec.noun}.not_found")
    mine = (OutboxEvent.aggregate_type == spec.noun) & (OutboxEvent.aggregate_id == str(listing_id))
    pending = (await session.execute(
        select(OutboxEvent.topic, OutboxEvent.created_at).where(mine, OutboxEvent.processed_at.is_(None))
    )).all()
    last = await session.scalar(select(func.max(OutboxEvent.processed_at)).where(mine))
    index_current = not any(not topic.endswith(REFRESH_SUFFIX) for topic, _ in pending)
    return SyncStatus(listing_id=listing_id, current=not pending, index_current=index_current,
                      leads_current=not pending, pending_events=len(pending),
                      oldest_pending_at=min((at for _, at in pending), default=None), last_processed_at=last)
