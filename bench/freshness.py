"""Freshness: how long after an operator publishes a listing it is searchable, and its leads computed.

A `market worker` runs in-process (woken by NOTIFY, as in production); each sample approves one
achievement through the API, then polls the search API for it (searchable) and the outbox for the
processed `achievement.published` event (leads recomputed in the same handler). Idle machine: no other
load. Prints p50/p95 of both.

Run: `python -m bench.freshness` (on the 100,000 achievements / 20,000 needs of `bench.city`, 40 publishes).
"""

import argparse
import asyncio
import contextlib
import statistics
import time

from sqlalchemy import text

from bench.match_speed import dataset, percentiles
from bench.stack import bench_stack, operator_headers
from services.worker import run_worker

PROCESSED = text("SELECT bool_and(processed_at IS NOT NULL) FROM outboxevent "
                 "WHERE aggregate_id = :id AND topic = 'achievement.published'")
POLL = 0.002  # seconds between polls: the resolution of the figures


async def university(client, operator: dict) -> dict:
    body = {"kind": "university", "name": "蜀都大学", "credit_code": "125101073864900568", "region": "cd.wuhou",
            "admin": {"email": "tto@shu.example.cn", "display_name": "周老师", "password": "bench-admin-password",
                      "roles": ["org_admin"]}}
    (await client.post("/v1/organisations", json=body, headers=operator)).raise_for_status()
    token = await client.post("/v1/auth/token",
                              json={"email": "tto@shu.example.cn", "password": "bench-admin-password"})
    return {"headers": {"Authorization": f"Bearer {token.json()['access_token']}"}}


async def until(check, *args) -> float:
    """Seconds until check(*args) holds; polling is the measurement here, not a wait in a test."""
    started = time.perf_counter()
    while not await check(*args):  # noqa: ASYNC110
        await asyncio.sleep(POLL)
    return time.perf_counter() - started


async def searchable(client, marker: str, listing_id: str) -> bool:
    hits = (await client.get("/v1/search/achievements", params={"q": marker})).json()["hits"]
    return any(hit["id"] == listing_id for hit in hits)


async def leads_computed(ctx, listing_id: str) -> bool:
    async with ctx.engine.connect() as conn:
        return bool((await conn.execute(PROCESSED, {"id": listing_id})).scalar())


async def main(args) -> None:
    async with bench_stack(dataset(args.achievements, args.needs)) as (client, ctx):
        worker = asyncio.create_task(run_worker(ctx.settings))
        operator = await operator_headers(client, ctx)
        owner = await university(client, operator)
        search_ms, leads_ms = [], []
        for n in range(args.samples):
            title = f"基于机器视觉的茶叶嫩芽识别与采摘机器人 样品{n:04d}"
            created = await client.post("/v1/achievements", params={"submit": "true"}, headers=owner["headers"],
                                        json={"title": title, "field": "artificial_intelligence.vision",
                                              "summary": "采茶机器人，识别嫩芽，替代人工采摘。",
                                              "keywords": ["采茶", "机器人", f"样品{n:04d}"], "trl": 6})
            assert created.status_code == 201, created.text
            listing_id = created.json()["id"]
            await asyncio.sleep(0.2)  # let the worker finish the creation event first  # wait-ok
            approved = await client.post(f"/v1/achievements/{listing_id}/approve", headers=operator)
            assert approved.status_code == 200, approved.text
            to_search, to_leads = await asyncio.gather(until(searchable, client, f"样品{n:04d}", listing_id),
                                                       until(leads_computed, ctx, listing_id))
            search_ms.append(to_search * 1000)
            leads_ms.append(to_leads * 1000)
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker  # before the stack stops PostgreSQL under it
        for name, timings in (("publish → searchable", search_ms), ("publish → leads computed", leads_ms)):
            p50, p95 = percentiles(timings)
            print(f"{name}: p50 {p50:.0f} ms, p95 {p95:.0f} ms (mean {statistics.mean(timings):.0f}, "
                  f"{len(timings)} publishes, {args.achievements} achievements, {args.needs} needs)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--achievements", type=int, default=100_000)
    parser.add_argument("--needs", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=40)
    asyncio.run(main(parser.parse_args()))
