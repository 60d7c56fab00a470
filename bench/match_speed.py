"""Matching speed at city scale: 100,000 achievements and 20,000 needs (generated from the taxonomy and
the thesaurus, their vectors encoded at load time by a pool of two processes and stored in PostgreSQL),
each figure side by side with raw Meilisearch doing the same work in the same run:
(a) index build: `market reindex` (documents built from PostgreSQL, stored vectors) against the same
    documents (with `_vectors`) sent raw to a scratch index with the same settings, in the same writes,
    all sent at once. Ours is the whole `rebuild` (indexes created with their settings, documents, swap,
    catch-up), raw Meilisearch from its first document sent to its last write indexed (its index creation
    and settings not timed); each with the CPU of both processes and how Meilisearch batched the writes
    (`--only build` runs just this, `--only match` all but this);
(b) live match p50/p95 through the API against the multi-search it sends, replayed raw;
(c) `market match --all` listings/s.

Run: `make bench-speed` (or `python -m bench.match_speed --achievements 10000 --needs 2000` for a quick run).
"""

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import resource
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import yaml
from sqlalchemy import insert, select

from bench.stack import Prepare, bench_stack
from schemas.enums import ListingStatus, ListKind
from schemas.tables import Achievement, ListingVector, Need, Organisation
from services import kinds
from services.matching.batch import match_all
from services.matching.engine import counterpart, term_query, vector_query
from services.matching.outcomes import associations
from services.matching.semantic import MODEL, encode, listing_text
from services.matching.terms import terms_of_row
from services.matching.vectors import STORED, own_vector, pack, text_hash, vectors_and_terms
from services.search.indexes import SETTINGS
from services.search.sync import REBUILD_BATCH, documents_of, listing_rows, rebuild
from services.taxonomy import SEED, taxonomy

ENCODE_CHUNK = 200  # texts per task of the encoding pool

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
    """The generated listings, and their vectors encoded by two processes (`USE(threads=1)` each) and
    stored in `listing_vector` as the worker would have stored them."""
    rng = random.Random(20261125)
    async with ctx.sessions() as session, session.begin():
        orgs = {kind: [uuid.uuid4() for _ in range(50)] for kind in ("university", "enterprise")}
        await session.execute(insert(Organisation), [
            {"id": i, "kind": kind, "name": f"{kind}-{n}"} for kind, ids in orgs.items() for n, i in enumerate(ids)])
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        for table, count, kind, is_need in ((Achievement, achievements, "university", False),
                                            (Need, needs, "enterprise", True)):
            list_kind = ListKind.needs if is_need else ListKind.achievements
            for start in range(0, count, 5000):
                rows = generate(rng, min(5000, count - start), orgs[kind], is_need)
                listings = [table(**row) for row in rows]
                texts = [listing_text(listing) for listing in listings]
                chunks = [texts[i:i + ENCODE_CHUNK] for i in range(0, len(texts), ENCODE_CHUNK)]
                vectors = [v for chunk in await asyncio.gather(*(loop.run_in_executor(pool, encode, chunk)
                                                                 for chunk in chunks)) for v in chunk]
                async with ctx.sessions() as session, session.begin():
                    await session.execute(insert(table), rows)
                    await session.execute(insert(ListingVector), [
                        {"listing_id": row["id"], "kind": list_kind.value, "model": MODEL,
                         "text_hash": text_hash(listing), "vector": pack(vector)}
                        for row, listing, vector in zip(rows, listings, vectors, strict=True)])


def percentiles(timings: list[float]) -> tuple[float, float]:
    timings = sorted(timings)
    return statistics.median(timings), timings[max(0, int(len(timings) * 0.95) - 1)]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def meili_pid(ctx) -> int | None:
    """The Meilisearch process serving `ctx` (a child of this one, found by its port), if local."""
    port = ctx.settings.meili_url.rsplit(":", 1)[-1]
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            argv = stat.read_bytes().split(b"\0")
            if argv[0].endswith(b"meilisearch") and f"127.0.0.1:{port}".encode() in argv:
                return int(stat.parent.name)
    return None


