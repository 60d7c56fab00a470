"""Persisted leads: one row per (need, achievement), refreshed when either side changes.

A lead is active while it is in the top K of its need or of its achievement (or was added by a
broker) and both listings are published; otherwise it is retired, never deleted or duplicated.
A change of one listing refreshes its own leads, then asks (through the outbox) for each counterpart
it touched to be refreshed in turn: each in its own short transaction, never across a Meilisearch call.
"""

import uuid
from datetime import UTC, datetime

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.enums import LeadSource, LeadStatus, ListingStatus, ListKind
from schemas.tables import LISTING_TABLES, Lead, OutboxEvent
from services import kinds
from services.matching import ENGINE_VERSION
from services.matching.engine import Match, counterpart
from services.matching.outcomes import apply_dismissals
from services.search.sync import OUTBOX_KINDS


def _columns(kind: ListKind):
    """(this side's id column, the other side's id column, this side's rank column)."""
    about = kinds.of(kind)
    return getattr(Lead, about.lead_column), getattr(Lead, about.other().lead_column), about.rank_column


def _upsert(kind: ListKind):
    _, _, rank = _columns(kind)
    statement = insert(Lead)
    # A pair scores a little differently from each side (each side's own terms are the query). The
    # need's view is the lead's score: the achievement side sets it only for a pair it creates.
    updated = (rank, "status", "updated_at") if kind == ListKind.achievements else (
        "score", "reasons", rank, "status", "engine_version", "computed_at", "updated_at")
    return statement.on_conflict_do_update(constraint="uq_lead_pair", set_={
        name: statement.excluded[name] for name in updated})


UPSERT = {kind: _upsert(kind) for kind in ListKind}


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
            "id": uuid.uuid4(), own.key: listing_id, other.key: match.id, "source": LeadSource.engine,
            "created_at": now, "score": match.score, "reasons": match.reasons, rank: position,
            "status": LeadStatus.active, "engine_version": ENGINE_VERSION, "computed_at": now, "updated_at": now,
        } for position, match in enumerate(matches, 1)]
        # Parameters as a list (executemany), not inlined VALUES: the statement is compiled once per list
        # and cached, where a VALUES list of K rows was compiled again on every refresh.
        await session.execute(UPSERT[kind], rows)
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


async def _lock_leads(session: AsyncSession, kind: ListKind, listing_id: uuid.UUID) -> None:
    """The fixed lock order of a lead write: the listing (one writer per listing at a time), then its lead
    rows by counterpart id. Two transactions for different listings share at most one lead row (the
    pair of a need and an achievement), so they cannot wait on each other in a cycle."""
    own, other, _ = _columns(kind)
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"{kind.value}:{listing_id}"})
    await session.execute(select(Lead.id).where(own == listing_id).order_by(other).with_for_update())


async def write(session: AsyncSession, kind: ListKind, listing_id: uuid.UUID, matches: list[Match] | None
                ) -> set[uuid.UUID]:
    """Store one listing's matches (None: it is not published) in the caller's transaction, under the
    lock order of `_lock_leads`. Returns the counterparts whose lists may change: the new matches, and
    the ones it had before (their ranks of this pair are now stale)."""
    table = LISTING_TABLES[kind]
    await _lock_leads(session, kind, listing_id)
    # Re-read: an owner may have archived it while we asked Meilisearch (their event comes after ours).
    status = await session.scalar(select(table.status).where(table.id == listing_id))
    if matches is None or status != ListingStatus.published:
        return await retire(session, kind, listing_id)
    own, other, _ = _columns(kind)
    before = set((await session.scalars(
        select(other).where(own == listing_id, Lead.status == LeadStatus.active))).all())
    matches = await apply_dismissals(session, kind, listing_id, matches)
    await store(session, kind, listing_id, matches)
    return before | {m.id for m in matches}


REFRESH_TOPIC = {ListKind.needs: "need.refresh_requested", ListKind.achievements: "achievement.refresh_requested"}
AGGREGATE = {kind: noun for noun, kind in OUTBOX_KINDS.items()}
# Matches the partial unique index of migration 0005: one pending, unclaimed request per listing.
_REFRESH_PENDING = text("processed_at IS NULL AND claimed_until IS NULL AND attempts = 0 "
                        "AND topic LIKE '%.refresh_requested'")


async def request_refresh(session: AsyncSession, kind: ListKind, ids: set[uuid.UUID]) -> None:
    """Outbox events asking for these listings' leads to be recomputed; a request already waiting absorbs
    a new one (a burst of edits on one side refreshes each counterpart once)."""
    if not ids:
        return
    statement = insert(OutboxEvent).values([
        {"topic": REFRESH_TOPIC[kind], "aggregate_type": AGGREGATE[kind], "aggregate_id": str(i), "payload": {}}
        for i in sorted(ids)])
    await session.execute(statement.on_conflict_do_nothing(
        index_elements=["topic", "aggregate_type", "aggregate_id"], index_where=_REFRESH_PENDING))
