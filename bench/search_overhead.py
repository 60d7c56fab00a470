"""Search through the API against the same query sent straight to Meilisearch, side by side in one run.

Each query is sent once through the API (in-process ASGI: every middleware, dependency, the rate limiter,
serialisation) while the Meilisearch requests the API makes are recorded; the timed loop then alternates
the API call and a replay of exactly those Meilisearch requests through the same client, so both sides
see the same machine load. Prints p50/p95 of each and the ratio.

Run: `python -m bench.search_overhead` (10,000 achievements; `--achievements 100000` for city scale).
"""

import argparse
import asyncio
import random
import time

from bench.match_speed import dataset, percentiles, vocabulary
from bench.stack import bench_stack


def queries(count: int) -> list[str]:
    rng = random.Random(7)
    words = sorted({w for pool in vocabulary().values() for w in pool})
    return [rng.choice(words) + ("" if rng.random() < 0.5 else rng.choice(words)) for _ in range(count)]


async def recorded_requests(client, meili, q: str, lists: str = "achievements",
                            params: dict | None = None) -> list[tuple]:
    """The Meilisearch requests one API search makes (`q`, or the search's whole `params`)."""
    seen = []
    send = meili._send

    async def record(method, path, body, params, idempotent):
        seen.append((method, path, body, params, idempotent))
        return await send(method, path, body, params, idempotent)

    meili._send = record
    try:
        response = await client.get(f"/v1/search/{lists}", params={"q": q} if params is None else params)
        assert response.status_code == 200, response.text
    finally:
        meili._send = send
    return seen


async def compare(client, ctx, qs: list[str], rounds: int) -> dict[str, list[float]]:
    meili = ctx.search.client
    recorded = {q: await recorded_requests(client, meili, q) for q in qs}
    timings: dict[str, list[float]] = {"api": [], "meilisearch": []}
    for _ in range(rounds):
        for q in qs:
            started = time.perf_counter()
            response = await client.get("/v1/search/achievements", params={"q": q})
            timings["api"].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
            started = time.perf_counter()
            for request in recorded[q]:
                await meili._send(*request)
            timings["meilisearch"].append((time.perf_counter() - started) * 1000)
    return timings


def report(timings: dict[str, list[float]]) -> str:
    api, raw = percentiles(timings["api"]), percentiles(timings["meilisearch"])
    return (f"API p50 {api[0]:.2f} ms, p95 {api[1]:.2f} ms | Meilisearch p50 {raw[0]:.2f} ms, p95 {raw[1]:.2f} ms"
            f" | ratio p50 {api[0] / raw[0]:.2f}, p95 {api[1] / raw[1]:.2f} ({len(timings['api'])} each)")


async def main(args) -> None:
    async with bench_stack(dataset(args.achievements, args.needs)) as (client, ctx):
        qs = queries(args.queries)
        await compare(client, ctx, qs[:10], 1)  # warm-up
        print(f"{args.achievements} achievements, {len(qs)} queries × {args.rounds} rounds")
        print(report(await compare(client, ctx, qs, args.rounds)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--achievements", type=int, default=10_000)
    parser.add_argument("--needs", type=int, default=1_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=6)
    asyncio.run(main(parser.parse_args()))
