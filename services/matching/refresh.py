"""Persisted leads: one row per (need, achievement), refreshed when either side changes.

A lead is active while it is in the top K of its need or of its achievement (or was added by a
broker) and both listings are published; otherwise it is retired, never deleted or duplicated.
"""

import uuid
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.enums import LeadSource, LeadStatus, ListingStatus, ListKind
from schemas.tables import LISTING_TABLES, Lead
from services.matching import ENGINE_VERSION
from services.matching.engine import Match, counterpart, match_listing


def _columns(kind: ListKind):
    """(this side's id column, the other side's id column, this side's rank column)."""
    if kind == ListKind.needs:
        return Lead.need_id, Lead.achievement_id, "need_rank"
    return Lead.achievement_id, Lead.need_id, "achievement_rank"


async def store(session: AsyncSession, kind: ListKind, listing_id: uuid.UUID, matches: list[Match]) -> None:
    own, other, rank = _columns(kind)
    now = datetime.now(UTC)
    # The index may lag PostgreSQL by a moment: lead only to counterparts that are published now.
    table = LISTING_TABLES[counterpart(kind)]
    published = set((await session.scalars(select(table.id).where(
        table.id.in_([m.id for m in matches]), table.status == ListingStatus.published))).all())
    matches = [m for m in matches if m.id in published]
    keep = [m.id for m in matches]
    await session.execute(update(Lead).where(own == listing_id, other.not_in(keep)).values({rank: None}))
    if matches:  # one statement for the whole list: a refresh is one round trip, not K
        rows = [{
            "id": uuid.uuid4(), "need_id": listing_id if kind == ListKind.needs else match.id,
            "achievement_id": match.id if kind == ListKind.needs else listing_id, "source": LeadSource.engine,
            "created_at": now, "score": match.score, "reasons": match.reasons, rank: position,
            "status": LeadStatus.active, "engine_version": ENGINE_VERSION, "computed_at": now, "updated_at": now,
        } for position, match in enumerate(matches, 1)]
        statement = insert(Lead).values(rows)
        # A pair scores a little differently from each side (each side's own terms are the query). The
        # need's view is the lead's score: the achievement side sets it only for a pair it creates.
        updated = (rank, "status", "updated_at") if kind == ListKind.achievements else (
            "score", "reasons", rank, "status", "engine_version", "computed_at", "updated_at")
        await session.execute(statement.on_conflict_do_update(constraint="uq_lead_pair", set_={
            name: statement.excluded[name] for name in updated}))
    await session.execute(
        update(Lead).where(own == listing_id, Lead.need_rank.is_(None), Lead.achievement_rank.is_(None),
                           Lead.source == LeadSource.engine, Lead.status == LeadStatus.active,
                           Lead.claimed_by.is_(None))  # a lead a broker works stays while both sides are listed
        .values(status=LeadStatus.retired, updated_at=now)
    )


async def retire(session: AsyncSession, kind: ListKind, listing_id: uuid.UUID) -> set[uuid.UUID]:
    """The listing left the list: all its leads leave the active set. Returns the counterparts touched."""
    own, other, _ = _columns(kind)
    touched = set((await session.scalars(
        select(other).where(own == listing_id, Lead.status == LeadStatus.active))).all())
    await session.execute(
        update(Lead).where(own == listing_id)
        .values(status=LeadStatus.retired, need_rank=None, achievement_rank=None, updated_at=datetime.now(UTC))
    )
    return touched


async def refresh_listing(ctx, session: AsyncSession, kind: ListKind, listing_id: uuid.UUID) -> set[uuid.UUID]:
    """Recompute one listing's matches and store them; returns the counterparts whose lists may change:
    the new matches, and the ones it had before (their ranks of this pair are now stale)."""
    row = await session.get(LISTING_TABLES[kind], listing_id, populate_existing=True)
    if row is None or row.status != ListingStatus.published:
        return await retire(session, kind, listing_id)
    own, other, _ = _columns(kind)
    before = set((await session.scalars(
        select(other).where(own == listing_id, Lead.status == LeadStatus.active))).all())
    matches = await match_listing(ctx.search, ctx.settings, kind, row, ctx.settings.match_top_k)
    await store(session, kind, listing_id, matches)
    return before | {m.id for m in matches}


async def refresh_for_listings(ctx, session: AsyncSession, changed: dict[ListKind, set[uuid.UUID]]) -> None:
    """After listings changed: their own leads, then the lists of the counterparts they now rank in."""
    affected: dict[ListKind, set[uuid.UUID]] = {kind: set() for kind in ListKind}
    for kind, ids in changed.items():
        for listing_id in sorted(ids):
            affected[counterpart(kind)] |= await refresh_listing(ctx, session, kind, listing_id)
    for kind, ids in affected.items():
        for listing_id in sorted(ids - changed.get(kind, set())):
            await refresh_listing(ctx, session, kind, listing_id)
