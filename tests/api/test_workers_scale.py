"""Several workers at once: they share the outbox without deadlocks or long transactions, and an owner's
edit never waits on a worker that is busy with Meilisearch."""

import asyncio

import pytest
from sqlalchemy import select, text

from schemas.tables import OutboxEvent
from services.context import ServiceContext
from services.worker import drain
from tests.api.test_matching import TEA_NEED, TEA_PICKER
from tests.factories import create_listing

TOPICS = ["茶叶嫩芽识别", "柔性采摘", "茶园机械化", "嫩芽定位", "采摘机器人", "名优茶"]


async def _deadlocks(ctx) -> int:
    async with ctx.sessions() as session:
        await session.execute(text("SELECT pg_stat_force_next_flush()"))
        await session.execute(text("SELECT pg_stat_clear_snapshot()"))
        return await session.scalar(text(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"))


async def _oldest_transaction(ctx, stop: asyncio.Event) -> float:
    """The age of the oldest open transaction of any other session, sampled until `stop`."""
    oldest = 0.0
    async with ctx.engine.connect() as conn:
        while not stop.is_set():
            age = (await conn.execute(text(
                "SELECT coalesce(max(extract(epoch FROM clock_timestamp() - xact_start)), 0) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
            ))).scalar_one()
            await conn.rollback()
            oldest = max(oldest, float(age))
            await asyncio.sleep(0.05)  # wait-ok: the sampling interval, not a wait for an outcome
    return oldest


@pytest.mark.commits  # workers at once
async def test_three_workers_drain_a_burst_without_deadlock_or_long_transactions(client, market, ctx, search):
    uni = await market.organisation("university")
    firm = await market.organisation("enterprise")
    achievements = [await create_listing(market, "achievements", uni, external_id=f"B-{n}",
                                         **{**TEA_PICKER, "title": f"{TOPICS[n % 6]}技术{n}"}) for n in range(12)]
    needs = [await create_listing(market, "needs", firm, **{**TEA_NEED, "title": f"{TOPICS[n % 6]}需求{n}"})
             for n in range(6)]
    deadlocks = await _deadlocks(ctx)
    stop = asyncio.Event()
    sampler = asyncio.create_task(_oldest_transaction(ctx, stop))

    async def owners() -> None:  # edits and archives while the workers run
        for n, listing in enumerate(achievements[:8]):
            if n % 4 == 3:
                response = await client.post(f"/v1/achievements/{listing['id']}/archive", headers=uni.headers)
            else:
                response = await client.patch(f"/v1/achievements/{listing['id']}", headers=uni.headers,
                                              json={"contact": {"name": f"联系人{n}", "phone": "028-85400001"}})
            assert response.status_code == 200, response.text

    async with ServiceContext.open(ctx.settings, pool_size=4) as second, \
            ServiceContext.open(ctx.settings, pool_size=4) as third:
        await asyncio.gather(owners(), drain(ctx), drain(second), drain(third))
        await asyncio.gather(drain(ctx), drain(second), drain(third))  # what the owners' writes added
    stop.set()
    oldest = await sampler

    async with ctx.sessions() as session:
        pending = (await session.scalars(select(OutboxEvent).where(OutboxEvent.processed_at.is_(None)))).all()
        failed = (await session.scalars(select(OutboxEvent.last_error).where(OutboxEvent.attempts > 0))).all()
    assert pending == [] and failed == []
    assert await _deadlocks(ctx) == deadlocks
    assert oldest < 5.0, f"a transaction stayed open {oldest:.1f} s"
    leads = (await client.get("/v1/leads", params={"need_id": needs[0]["id"]},
                              headers=(await market.operator()).headers)).json()["items"]
    archived = {a["id"] for n, a in enumerate(achievements[:8]) if n % 4 == 3}
    assert leads and not archived & {lead["achievement"]["id"] for lead in leads}


@pytest.mark.commits  # workers at once
async def test_an_owner_edit_does_not_wait_for_a_worker_inside_meilisearch(client, market, ctx, search, sync):
    uni = await market.organisation("university")
    firm = await market.organisation("enterprise")
    picker = await create_listing(market, "achievements", uni, external_id="T-1", **TEA_PICKER)
    need = await create_listing(market, "needs", firm, **TEA_NEED)
    await sync()
    response = await client.patch(f"/v1/achievements/{picker['id']}", headers=uni.headers,
                                  json={"contact": {"name": "李老师", "phone": "028-85400002"}})
    assert response.status_code == 200

    async with ServiceContext.open(ctx.settings, pool_size=4) as worker:
        inside, release = asyncio.Event(), asyncio.Event()
        multi_search = worker.search.client.multi_search
        calls = 0

        async def paused(queries):  # the worker stops in its second Meilisearch query: the need's refresh,
            nonlocal calls          # after the achievement's leads were written
            calls += 1
            if calls == 2:
                inside.set()
                await release.wait()
            return await multi_search(queries)

        worker.search.client.multi_search = paused
        running = asyncio.create_task(drain(worker))
        try:
            await inside.wait()
            for kind, listing, owner in (("needs", need, firm), ("achievements", picker, uni)):
                async with asyncio.timeout(30):  # a guard against a hang, not a measurement
                    edited = await client.patch(f"/v1/{kind}/{listing['id']}", headers=owner.headers,
                                                json={"contact": {"name": "赵经理", "phone": "028-88888801"}})
                assert edited.status_code == 200, edited.text
        finally:
            release.set()
            await running
    await sync()
    leads = (await client.get("/v1/leads", params={"need_id": need["id"]}, headers=firm.headers)).json()["items"]
    assert [lead["achievement"]["id"] for lead in leads] == [picker["id"]]
