"""Keeping Meilisearch in step with PostgreSQL: per-listing sync (from the outbox) and full rebuilds."""

import logging
import uuid
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.enums import ListingStatus, ListKind
from schemas.tables import LISTING_TABLES, Organisation, OutboxEvent
from services import kinds
from services.progress import SILENT, Progress
from services.search.client import SearchError
from services.search.documents import achievement_document, attach_vectors, need_document
from services.search.indexes import SearchIndexes

log = logging.getLogger(__name__)
DOCUMENTS = {ListKind.achievements: achievement_document, ListKind.needs: need_document}
REBUILD_SUFFIX = "_rebuild"
OUTBOX_KINDS = {noun: about.kind for noun, about in kinds.BY_NOUN.items()}  # aggregate_type -> list


async def listing_documents(session: AsyncSession, search: SearchIndexes, kind: ListKind,
                            ids: set[uuid.UUID]) -> tuple[list[dict], set[uuid.UUID]]:
    """(documents of the published listings, ids to remove: every other one, or a deleted one)."""
    table = LISTING_TABLES[kind]
    rows = (await session.execute(
        select(table, Organisation.name).join(Organisation, Organisation.id == table.organisation_id)
        .where(table.id.in_(ids))
    )).all()
    documents = [DOCUMENTS[kind](row, name, search.owner_key(row.organisation_id))
                 for row, name in rows if row.status == ListingStatus.published]
    await attach_vectors([row for row, _ in rows], documents)
    return documents, ids - {uuid.UUID(d["id"]) for d in documents}


async def apply_documents(search: SearchIndexes, kind: ListKind, documents: list[dict], gone: set[uuid.UUID],
                          suffix: str = "") -> None:
    """Upsert and remove in Meilisearch, and wait until both are applied."""
    tasks = []
    if documents:
        tasks.append(await search.upsert(kind, documents, suffix))
    if gone:
        tasks.append((await search.client.delete_documents(search.uid(kind, suffix), [str(i) for i in gone]))
                     ["taskUid"])
    for task in tasks:
        await search.client.wait_task(task, timeout=120)


async def sync_listings(session: AsyncSession, search: SearchIndexes, kind: ListKind, ids: Iterable[uuid.UUID],
                        suffix: str = "") -> None:
    """Published listings are upserted, every other one (or a deleted one) removed; waits for Meilisearch."""
    ids = set(ids)
    if ids:
        await apply_documents(search, kind, *await listing_documents(session, search, kind, ids), suffix)


async def index_listings(ctx, kind: ListKind, ids: Iterable[uuid.UUID]) -> None:
    """The worker's sync: the rows are read and the connection given back before Meilisearch is called,
    so no transaction (and no pooled connection) waits on Meilisearch."""
    ids = set(ids)
    if not ids:
        return
    async with ctx.sessions() as session:
        documents, gone = await listing_documents(session, ctx.search, kind, ids)
    await apply_documents(ctx.search, kind, documents, gone)


async def rebuild(ctx, progress: Progress = SILENT) -> dict[str, int]:
    """Build fresh indexes beside the live ones, swap them in, then catch up with what changed meanwhile."""
    async with ctx.sessions() as session:  # events after this one may have reached only the old index
        last_event = await session.scalar(select(func.coalesce(func.max(OutboxEvent.id), 0)))
    search = ctx.search
    await search.ensure()  # the live ones must exist to be swapped
    for kind in ListKind:  # the leftovers of an interrupted rebuild, if any
        try:
            await search.client.wait_task(await search.client.delete_index(search.uid(kind, REBUILD_SUFFIX)))
        except SearchError as exc:
            if exc.code != "index_not_found":
                raise
    await search.ensure(REBUILD_SUFFIX)
    published: dict[ListKind, list[uuid.UUID]] = {}
    async with ctx.sessions() as session:
        for kind, table in LISTING_TABLES.items():
            published[kind] = list((await session.scalars(
                select(table.id).where(table.status == ListingStatus.published).order_by(table.id))).all())
    progress.start(sum(len(ids) for ids in published.values()))
    for kind, ids in published.items():
        async with ctx.sessions() as session:
            for start in range(0, len(ids), 1000):
                chunk = ids[start:start + 1000]
                await sync_listings(session, search, kind, chunk, REBUILD_SUFFIX)
                progress.advance(len(chunk))
    await search.swap_in(REBUILD_SUFFIX)
    async with ctx.sessions() as session:  # writes that the workers sent to the old index meanwhile
        for noun, kind in OUTBOX_KINDS.items():
            changed = (await session.scalars(select(OutboxEvent.aggregate_id).distinct().where(
                OutboxEvent.id > last_event, OutboxEvent.aggregate_type == noun))).all()
            await sync_listings(session, search, kind, [uuid.UUID(i) for i in changed])
    return {kind.value: len(ids) for kind, ids in published.items()}