def our_cpu() -> float:
    """CPU seconds of this process and of its children that have exited (`match --all`'s processes)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


class Cpu:
    """CPU seconds of ours (this process and the children it reaped) and of Meilisearch over a block, beside
    its wall time."""

    def __init__(self, ctx):
        self.pid = meili_pid(ctx)

    def __enter__(self):
        self.started, self.ours = time.perf_counter(), our_cpu()
        self.meili = cpu_seconds(self.pid) if self.pid else 0.0
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.started
        self.ours = our_cpu() - self.ours
        self.meili = (cpu_seconds(self.pid) if self.pid else 0.0) - self.meili

    def __str__(self) -> str:
        return f"{self.wall:.1f} s wall, CPU: ours {self.ours:.1f} s, Meilisearch {self.meili:.1f} s"


async def batch_summary(ctx, after: int) -> str:
    """How Meilisearch grouped the document writes since batch `after` (its /batches log): batches, tasks
    per batch and the seconds they took, so both sides can be compared as work, not only as wall time."""
    batches, start = [], None
    async with raw_client(ctx) as http:
        while True:
            params = {"limit": 100, **({"from": start} if start is not None else {})}
            page = (await http.get("/batches", params=params)).raise_for_status().json()
            batches += [b for b in page["results"] if b["uid"] > after]
            if page.get("next") is None or page["results"][-1]["uid"] <= after:
                break
            start = page["next"]
    writes = [b for b in batches if "documentAdditionOrUpdate" in b["stats"]["types"]]
    seconds = [_duration(b["duration"]) for b in writes]
    tasks = [b["stats"]["totalNbTasks"] for b in writes]
    other = sum(_duration(b["duration"]) for b in batches if b not in writes and b.get("duration"))
    return (f"{len(writes)} document batches ({min(tasks, default=0)}-{max(tasks, default=0)} tasks each, "
            f"{sum(seconds):.1f} s), other batches {len(batches) - len(writes)} ({other:.1f} s)")


def _duration(iso: str | None) -> float:
    """Meilisearch's ISO 8601 duration ("PT1.234S", "PT2M3.4S") in seconds."""
    if not iso:
        return 0.0
    body, seconds = iso.removeprefix("PT"), 0.0
    for unit, factor in (("H", 3600), ("M", 60), ("S", 1)):
        if unit in body:
            value, body = body.split(unit, 1)
            seconds += float(value) * factor
    return seconds


async def last_batch(ctx) -> int:
    async with raw_client(ctx) as http:
        page = (await http.get("/batches", params={"limit": 1})).raise_for_status().json()
    return page["results"][0]["uid"] if page["results"] else -1


def raw_client(ctx) -> httpx.AsyncClient:
    """Plain httpx to Meilisearch, asking for no compression like our client (bench/meili_client.py)."""
    headers = {"Accept-Encoding": "identity", "Content-Type": "application/json"}
    if ctx.settings.meili_master_key:
        headers["Authorization"] = f"Bearer {ctx.settings.meili_master_key}"
    return httpx.AsyncClient(base_url=ctx.settings.meili_url, headers=headers, timeout=600, trust_env=False)


