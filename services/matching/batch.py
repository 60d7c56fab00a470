"""`market match --all`: recompute the leads of every published listing, reporting its progress."""

import asyncio

from sqlalchemy import select

from schemas.enums import ListingStatus, ListKind
from schemas.tables import LISTING_TABLES
from services.matching.refresh import refresh_listing
from services.progress import SILENT, Progress

CONCURRENCY = 8


async def match_all(ctx, progress: Progress = SILENT, limit: int | None = None) -> int:
    """Every published need and achievement (or the first `limit` of each list, for a benchmark),
    a few at a time; each listing's leads in their own transaction."""
    work: list[tuple[ListKind, object]] = []
    async with ctx.sessions() as session:
        for kind, table in LISTING_TABLES.items():
            ids = (await session.scalars(select(table.id).where(table.status == ListingStatus.published)
                                         .order_by(table.id).limit(limit))).all()
            work += [(kind, listing_id) for listing_id in ids]
    progress.start(len(work))
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(kind: ListKind, listing_id) -> None:
        async with gate:
            await refresh_listing(ctx, kind, listing_id)
            progress.advance()

    # Needs first, then achievements: within a phase no two listings touch the same lead rows, so
    # concurrent transactions never wait on (or deadlock with) each other.
    for phase in ListKind.needs, ListKind.achievements:
        await asyncio.gather(*(one(kind, listing_id) for kind, listing_id in work if kind == phase))
    return len(work)
