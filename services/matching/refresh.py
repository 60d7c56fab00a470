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
from schemas.tables import Lead, OutboxEvent
from services import kinds
from services.matching import ENGINE_VERSION
from services.matching.engine import Match, counterpart
from services.matching.outcomes import apply_dismissals, dismissed
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


async def store(session: AsyncSession, kind: ListKind, found: dict[uuid.UUID, list[Match]]) -> None:
    """The matches of these listings (each list best first) become their leads: a few statements for
    the whole set, whatever its size."""
    own, other, rank = _columns(kind)
    now = datetime.now(UTC)
    # The index may lag PostgreSQL by a moment: lead only to counterparts that are published now.
    table = kinds.TABLES[counterpart(kind)]
    published = set((await session.scalars(select(table.id).where(
        table.id.in_({m.id for matches in found.values() for m in matches}),
        table.status == ListingStatus.published))).all())
    ids = list(found)
    # Every rank of these listings is cleared, then the upsert sets the kept pairs' ranks again.
    await session.execute(update(Lead).where(own.in_(ids), Lead.__table__.c[rank].is_not(None)).values({rank: None}))
    rows = [{
        "id": uuid.uuid4(), own.key: listing_id, other.key: match.id, "source": LeadSource.engine,
        "created_at": now, "score": match.score, "reasons": match.reasons, rank: position,
        "status": LeadStatus.active, "engine_version": ENGINE_VERSION, "computed_at": now, "updated_at": now,
    } for listing_id, matches in found.items()
        for position, match in enumerate((m for m in matches if m.id in published), 1)]
    if rows:
        # Parameters as a list (executemany), not inlined VALUES: the statement is compiled once per list
        # and cached, where a VALUES list of K rows was compiled again on every refresh.
        await session.execute(UPSERT[kind], rows)
    await session.execute(
        update(Lead).where(own.in_(ids), Lead.need_rank.is_(None), Lead.achievement_rank.is_(None),
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


async def _lock_leads(session: AsyncSession, kind: ListKind, ids: list[uuid.UUID]) -> None:
    """The fixed lock order of a lead write: the listings in id order (one writer per listing at a time),
    then their lead rows by listing and counterpart id. Two transactions for different listings of one
    list share at most one lead row per pair of listings, taken in the same order, so they cannot wait
    on each other in a cycle."""
    own, other, _ = _columns(kind)
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(key)) FROM "
                               "(SELECT unnest(CAST(:keys AS text[])) AS key ORDER BY 1) AS listing"),
                          {"keys": sorted(f"{kind.value}:{i}" for i in ids)})
    await session.execute(select(Lead.id).where(own.in_(ids)).order_by(own, other).with_for_update())


async def write(session: AsyncSession, kind: ListKind, found: dict[uuid.UUID, list[Match] | None]) -> set[uuid.UUID]:
    """Store these listings' matches (None: not published) in the caller's transaction, under the lock
    order of `_lock_leads`. Returns the counterparts whose lists may change: the new matches, and the
    ones they had before (their ranks of these pairs are now stale)."""
    table = kinds.TABLES[kind]
    ids = sorted(found)
    await _lock_leads(session, kind, ids)
    # Re-read: an owner may have archived one while we asked Meilisearch (their event comes after ours).
    statuses = dict((await session.execute(select(table.id, table.status).where(table.id.in_(ids)))).all())
    live = {i: found[i] for i in ids if found[i] is not None and statuses.get(i) == ListingStatus.published}
    touched: set[uuid.UUID] = set()
    for listing_id in ids:
        if listing_id not in live:
            touched |= await retire(session, kind, listing_id)
    if live:
        own, other, _ = _columns(kind)
        touched |= set((await session.scalars(
            select(other).where(own.in_(list(live)), Lead.status == LeadStatus.active))).all())
        for listing_id in await dismissed(session, kind, list(live)):
            live[listing_id] = await apply_dismissals(session, kind, listing_id, live[listing_id])
        await store(session, kind, live)
        touched |= {m.id for matches in live.values() for m in matches}
    return touched


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