async def raw_indexing(ctx, folder: Path) -> Cpu:
    """Seconds for raw Meilisearch to index the rebuild's documents (written to `folder` first, one JSON
    body per batch, not timed) into scratch indexes with the same settings, in the same writes sent all at
    once (Meilisearch indexes the writes waiting for an index together)."""
    bodies: dict[ListKind, list[Path]] = {}
    for kind, table in kinds.TABLES.items():
        after = None
        while True:
            query = listing_rows(kind).where(table.status == ListingStatus.published).order_by(table.id)
            async with ctx.sessions() as session:
                rows = (await session.execute((query if after is None else query.where(table.id > after))
                                              .limit(REBUILD_BATCH))).all()
            if not rows:
                break
            after = rows[-1][0].id
            path = folder / f"{kind.value}-{len(bodies.get(kind, []))}.json"
            path.write_bytes(json.dumps(await documents_of(ctx, kind, rows), ensure_ascii=False,
                                        separators=(",", ":")).encode())
            bodies.setdefault(kind, []).append(path)
    async with raw_client(ctx) as http:
        for kind in bodies:
            uid = ctx.search.uid(kind, "_scratch")
            await ctx.search.client.wait_task(await ctx.search.client.create_index(uid, "id"))
            await ctx.search.client.wait_task(await ctx.search.client.update_settings(uid, SETTINGS[kind]))
        first = await last_batch(ctx)
        with Cpu(ctx) as cpu:
            tasks = []
            for kind, paths in bodies.items():
                for path in paths:
                    response = await http.post(f"/indexes/{ctx.search.uid(kind, '_scratch')}/documents",
                                               params={"primaryKey": "id"}, content=path.read_bytes())
                    tasks.append(response.json()["taskUid"])
            for task in tasks:
                await ctx.search.client.wait_task(task, timeout=1800)
        cpu.batches = await batch_summary(ctx, first)
        for kind in bodies:
            await ctx.search.client.wait_task(await ctx.search.client.delete_index(ctx.search.uid(kind, "_scratch")))
    return cpu


async def multi_search_bodies(ctx, kind: ListKind, row, learned) -> list[bytes]:
    """The two multi-searches a live match of this listing sends at once (services.matching.engine.match_listing):
    its term queries and its vector query."""
    async with ctx.sessions() as session:
        vector = await own_vector(session, row)
    terms = [term_query(ctx.search, counterpart(kind), term.term) for term in terms_of_row(row, learned)]
    vectors = [vector_query(ctx.search, kind, row, vector, ctx.settings.match_semantic_pool)]
    return [json.dumps({"queries": queries}, ensure_ascii=False, separators=(",", ":")).encode()
            for queries in (terms, vectors) if queries]


async def replay(http: httpx.AsyncClient, bodies: list[bytes]) -> None:
    """A live match's multi-searches sent raw, at once, as the engine sends them."""
    for response in await asyncio.gather(*(http.post("/multi-search", content=body) for body in bodies)):
        assert response.status_code == 200, response.text


async def live(client, ctx, samples: int) -> dict[str, tuple]:
    """Per list: (API p50, p95, raw p50, p95), the two timed alternately over the same listings."""
    out = {}
    async with ctx.sessions() as session:
        learned = await associations(session)
    async with raw_client(ctx) as http:
        for kind, table in kinds.TABLES.items():
            async with ctx.sessions() as session:
                found = (await session.execute(select(table, *STORED).outerjoin(
                    ListingVector, ListingVector.listing_id == table.id).order_by(table.id).limit(samples))).all()
            # What the worker keeps for every published listing, brought up to date if the golden copy is older
            # than the code that derives it (a live match would otherwise pick its terms itself).
            await vectors_and_terms(ctx.sessions, kind, [(entry[0], tuple(entry[1:])) for entry in found])
            rows = [entry[0] for entry in found]
            bodies = [await multi_search_bodies(ctx, kind, row, learned) for row in rows]
            for row, body in list(zip(rows, bodies, strict=True))[:5]:  # warm-up
                await client.get(f"/v1/{kind.value}/{row.id}/matches")
                await replay(http, body)
            api, raw = [], []
            for row, body in zip(rows, bodies, strict=True):
                started = time.perf_counter()
                response = await client.get(f"/v1/{kind.value}/{row.id}/matches")
                api.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
                started = time.perf_counter()
                await replay(http, body)
                raw.append((time.perf_counter() - started) * 1000)
            out[kind.value] = (*percentiles(api), *percentiles(raw))
    return out


