"""Where a live match's time goes (issue #18): each PostgreSQL read, the terms, the Meilisearch
work split into the term queries alone, the vector query alone and both (raw httpx, as sent), and our
Python after the answer (combine, rank with score_pair / _match counted apart), per list, median / p95.

Run: `python -m bench.live_breakdown --achievements 10000 --needs 2000 --samples 100` (the golden copy
of `bench.match_speed.dataset`). The API figure is the whole request through the app, for comparison.
"""

import argparse
import asyncio
import json
import time
from collections import defaultdict
from contextlib import contextmanager

import orjson
from sqlalchemy import select

from bench.match_speed import dataset, percentiles, raw_client
from bench.stack import bench_stack
from schemas.enums import ListKind
from schemas.tables import ListingVector
from services import kinds
from services.listings import SPECS
from services.listings.rules import readable
from services.matching import engine
from services.matching.outcomes import apply_dismissals, associations
from services.matching.scoring import Weights
from services.matching.vectors import STORED, terms_for, vector_for
from services.principal import ANONYMOUS


class Clock:
    """Milliseconds per named step, summed per sample."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.current: dict[str, float] = defaultdict(float)

    @contextmanager
    def step(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.current[name] += (time.perf_counter() - started) * 1000

    def wrap(self, name: str, function):
        def timed(*args, **kwargs):
            with self.step(name):
                return function(*args, **kwargs)
        return timed

    def end_sample(self) -> None:
        for name, value in self.current.items():
            self.samples[name].append(value)
        self.current = defaultdict(float)


async def breakdown(client, ctx, kind: ListKind, samples: int, clock: Clock) -> None:
    table = kinds.TABLES[kind]
    spec, other = SPECS[kind], kinds.of(kind).other()
    weights = Weights.from_settings(ctx.settings)
    pool, top_k = ctx.settings.match_semantic_pool, ctx.settings.match_top_k
    async with ctx.sessions() as session:
        ids = list((await session.scalars(select(table.id).order_by(table.id).limit(samples))).all())
    async with raw_client(ctx) as http:
        for n, listing_id in enumerate(ids):
            async with ctx.sessions() as session:
                with clock.step("pg: listing"):
                    row = (await session.execute(readable(spec, ANONYMOUS).where(table.id == listing_id))).first()[0]
                with clock.step("pg: associations (cached)"):
                    learned = await associations(session)
                with clock.step("pg: own vector and terms"):
                    stored = (await session.execute(select(*STORED).where(ListingVector.listing_id == listing_id))
                              ).first()
            vector = await vector_for(row, stored)
            with clock.step("py: terms (the stored own terms, expanded)"):
                terms = await terms_for(row, stored, learned)
            term_queries = [engine.term_query(ctx.search, engine.counterpart(kind), t.term) for t in terms]
            vector_q = engine.vector_query(ctx.search, kind, row, vector, pool)
            bodies = [json.dumps({"queries": queries}, ensure_ascii=False, separators=(",", ":")).encode()
                      for queries in (term_queries, [vector_q])]
            for name, sent in (("meili raw: term queries only", bodies[:1]),
                               ("meili raw: vector query only", bodies[1:]),
                               ("meili raw: both (as sent, at once)", bodies)):
                with clock.step(name):
                    responses = await asyncio.gather(*(http.post("/multi-search", content=body) for body in sent))
            with clock.step("py: json of the answer"):
                results = [result for response in responses for result in orjson.loads(response.content)["results"]]
            with clock.step("py: fuse (combine + rank)"):
                matches = engine.fuse(ctx.search.owner_key(row.organisation_id), kind, row, terms,
                                      results[:len(terms)], results[len(terms)]["hits"], pool, weights, top_k)
            async with ctx.sessions() as session:
                with clock.step("pg: dismissals"):
                    matches = await apply_dismissals(session, kind, listing_id, matches)
                with clock.step("pg: summaries"):
                    summary = getattr(other.table, other.summary)
                    await session.execute(select(other.table.id, summary).where(
                        other.table.id.in_([m.id for m in matches])))
            with clock.step("API: whole request"):
                response = await client.get(f"/v1/{kind.value}/{listing_id}/matches")
            assert response.status_code == 200, response.text
            if n >= 5:  # the first few warm the caches
                clock.end_sample()
            else:
                clock.current = defaultdict(float)


async def main(args) -> None:
    async with bench_stack(dataset(args.achievements, args.needs)) as (client, ctx):
        for kind in (ListKind.achievements, ListKind.needs):
            clock = Clock()
            # The inner steps of rank, counted inside "fuse".
            originals = {name: getattr(engine, name) for name in ("combine", "score_of", "_match",
                                                                  "side_of_document")}
            for name, function in originals.items():
                setattr(engine, name, clock.wrap(f"  in fuse: {name}", function))
            counted = engine.rank

            def rank(*a, _rank=counted, _clock=clock, **k):
                _clock.current["candidates (count)"] += len(a[2])
                return _rank(*a, **k)
            engine.rank = rank
            try:
                await breakdown(client, ctx, kind, args.samples, clock)
            finally:
                for name, function in originals.items():
                    setattr(engine, name, function)
                engine.rank = counted
            print(f"\nlive match of {kind.value} ({args.samples} samples), median / p95:")
            for name, values in clock.samples.items():
                p50, p95 = percentiles(values)
                print(f"  {name:40s} {p50:7.1f} / {p95:7.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--achievements", type=int, default=100_000)
    parser.add_argument("--needs", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=100)
    asyncio.run(main(parser.parse_args()))
