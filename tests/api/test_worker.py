"""The real worker process loop: woken by NOTIFY, it makes a published listing searchable within a second."""

import asyncio

import asyncpg

from services.db import plain_url
from services.worker import run_worker
from tests.factories import create_listing


async def _searchable(client, drained: asyncio.Event, query: str, listing_id: str) -> None:
    while True:
        await drained.wait()  # the worker's own event: a batch reached Meilisearch and the leads
        drained.clear()
        hits = (await client.get("/v1/search/achievements", params={"q": query})).json()["hits"]
        if listing_id in [h["id"] for h in hits]:
            return


async def test_published_listing_is_searchable_within_one_second(client, market, settings, search):
    drained = asyncio.Event()
    listener = await asyncpg.connect(plain_url(settings.database_url))
    await listener.add_listener("outbox_drained", lambda *_: drained.set())
    worker = asyncio.create_task(run_worker(settings))
    try:
        uni = await market.organisation("university")
        # Untimed: the worker starts, and Meilisearch pays for the first writes to an index after it was
        # created or restarted (1-2 s each in 1.21), which earlier tests may have just done.
        for n in range(3):
            warm = await create_listing(market, "achievements", uni, title=f"高导热氮化铝陶瓷基板{n}",
                                        external_id=f"W-{n}")
            await _searchable(client, drained, "氮化铝", warm["id"])
        second = await create_listing(market, "achievements", uni, title="碳化硅功率模块封装", external_id="W-9")
        async with asyncio.timeout(1.0):  # from the approval's commit to a search hit
            await _searchable(client, drained, "碳化硅", second["id"])
    finally:
        worker.cancel()
        await listener.close()