def dataset(achievements: int, needs: int) -> tuple[str, Prepare]:
    """The generated data set, loaded and indexed once, kept as a golden copy by `bench.stack` so that each
    benchmark run starts from the same data in seconds."""
    async def prepare(ctx) -> None:
        started = time.perf_counter()
        await load(ctx, achievements, needs)
        print(f"generated {achievements} achievements, {needs} needs and encoded their vectors "
              f"in {time.perf_counter() - started:.0f} s")
        await rebuild(ctx)

    return f"a{achievements}_n{needs}", prepare


async def index_build(ctx, total: int) -> tuple[float, float]:
    """(ours, raw) wall seconds of the index build comparison, printed with their CPU and batches."""
    first = await last_batch(ctx)
    with Cpu(ctx) as ours:  # the golden copy is indexed already: this builds the indexes again
        await rebuild(ctx)
    ours.batches = await batch_summary(ctx, first)
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as folder:
        raw = await raw_indexing(ctx, Path(folder))
    print(f"index build: market reindex {total / ours.wall:.0f} docs/s ({ours.wall:.0f} s), raw Meilisearch "
          f"{total / raw.wall:.0f} docs/s ({raw.wall:.0f} s): {raw.wall / ours.wall:.2f}x")
    print(f"  market reindex: {ours}; {ours.batches}\n  raw Meilisearch: {raw}; {raw.batches}")
    return ours.wall, raw.wall


async def main(args) -> None:
    async with bench_stack(dataset(args.achievements, args.needs)) as (client, ctx):
        total = args.achievements + args.needs
        build = raw_build = None
        if args.only != "match":
            build, raw_build = await index_build(ctx, total)
        if args.only == "build":
            return

        timings = await live(client, ctx, args.samples)
        for kind, (p50, p95, raw50, raw95) in timings.items():
            print(f"live match of {kind}: API p50 {p50:.1f} / p95 {p95:.1f} ms, its multi-search raw "
                  f"p50 {raw50:.1f} / p95 {raw95:.1f} ms ({args.samples} each)")

        with Cpu(ctx) as cpu:
            count = await match_all(ctx, limit=args.batch, processes=args.processes)
        elapsed, python_cpu, meili_cpu = cpu.wall, cpu.ours, cpu.meili
        rate = count / elapsed
        print(f"market match --all ({args.processes} processes): {count} listings in {elapsed:.1f} s = "
              f"{rate:.1f} listings/s "
              f"(all {total} would take ~{total / rate / 60:.0f} min); CPU per listing: Python "
              f"{python_cpu / count * 1000:.1f} ms, Meilisearch {meili_cpu / count * 1000:.1f} ms")

        print(f"\n| what ({args.achievements} achievements, {args.needs} needs) | ours | raw Meilisearch | ratio |")
        print("|---|---|---|---|")
        if build:
            print(f"| index build, docs/s | {total / build:.0f} | {total / raw_build:.0f} | {raw_build / build:.2f} |")
        for kind, (p50, p95, raw50, raw95) in timings.items():
            print(f"| live match of {kind}, p50 / p95 ms | {p50:.1f} / {p95:.1f} | {raw50:.1f} / {raw95:.1f} "
                  f"| {p95 / raw95:.2f} (p95) |")
        print(f"| `market match --all`, listings/s | {rate:.1f} | | |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--achievements", type=int, default=100_000)
    parser.add_argument("--needs", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=200, help="live matches timed per list")
    parser.add_argument("--batch", type=int, default=1000, help="listings of each list recomputed for throughput")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="processes of `match --all` (as `market match --all --processes`)")
    parser.add_argument("--only", choices=["build", "match"],
                        help="run only this comparison (match: the live matches and `match --all`)")
    asyncio.run(main(parser.parse_args()))
