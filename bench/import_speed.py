"""Bulk import end to end against raw Meilisearch indexing of the same documents, in one run.

1. `POST /v1/imports/achievements` with N JSON Lines rows (the API: parse, validate, upsert, audit, outbox;
   above IMPORT_SYNC_MAX_ROWS a background job the worker runs, included in this step's time).
2. The operators' approval, in bulk (one UPDATE and an `achievement.published` event per row), then the
   worker drains the outbox: each listing into Meilisearch and its leads recomputed against the needs.
3. Raw: the same documents sent straight to a fresh index with the same settings, waited on.
Prints rows/s of each step, end to end, raw, and the ratio.

Run: `python -m bench.import_speed` (10,000 rows, 500 needs as counterparts).
"""

import argparse
import asyncio
import json
import random
import time

from sqlalchemy import update

from bench.freshness import university
from bench.match_speed import generate, load
from bench.stack import bench_stack, operator_headers
from schemas.enums import ListingStatus, ListKind
from schemas.tables import Achievement
from services import outbox
from services.search.sync import documents_of, listing_rows, rebuild
from services.worker import drain

RAW = "_raw"


def jsonl(rows: int) -> bytes:
    lines = []
    for n, row in enumerate(generate(random.Random(11), rows, [None], need=False)):
        lines.append(json.dumps({
            "external_id": f"B-{n:05d}", "title": row["title"], "summary": row["summary"],
            "description": row["description"], "keywords": row["keywords"], "field": row["field"],
            "region": row["region"], "trl": row["trl"], "transfer_modes": row["transfer_modes"],
            "price": {"min": f"{row['price_min']}.00", "max": f"{row['price_max']}.00", "negotiable": False},
        }, ensure_ascii=False))
    return "\n".join(lines).encode()


async def main(args) -> None:
    async with bench_stack() as (client, ctx):
        await load(ctx, 0, args.needs)
        await rebuild(ctx)
        owner = await university(client, await operator_headers(client, ctx))
        content = jsonl(args.rows)

        started = time.perf_counter()
        response = await client.post("/v1/imports/achievements", headers=owner["headers"],
                                     files={"file": ("rows.jsonl", content)})
        if response.status_code == 202:  # a large file is imported by the worker, as a job
            await drain(ctx)
            response = await client.get(f"/v1/imports/jobs/{response.json()['id']}", headers=owner["headers"])
            report = response.json()["report"]
        else:
            report = response.json()
        api_s = time.perf_counter() - started
        assert report and report["created"] == args.rows, report

        started = time.perf_counter()
        async with ctx.sessions() as session, session.begin():
            ids = (await session.scalars(update(Achievement).where(Achievement.status == ListingStatus.submitted)
                                         .values(status=ListingStatus.published, published_at=Achievement.updated_at)
                                         .returning(Achievement.id))).all()
            for listing_id in ids:
                outbox.emit(session, "achievement.published", "achievement", listing_id)
        await drain(ctx)
        worker_s = time.perf_counter() - started

        async with ctx.sessions() as session:  # the same documents, with the vectors the worker stored
            rows = (await session.execute(listing_rows(ListKind.achievements).where(Achievement.id.in_(ids)))).all()
        documents = await documents_of(ctx, ListKind.achievements, rows)
        await ctx.search.ensure(RAW)
        started = time.perf_counter()
        for start in range(0, len(documents), 1000):  # the batch size the worker and reindex use
            await ctx.search.client.wait_task(await ctx.search.upsert(
                ListKind.achievements, documents[start:start + 1000], RAW), timeout=600)
        raw_s = time.perf_counter() - started
        await ctx.search.client.wait_task(await ctx.search.client.delete_index(
            ctx.search.uid(ListKind.achievements, RAW)))

        n = args.rows
        print(f"{n} rows, {args.needs} needs: API import {n / api_s:.0f} rows/s ({api_s:.1f} s); "
              f"publish + worker (index + leads) {n / worker_s:.1f} rows/s ({worker_s:.1f} s); "
              f"end to end {n / (api_s + worker_s):.1f} rows/s")
        print(f"raw Meilisearch indexing of the same {len(documents)} documents: {len(documents) / raw_s:.0f} docs/s "
              f"({raw_s:.1f} s); ratio end to end / raw = {(n / (api_s + worker_s)) / (len(documents) / raw_s):.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--needs", type=int, default=500)
    asyncio.run(main(parser.parse_args()))
