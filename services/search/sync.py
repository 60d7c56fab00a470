"""Keeping Meilisearch in step with PostgreSQL: per-listing sync (from the outbox) and full rebuilds."""

import logging
import uuid
from collections import deque
from collections.abc import Iterable

from sqlalchemy import func, select

from schemas.enums import ListingStatus, ListKind
from schemas.tables import ListingVector, Organisation, OutboxEvent
from services import kinds
from services.matching.semantic import EMBEDDER
from services.matching.vectors import STORED, forget, vectors_and_terms
from services.progress import SILENT, Progress
from services.search.client import SearchError
from services.search.documents import achievement_document, need_document
from services.search.indexes import SearchIndexes

log = logging.getLogger(__name__)
DOCUMENTS = {ListKind.achievements: achievement_document, ListKind.needs: need_document}
REBUILD_SUFFIX = "_rebuild"
OUTBOX_KINDS = {noun: about.kind for noun, about in kinds.BY_NOUN.items()}  # aggregate_type -> list
# A rebuild's documents per Meilisearch write (~4.5 KB each with its vector), and writes waiting to be
# indexed. Meilisearch indexes the writes waiting for one index as one batch (autobatching), and its vector
# store costs less in few large batches than in many small ones (bench/README.md, "Index build"): the
# writes are sent as fast as they are built, up to 100,000 documents (~450 MB on Meilisearch's disk) ahead.
# Meanwhile the workers' writes to the live indexes wait behind the batch being indexed.
REBUILD_BATCH, IN_FLIGHT = 2000, 50


def listing_rows(kind: ListKind):
    """Listing rows with their organisation's name and their stored vector: one query for a batch."""
    table = kinds.TABLES[kind]
    return (select(table, Organisation.name, *STORED).join(Organisation, Organisation.id == table.organisation_id)
            .outerjoin(ListingVector, ListingVector.listing_id == table.id))


async def documents_of(ctx, kind: ListKind, rows: list) -> list[dict]:
    """The documents of the published ones of these rows (from `listing_rows`), each with its vector (their
    own terms are kept on the way, for matching)."""
    published = [found for found in rows if found[0].status == ListingStatus.published]
    derived = await vectors_and_terms(ctx.sessions, kind, [(found[0], tuple(found[2:])) for found in published])
    documents = []
    for row, name, *_ in published:
        document = DOCUMENTS[kind](row, name, ctx.search.owner_key(row.organisation_id))
        document["_vectors"] = {EMBEDDER: derived[row.id][0]}
        documents.append(document)
    return documents


async def listing_documents(ctx, kind: ListKind, ids: set[uuid.UUID]) -> tuple[list[dict], set[uuid.UUID]]:
    """(documents of the published listings, ids to remove: every other one that was ever published, or a
    deleted one; a bulk import's drafts cost Meilisearch nothing). The rows are read and the connection
    given back before any encoding or Meilisearch call."""
    table = kinds.TABLES[kind]
    async with ctx.sessions() as session:
        rows = (await session.execute(listing_rows(kind).where(table.id.in_(ids)))).all()
    documents = await documents_of(ctx, kind, rows)
    if deleted := ids - {found[0].id for found in rows}:
        async with ctx.sessions() as session, session.begin():
            await forget(session, deleted)
    never = {found[0].id for found in rows if found[0].published_at is None}  # never in the index
    return documents, ids - {uuid.UUID(d["id"]) for d in documents} - never


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


async def index_listings(ctx, kind: ListKind, ids: Iterable[uuid.UUID]) -> None:
    """The worker's sync: published listings are upserted, every other one (or a deleted one) removed;
    no transaction (and no pooled connection) waits on the encoder or on Meilisearch."""
    ids = set(ids)
    if ids:
        await apply_documents(ctx.search, kind, *await listing_documents(ctx, kind, ids))


async def _build(ctx, kind: ListKind, pending: deque[tuple[int, int]], progress: Progress) -> int:
    """Every published listing of one list into its `_rebuild` index: documents built in bulk, batch by
    batch in id order (one query each, stored vectors read with the rows), and sent while Meilisearch
    indexes the previous ones. `pending`: the (task, documents) writes not yet waited for, across lists."""
    table = kinds.TABLES[kind]
    count, after = 0, None
    while True:
        query = (listing_rows(kind).where(table.status == ListingStatus.published).order_by(table.id)
                 .limit(REBUILD_BATCH))
        async with ctx.sessions() as session:
            rows = (await session.execute(query if after is None else query.where(table.id > after))).all()
        if not rows:
            break
        after = rows[-1][0].id
        documents = await documents_of(ctx, kind, rows)
        while len(pending) >= IN_FLIGHT:
            await _indexed(ctx, pending, progress)
        pending.append((await ctx.search.upsert(kind, documents, REBUILD_SUFFIX), len(rows)))
        count += len(rows)
    return count


async def _indexed(ctx, pending: deque[tuple[int, int]], progress: Progress) -> None:
    """Wait for the oldest pending write (Meilisearch may be indexing it with all those behind it)."""
    task, documents = pending.popleft()
    await ctx.search.client.wait_task(task, timeout=3600)
    progress.advance(documents)


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
    await search.ensure(REBUILD_SUFFIX, warm=False)
    async with ctx.sessions() as session:
        progress.start(sum([await session.scalar(select(func.count()).select_from(table).where(
            table.status == ListingStatus.published)) for table in kinds.TABLES.values()]))
    pending: deque[tuple[int, int]] = deque()  # both lists' writes: the needs follow the achievements
    counts = {kind.value: await _build(ctx, kind, pending, progress) for kind in kinds.TABLES}
    while pending:
        await _indexed(ctx, pending, progress)
    await search.swap_in(REBUILD_SUFFIX)
    for noun, kind in OUTBOX_KINDS.items():  # writes that the workers sent to the old index meanwhile
        async with ctx.sessions() as session:
            changed = (await session.scalars(select(OutboxEvent.aggregate_id).distinct().where(
                OutboxEvent.id > last_event, OutboxEvent.aggregate_type == noun))).all()
        await index_listings(ctx, kind, [uuid.UUID(i) for i in changed])
    return counts
