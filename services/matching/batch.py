"""`market match --all`: recompute the leads of every published listing, with a progress bar."""

import asyncio
import time

from sqlalchemy import select

from schemas.enums import ListingStatus, ListKind
from schemas.tables import LISTING_TABLES
from services.matching.refresh import refresh_listing

CONCURRENCY = 8


async def match_all(ctx, progress=None, limit: int | None = None) -> int:
    """Every published need and achievement (or the first `limit` of each list, for a benchmark),
    a few at a time; each listing's leads in their own transaction."""
    work: list[tuple[ListKind, object]] = []
    async with ctx.sessions() as session:
        for kind, table in LISTING_TABLES.items():
            ids = (await session.scalars(select(table.id).where(table.status == ListingStatus.published)
                                         .order_by(table.id).limit(limit))).all()
            work += [(kind, listing_id) for listing_id in ids]
    if progress is not None:
        progress.reset(total=len(work))
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(kind: ListKind, listing_id) -> None:
        async with gate:
            await refresh_listing(ctx, kind, listing_id)
            if progress is not None:
                progress.update(1)

    # Needs first, then achievements: within a phase no two listings touch the same lead rows, so
    # concurrent transactions never wait on (or deadlock with) each other.
    for phase in ListKind.needs, ListKind.achievements:
        await asyncio.gather(*(one(kind, listing_id) for kind, listing_id in work if kind == phase))
    return len(work)


async def match_all_cli(settings) -> None:
    from tqdm import tqdm

    from services.context import ServiceContext

    async with ServiceContext.open(settings, pool_size=CONCURRENCY + 2) as ctx:
        started = time.perf_counter()
        with tqdm(unit="listing") as bar:
            count = await match_all(ctx, bar)
        elapsed = time.perf_counter() - started
    print(f"matched {count} listings in {elapsed:.1f} s ({count / elapsed if elapsed else 0:.1f} listings/s)")
