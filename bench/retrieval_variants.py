"""Cheaper retrieval for a live match (issue #18): fewer or smaller term queries, each variant's quality on
both labelled files (nDCG@10 / recall@10, `bench.match_quality`'s metrics, the shipped semantic weight and
pool) and its Meilisearch cost (term queries per listing, raw multi-search median / p95 at city scale).

Run: `python -m bench.retrieval_variants quality` (loads the labelled set once, then runs every variant)
and `python -m bench.retrieval_variants speed --achievements 10000 --needs 2000` (the golden copy of
`bench.match_speed.dataset`).
"""

import argparse
import asyncio
import contextlib
import json
import time

from sqlalchemy import select

from bench import match_quality as mq
from bench.match_speed import dataset, percentiles, raw_client
from bench.stack import bench_stack, operator_headers, register_organisations
from schemas.enums import ListKind
from schemas.tables import Achievement, Need
from services import kinds
from services.matching import engine, terms
from services.matching.outcomes import associations
from services.matching.vectors import own_vector

# name -> module constants (terms.*, engine.*) and settings overrides, each against the engine before
# issue #18's retrieval change (20 terms, 50 hits a term), whatever the code ships now.
BEFORE = {"MAX_TERMS": 20, "PER_TERM_LIMIT": 50}
VARIANTS: dict[str, dict] = {name: BEFORE | changes for name, changes in {
    "20 terms, limit 50 (before)": {},
    "16 terms": {"MAX_TERMS": 16},
    "12 terms": {"MAX_TERMS": 12},
    "8 terms": {"MAX_TERMS": 8},
    "thesaurus for 4 strongest": {"EXPANDED_TERMS": 4},
    "2 thesaurus terms each": {"EXPANDED_PER_TERM": 2},
    "per-term limit 30": {"PER_TERM_LIMIT": 30},
    "per-term limit 20": {"PER_TERM_LIMIT": 20},
    "per-term limit 10": {"PER_TERM_LIMIT": 10},
    "12 terms, limit 30": {"MAX_TERMS": 12, "PER_TERM_LIMIT": 30},
    "16 terms, limit 20 (shipped)": {"MAX_TERMS": 16, "PER_TERM_LIMIT": 20},
    "14 terms, limit 20": {"MAX_TERMS": 14, "PER_TERM_LIMIT": 20},
    "16 terms, limit 20, pool 30": {"MAX_TERMS": 16, "PER_TERM_LIMIT": 20, "match_semantic_pool": 30},
    "vector pool 30": {"match_semantic_pool": 30},
    # Speed only (the same matches): what scoring reads, the display fields read for the top K elsewhere.
    "scoring attributes only": {"RETRIEVE": [name for name in engine.RETRIEVE
                                             if name not in ("title", "organisation_name", "problem_n")]},
    "id and score only": {"RETRIEVE": ["id"]},
}.items()}


@contextlib.contextmanager
def variant(settings, changes: dict):
    saved = []
    for name, value in changes.items():
        module = next((m for m in (terms, engine) if hasattr(m, name)), None)
        if module is not None:
            saved.append((module, name, getattr(module, name)))
            setattr(module, name, value)
    try:
        yield settings.model_copy(update={k: v for k, v in changes.items() if k.startswith("match_")})
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


async def load_labelled(client, ctx) -> None:
    operator = await operator_headers(client, ctx)
    orgs = await register_organisations(client, operator, mq.DATA / "organisations.yaml")
    needs = [need for name in mq.NEED_FILES for need in mq._rows(name)]
    await mq._load(client, ctx, "achievements", mq._rows("achievements.jsonl"), orgs, operator)
    await mq._load(client, ctx, "needs", needs, orgs, operator)
    await mq.index(ctx)


async def quality(client, ctx, chosen: dict) -> None:
    await load_labelled(client, ctx)
    async with ctx.sessions() as session:
        rows = {r.external_id: r for r in (await session.scalars(select(Need))).all()}
        vectors = {key: await own_vector(session, row) for key, row in rows.items()}
        external = {str(i): e for i, e in (await session.execute(select(Achievement.id, Achievement.external_id)))}
    judged = [(name, need) for name in mq.NEED_FILES for need in mq._rows(name) if need.get("relevant")]
    print("| variant | needs.jsonl nDCG@10 / recall@10 | needs_hard.jsonl nDCG@10 / recall@10 | term queries |")
    print("|---|---|---|---|")
    for label, changes in chosen.items():
        with variant(ctx.settings, changes) as settings:
            run, queries = [], 0
            for name, need in judged:
                row = rows[need["external_id"]]
                found = terms.terms_of_row(row)
                queries += len(found)
                matches = await engine.match_listing(ctx.search, settings, ListKind.needs, row, found, mq.K,
                                                     vector=vectors[need["external_id"]])
                run.append((name, need["relevant"], [(external[str(m.id)], m.score) for m in matches]))
        metrics = mq._metrics(run)
        cells = " | ".join(f"{metrics[n]['nDCG@10']:.3f} / {metrics[n]['recall@10']:.3f}" for n in mq.NEED_FILES)
        print(f"| {label} | {cells} | {queries / len(judged):.1f} |", flush=True)


async def speed(ctx, samples: int, chosen: dict) -> None:
    """Each listing's multi-search under every variant in turn (interleaved, so that a busy machine's
    drift falls on all variants alike)."""
    async with ctx.sessions() as session:
        learned = await associations(session)
    print("| variant | list | term queries | raw multi-search p50 / p95 ms |")
    print("|---|---|---|---|")
    async with raw_client(ctx) as http:
        for kind, table in kinds.TABLES.items():
            async with ctx.sessions() as session:
                rows = list((await session.scalars(select(table).order_by(table.id).limit(samples))).all())
                vectors = [await own_vector(session, row) for row in rows]
            timings: dict[str, list[float]] = {label: [] for label in chosen}
            queries = dict.fromkeys(chosen, 0)
            for n, (row, vector) in enumerate(zip(rows, vectors, strict=True)):
                for label, changes in chosen.items():
                    with variant(ctx.settings, changes) as settings:
                        found = terms.terms_of_row(row, learned)
                        body = [engine.term_query(ctx.search, engine.counterpart(kind), t.term) for t in found]
                        body.append(engine.vector_query(ctx.search, kind, row, vector, settings.match_semantic_pool))
                    content = json.dumps({"queries": body}, ensure_ascii=False, separators=(",", ":")).encode()
                    started = time.perf_counter()
                    response = await http.post("/multi-search", content=content)
                    elapsed = (time.perf_counter() - started) * 1000
                    assert response.status_code == 200, response.text
                    if n >= 3:  # warm-up
                        timings[label].append(elapsed)
                        queries[label] += len(found)
            for label in chosen:
                p50, p95 = percentiles(timings[label])
                per_listing = queries[label] / len(timings[label])
                print(f"| {label} | {kind.value} | {per_listing:.1f} | {p50:.1f} / {p95:.1f} |", flush=True)


async def main(args) -> None:
    chosen = {label: VARIANTS[label] for label in args.only} if args.only else VARIANTS
    if args.what == "quality":
        async with bench_stack() as (client, ctx):
            await quality(client, ctx, chosen)
    else:
        async with bench_stack(dataset(args.achievements, args.needs)) as (client, ctx):
            await speed(ctx, args.samples, chosen)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=["quality", "speed"])
    parser.add_argument("--achievements", type=int, default=100_000)
    parser.add_argument("--needs", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--only", nargs="*", help="these variants (names as in VARIANTS)")
    asyncio.run(main(parser.parse_args()))
