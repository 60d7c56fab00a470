"""Matching speed at city scale: 100,000 achievements and 20,000 needs (generated from the taxonomy and
the thesaurus), then p50/p95 of one live match through the API and the throughput of `market match --all`.

Run: `make bench-speed` (or `python -m bench.match_speed --achievements 10000 --needs 2000` for a quick run).
"""

import argparse
import asyncio
import random
import statistics
import time
import uuid
from datetime import UTC, datetime

import yaml
from sqlalchemy import insert, select

from bench.stack import bench_stack
from schemas.tables import Achievement, Need, Organisation
from services.matching.batch import match_all
from services.search.sync import rebuild
from services.taxonomy import SEED, taxonomy

TITLE_SHAPES = ["基于{a}的{b}{c}技术", "{a}{b}关键技术及装备", "面向{c}的{a}与{b}", "{a}用高性能{b}", "{b}智能{a}系统"]
NEED_SHAPES = ["{a}问题突出，想找{b}方面的解决办法", "我们的{c}经常出{a}的毛病，{b}成本太高", "寻求{a}与{b}合作开发",
               "{a}{b}招不到人，想用新技术替代"]


def vocabulary() -> dict[str, list[str]]:
    """Field code (top level) -> thesaurus words, the raw material of generated listings."""
    words: dict[str, list[str]] = {}
    for path in sorted((SEED / "thesaurus").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        terms = [t for g in doc.get("equivalents") or [] for t in g] + list(doc.get("terms") or [])
        terms += [t for rule in doc.get("problems") or [] for t in rule["when"] + rule["then"]]
        terms = [str(t) for t in terms if len(str(t)) >= 2]
        for code in doc.get("fields") or ["general"]:
            words.setdefault(code, []).extend(terms)
    return words


def generate(rng: random.Random, count: int, org_ids: list, need: bool) -> list[dict]:
    tax = taxonomy()
    words = vocabulary()
    fields = [code for code in tax.fields if tax.top(code) in words]
    regions = list(tax.regions)
    modes = ["assignment", "licence", "equity", "co_development", "service"]
    now = datetime.now(UTC)
    rows = []
    for _ in range(count):
        field = rng.choice(fields)
        pool = words[tax.top(field)]
        a, b, c, d, e = (rng.choice(pool) for _ in range(5))
        shape = rng.choice(NEED_SHAPES if need else TITLE_SHAPES)
        low = rng.choice([10, 30, 50, 100, 200, 500]) * 10_000
        row = {
            "id": uuid.uuid4(), "organisation_id": rng.choice(org_ids), "status": "published",
            "title": shape.format(a=a, b=b, c=c), "keywords": [a, b, d], "field": field,
            "region": rng.choice(regions), "published_at": now, "submitted_at": now,
            "description": f"围绕{a}、{b}和{e}开展工作，涉及{c}与{d}，指标达到行业先进水平。",
        }
        if need:
            row.update(budget_negotiable=False, budget_min=low, budget_max=low * 3, required_trl=rng.randint(3, 8),
                       cooperation_modes=rng.sample(modes, 2))
        else:
            row.update(summary=f"{a}与{b}的{c}方案。", trl=rng.randint(2, 9), transfer_modes=rng.sample(modes, 2),
                       price_negotiable=False, price_min=low, price_max=low * 4)
        rows.append(row)
    return rows


async def load(ctx, achievements: int, needs: int) -> None:
    rng = random.Random(20261125)
    async with ctx.sessions() as session, session.begin():
        orgs = {kind: [uuid.uuid4() for _ in range(50)] for kind in ("university", "enterprise")}
        await session.execute(insert(Organisation), [
            {"id": i, "kind": kind, "name": f"{kind}-{n}"} for kind, ids in orgs.items() for n, i in enumerate(ids)])
    for table, count, kind, is_need in ((Achievement, achievements, "university", False),
                                        (Need, needs, "enterprise", True)):
        for start in range(0, count, 5000):
            rows = generate(rng, min(5000, count - start), orgs[kind], is_need)
            async with ctx.sessions() as session, session.begin():
                await session.execute(insert(table), rows)


async def main(args) -> None:
    async with bench_stack() as (client, ctx):
        started = time.perf_counter()
        await load(ctx, args.achievements, args.needs)
        elapsed = time.perf_counter() - started
        print(f"generated {args.achievements} achievements, {args.needs} needs in {elapsed:.0f} s")
        started = time.perf_counter()
        await rebuild(ctx)
        print(f"indexed in {time.perf_counter() - started:.0f} s (market reindex)")

        for kind, table in (("needs", Need), ("achievements", Achievement)):
            async with ctx.sessions() as session:
                ids = list((await session.scalars(select(table.id).order_by(table.id).limit(args.samples))).all())
            for listing_id in ids[:5]:  # warm-up
                await client.get(f"/v1/{kind}/{listing_id}/matches")
            timings = []
            for listing_id in ids:
                t = time.perf_counter()
                response = await client.get(f"/v1/{kind}/{listing_id}/matches")
                timings.append((time.perf_counter() - t) * 1000)
                assert response.status_code == 200, response.text
            timings.sort()
            p95 = timings[int(len(timings) * 0.95) - 1]
            print(f"live match of {kind}: p50 {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms "
                  f"({len(timings)} requests through the API)")

        started = time.perf_counter()
        count = await match_all(ctx, limit=args.batch)
        elapsed = time.perf_counter() - started
        total = args.achievements + args.needs
        print(f"market match --all: {count} listings in {elapsed:.1f} s = {count / elapsed:.1f} listings/s "
              f"(all {total} would take ~{total / (count / elapsed) / 60:.0f} min)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--achievements", type=int, default=100_000)
    parser.add_argument("--needs", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=200, help="live matches timed per list")
    parser.add_argument("--batch", type=int, default=1000, help="listings of each list recomputed for throughput")
    asyncio.run(main(parser.parse_args()))
