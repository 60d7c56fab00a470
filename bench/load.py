"""The service under load: 100 clients for 60 s against the app served by uvicorn (and one `market worker`),
on loopback, on a generated data set; then `/health` latency while a large import runs.

Mix per client: anonymous search, reads (get and list), authenticated creates sent to review and approved
by an operator (a publish), and live matches. Prints p50/p95/errors per kind. Bounded: `--clients` and
`--seconds` (100 and 60 by default), loopback only.

Searches are drawn as a marketplace's visitors send them (`Searches`): words from the field thesaurus
(a few thousand) with Zipf-like popularity, some with a field filter, some a second page, some the list's
browse page without words; so the API's search microcache meets a realistic hit rate (printed beside the
figures, read from the server's `/metrics`), and the raw Meilisearch ceiling replays the same draws.

Run: `python -m bench.load` (100k / 20k listings) or `python -m bench.load --achievements 20000 --needs 4000`.
"""

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import random
import re
import signal
import statistics
import sys
import time
from collections import defaultdict

import httpx
import yaml
from sqlalchemy import select, text

from bench.freshness import leads_computed, searchable
from bench.match_speed import dataset
from bench.search_overhead import recorded_requests
from bench.stack import bench_stack, operator_headers
from market.runtime.meili import free_port
from market.settings import PROJECT_ROOT
from schemas.tables import Achievement, Need
from schemas.validators import credit_code_check_digit
from services.search.client import SearchError

QUERIES = ["氢能", "电池", "机器人", "传感器", "嫩芽识别", "故障诊断", "新材料", "智能制造", "储能", "轨道交通"]
MIX = "search=40,read=30,match=20,create=10"
# What share of searches browse a list without words, filter by a field, ask for the second page.
BROWSE, FIELD_FILTER, SECOND_PAGE = 0.15, 0.20, 0.10


def vocabulary() -> list[str]:
    """Every term of the field thesaurus: equivalents, symptoms and techniques, domain words (~4,000)."""
    terms = set()
    for path in sorted((PROJECT_ROOT / "seed/thesaurus").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in data.get("equivalents") or []:
            terms.update(map(str, group))
        for problem in data.get("problems") or []:
            terms.update(map(str, [*problem["when"], *problem["then"]]))
        terms.update(map(str, data.get("terms") or []))
    return sorted(terms)


class Searches:
    """Searches drawn with Zipf-like popularity (the term of rank r is asked ∝ 1 / r^exponent) over the
    thesaurus in a fixed, seeded order of popularity."""

    def __init__(self, seed: int = 12, exponent: float = 1.0):
        self.terms = vocabulary()
        random.Random(seed).shuffle(self.terms)
        self.cumulative = list(itertools.accumulate(1 / rank ** exponent for rank in range(1, len(self.terms) + 1)))
        fields = yaml.safe_load((PROJECT_ROOT / "seed/taxonomy/fields.yaml").read_text(encoding="utf-8"))
        self.fields = [field["code"] for field in fields]

    def draw(self, rng: random.Random) -> tuple[str, dict]:
        """(list, query parameters) of one search."""
        params: dict = {}
        if rng.random() >= BROWSE:
            params["q"] = rng.choices(self.terms, cum_weights=self.cumulative)[0]
        if rng.random() < FIELD_FILTER:
            params["field"] = rng.choice(self.fields)
        if rng.random() < SECOND_PAGE:
            params["offset"] = 20
        return rng.choice(["achievements", "needs"]), params


def weights(text: str) -> list[tuple[str, int]]:
    """`search=40,read=30,…`: which requests the clients send, in what proportion."""
    pairs = [(name, int(weight)) for name, _, weight in (part.partition("=") for part in text.split(","))]
    if not pairs or any(name not in ("search", "read", "match", "create") for name, _ in pairs):
        raise argparse.ArgumentTypeError("kinds are search, read, match and create")
    return pairs


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


async def organisations(client, operator: dict, kind: str, count: int) -> list[dict]:
    found = []
    for n in range(count):
        body_code = f"{'12' if kind == 'university' else '91'}510100{700_000_000 + n:09d}"
        email = f"load{n}@{kind}.example.cn"
        response = await client.post("/v1/organisations", headers=operator, json={
            "kind": kind, "name": f"压测{kind}{n}", "credit_code": body_code + credit_code_check_digit(body_code),
            "region": "cd.wuhou", "contact": {"name": "联系人", "phone": "028-00000000"},
            "admin": {"email": email, "display_name": "管理员", "password": "load-admin-password",
                      "roles": ["org_admin"]}})
        response.raise_for_status()
        token = (await client.post("/v1/auth/token", json={"email": email, "password": "load-admin-password"}))
        found.append({"Authorization": f"Bearer {token.json()['access_token']}"})
    return found


async def start(args, settings, command: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "MEILI_URL": settings.meili_url,
           "MEILI_MASTER_KEY": settings.meili_master_key, "MEILI_INDEX_PREFIX": settings.meili_index_prefix,
           "ENVIRONMENT": "test", "RATE_LIMIT_PER_MINUTE": "10000000", "LOG_LEVEL": "WARNING",
           "HOST": "127.0.0.1", "PORT": str(args.port), "WEB_CONCURRENCY": str(args.web_concurrency)}
    log = open(f"{args.log_dir}/load-{command}.log", "ab")  # noqa: SIM115, ASYNC230 - owned by the child
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "market.cli", command, env=env,
                                                stdout=log, stderr=log, start_new_session=True)


async def stop(process: asyncio.subprocess.Process, name: str) -> None:
    """SIGTERM, then SIGKILL after 15 s, to the process and the ones it started (its own session: the API's
    processes), and how long it took: left running, it would load the next run's machine (a killed worker
    loses nothing: its lease runs out). The worker is stopped in the middle of the import's batches."""
    sent = time.perf_counter()
    for kill in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
            os.killpg(process.pid, kill)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 15)
            print(f"{name} stopped {time.perf_counter() - sent:.1f} s after SIGTERM"
                  + (" (killed)" if kill == signal.SIGKILL else ""))
            return


async def publish(http: httpx.AsyncClient, owner: dict, operator: dict, title: str, keyword: str) -> httpx.Response:
    """An achievement created by its university and approved by an operator (the answer of the approval)."""
    response = await http.post("/v1/achievements", headers=owner, params={"submit": "true"}, json={
        "title": title, "summary": "压测成果。", "description": "压测生成的成果描述。", "keywords": [keyword],
        "field": "electronic_information.sensors", "trl": 5, "stage": "pilot", "transfer_modes": ["licence"],
        "price": {"negotiable": True}, "region": "cd.wuhou"})
    if response.status_code != 201:
        return response
    return await http.post(f"/v1/achievements/{response.json()['id']}/approve", headers=operator)


async def freshness(http: httpx.AsyncClient, ctx, owner: dict, operator: dict, until: float) -> dict[str, list]:
    """Under the load: one achievement published at a time, then polled (every 50 ms, the resolution) until
    the search API finds it and until the worker has computed its leads."""
    samples: dict[str, list[float]] = {"searchable": [], "leads": []}
    n = 0
    while time.perf_counter() < until:
        marker = f"鲜度样品{n:04d}"
        n += 1
        response = await publish(http, owner, operator, f"{marker}传感器关键技术", marker)
        if response.status_code != 200:
            continue
        published, listing_id, seen = time.perf_counter(), response.json()["id"], {}
        while len(seen) < 2 and time.perf_counter() - published < 120:
            if "searchable" not in seen and await searchable(http, marker, listing_id):
                seen["searchable"] = time.perf_counter() - published
            if "leads" not in seen and await leads_computed(ctx, listing_id):
                seen["leads"] = time.perf_counter() - published
            await asyncio.sleep(0.05)
        for name, seconds in seen.items():
            samples[name].append(seconds * 1000)
    return samples


async def client_loop(base_url: str, delay: float, rng: random.Random, until: float, ids: dict, universities: list,
                      operator: dict, timings: dict, errors: dict, think: float, mix: list,
                      searches: Searches) -> None:
    """One client with its own kept-alive connection, as a browser or a university's system has: one
    shared pool of 100 connections costs the generator more CPU than the server it measures (httpcore
    walks its pool on every request), on the same two cores. It starts after `delay` seconds (the ramp)."""
    kinds = [k for k, w in mix for _ in range(w)]
    await asyncio.sleep(delay)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        while time.perf_counter() < until:
            if think:  # a person reading the last answer: uniform, `think` seconds on average
                await asyncio.sleep(rng.uniform(0, 2 * think))
            kind = rng.choice(kinds)
            lists = rng.choice(["achievements", "needs"])
            started = time.perf_counter()
            try:
                if kind == "search":
                    lists, params = searches.draw(rng)
                    response = await http.get(f"/v1/search/{lists}", params=params)
                elif kind == "read":
                    if rng.random() < 0.7:
                        response = await http.get(f"/v1/{lists}/{rng.choice(ids[lists])}")
                    else:
                        response = await http.get(f"/v1/{lists}", params={"limit": 20})
                elif kind == "match":
                    response = await http.get(f"/v1/{lists}/{rng.choice(ids[lists])}/matches")
                else:
                    owner = rng.choice(universities)
                    title = f"{rng.choice(QUERIES)}关键技术{rng.randrange(10**9)}"
                    response = await publish(http, owner, operator, title, rng.choice(QUERIES))
            except httpx.HTTPError as exc:
                errors[kind][type(exc).__name__] += 1
                continue
            timings[kind].append((started, (time.perf_counter() - started) * 1000))
            if response.status_code >= 400:
                errors[kind][str(response.status_code)] += 1


async def raw_search_ceiling(client, ctx, clients: int, seconds: int, searches: Searches,
                             draws: int) -> tuple[int, list[float]]:
    """The same searches sent straight to Meilisearch by as many clients, back to back: what Meilisearch
    alone serves on this machine (the requests the API makes for each search, thesaurus variants and
    facets included, recorded through the in-process app, whose microcache is off). The clients replay
    `draws` searches drawn as the load's are, so the ceiling sees the same distribution."""
    meili = ctx.search.client
    rng = random.Random(7)
    pool = [searches.draw(rng) for _ in range(draws)]
    recorded = {}
    for lists, params in pool:
        key = (lists, tuple(sorted(params.items())))
        if key not in recorded:
            recorded[key] = await recorded_requests(client, meili, "", lists, params)
    pool_keys = [(lists, tuple(sorted(params.items()))) for lists, params in pool]
    print(f"searches: {len(searches.terms)} thesaurus terms, Zipf-like; the raw ceiling replays {draws} draws "
          f"({len(recorded)} distinct)")
    timings: list[float] = []
    until = time.perf_counter() + seconds

    failures: dict[str, int] = defaultdict(int)

    async def one(rng: random.Random) -> None:
        while time.perf_counter() < until:
            started = time.perf_counter()
            try:
                for request in recorded[rng.choice(pool_keys)]:
                    await meili._send(*request)
            except SearchError as exc:  # e.g. 408 when Meilisearch is starved of CPU: counted, not fatal
                failures[str(exc)] += 1
                continue
            timings.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(one(random.Random(n)) for n in range(clients)))
    if failures:
        print(f"raw Meilisearch errors: {dict(failures)}")
    return len(timings), timings


async def worker_batches(ctx, since) -> str:
    """What the worker's batches held during the load: a batch's events are marked processed by one
    statement (one `processed_at`), so grouping by it recovers the batches."""
    async with ctx.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE topic LIKE '%.refresh_requested'), "
            "extract(epoch FROM processed_at - :since) FROM outboxevent "
            "WHERE processed_at >= :since GROUP BY processed_at ORDER BY processed_at"), {"since": since})).all()
        pending = await conn.scalar(text("SELECT count(*) FROM outboxevent WHERE processed_at IS NULL"))
    events, refreshes = [r[0] for r in rows], [r[1] for r in rows]
    return (f"worker: {len(rows)} batches, {sum(events)} events ({sum(refreshes)} lead refresh requests); "
            f"events per batch p50 {percentile(events, 0.5):.0f}, max {max(events, default=0)}; "
            f"{pending} still pending at the end; they ended at (s from the ramp's start) "
            + ", ".join(f"{r[2]:.0f}" for r in rows))


async def server_metrics(port: int, processes: int) -> list[dict[tuple[str, str], float]]:
    """Each API process's `/metrics` after the load, as {(series name, labels): value}. Each process keeps
    its own, and a new connection lands on any of them: scrape until as many different ones answered
    (told apart by their search cache counters, which no longer move), or give up after a few tries."""
    seen: dict[tuple, dict] = {}
    for _ in range(8 * processes):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as fresh:
            body = (await fresh.get("/metrics")).text
        series = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                name_labels, _, value = line.rpartition(" ")
                name, _, labels = name_labels.partition("{")
                series[name, labels.rstrip("}")] = float(value)
        seen[tuple(sorted((k, v) for k, v in series.items() if k[0].startswith("market_search_cache")))] = series
        if len(seen) == processes:
            break
    return list(seen.values())


def summed(replicas: list[dict], name: str, labels: str = "") -> float:
    """The sum of a series over the processes, over the labels matching the `labels` pattern."""
    return sum(v for series in replicas for (n, found), v in series.items() if n == name and re.search(labels, found))


def server_side(replicas: list[dict]) -> str:
    """Mean time in the API per kind of request (a match's wait for its turn included)."""
    routes = {"search": r'route="/v1/search/', "get": r'/\{listing_id\}"', "list": r'route="/v1/(achievements|needs)"',
              "match": r'/matches"'}
    means = []
    for kind, part in routes.items():
        count = summed(replicas, "market_http_request_duration_seconds_count", part)
        spent = summed(replicas, "market_http_request_duration_seconds_sum", part)
        means.append(f"{kind} {1000 * spent / max(count, 1):.0f} ms")
    return "mean time in the API per request: " + ", ".join(means)


async def health_during_import(http: httpx.AsyncClient, owner: dict, rows: int,
                               prefix: str) -> tuple[list[float], float]:
    lines = "\n".join(json.dumps({
        "external_id": f"{prefix}-{n}", "title": f"导入的成果{n}号：{QUERIES[n % len(QUERIES)]}装置",
        "summary": "批量导入。", "description": "批量导入的成果。", "field": "electronic_information.sensors",
        "trl": 5, "stage": "pilot", "transfer_modes": ["licence"], "region": "cd.wuhou"}, ensure_ascii=False)
        for n in range(rows))
    done = asyncio.Event()
    samples: list[float] = []

    async def probe() -> None:
        while not done.is_set():
            sent = time.perf_counter()
            await http.get("/health")
            samples.append((time.perf_counter() - sent) * 1000)
            offsets.append(sent - started)
            await asyncio.sleep(0.02)

    offsets: list[float] = []  # when each probe was sent, from the upload's start
    started = time.perf_counter()
    prober = asyncio.create_task(probe())
    response = await http.post("/v1/imports/achievements", headers=owner, files={"file": ("rows.jsonl", lines)},
                               timeout=600)
    response.raise_for_status()
    if response.status_code == 202:  # a large file is the worker's job: probe until it is done
        while response.json()["status"] not in ("done", "failed"):
            await asyncio.sleep(0.5)
            response = await http.get(f"/v1/imports/jobs/{response.json()['id']}", headers=owner)
    elapsed = time.perf_counter() - started
    done.set()
    await prober
    slowest = max(range(len(samples)), key=samples.__getitem__)
    print(f"slowest /health probe sent {offsets[slowest]:.2f} s after the upload's start")
    return samples, elapsed


async def main(args) -> None:
    async with bench_stack(dataset(args.achievements, args.needs)) as (client, ctx):
        print(f"data: {args.achievements} achievements, {args.needs} needs")
        operator = await operator_headers(client, ctx)
        universities = await organisations(client, operator, "university", 11)  # the last one: freshness
        ids = {}
        async with ctx.sessions() as session:
            for name, table in (("achievements", Achievement), ("needs", Need)):
                ids[name] = [str(i) for i in (await session.scalars(select(table.id).limit(2000))).all()]
        server = await start(args, ctx.settings, "serve")
        worker = await start(args, ctx.settings, "worker")
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{args.port}", timeout=30) as http:
                for _ in range(1200):  # up to two minutes for the server to start
                    if server.returncode is not None:
                        raise SystemExit(f"the server exited: see {args.log_dir}/load-serve.log")
                    try:
                        if (await http.get("/health")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.1)
                for listing_id in ids["needs"][:5]:  # warm-up: segmenter, thesaurus, connections
                    await http.get(f"/v1/needs/{listing_id}/matches")
                # First, with the worker idle: what Meilisearch alone serves of the same searches.
                searches = Searches()
                count, raw = await raw_search_ceiling(client, ctx, args.clients, min(args.seconds, 30), searches,
                                                      args.raw_draws)
                print(f"raw Meilisearch, the same searches from {args.clients} clients back to back: "
                      f"{count / min(args.seconds, 30):.0f}/s, p50 {percentile(raw, 0.5):.1f} ms, "
                      f"p95 {percentile(raw, 0.95):.1f} ms")
                # The generator's own full collections walk the data set and the in-process app it holds:
                # pauses of 100-160 ms that would count as the server's latency (seen in the ramp and during
                # the imports' /health probes). What it holds by now lives as long as the run.
                gc.collect()
                gc.freeze()
                timings: dict[str, list[tuple[float, float]]] = defaultdict(list)  # (started, ms)
                errors: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
                async with ctx.engine.connect() as conn:
                    load_started = await conn.scalar(text("SELECT now()"))
                # The clients join one by one over the ramp (a hundred connections opened in the same
                # instant is a start-up storm, not the load); the figures are the requests started after it.
                # Over 20 s by default, 5 a second: joined at 10 a second, clients arrived faster than they
                # parked in the live-match queue, and for ~10 s after the ramp the unparked ones flooded the
                # cheap routes, back to back (the closed loop settling, printed per 10 s below).
                steady = time.perf_counter() + args.ramp
                until = steady + args.seconds
                fresh, *_ = await asyncio.gather(
                    freshness(http, ctx, universities[-1], operator, until),
                    *(client_loop(str(http.base_url), n * args.ramp / args.clients, random.Random(n), until, ids,
                                  universities[:-1], operator, timings, errors, args.think, args.mix, searches)
                      for n in range(args.clients)))
                measured = {kind: [ms for started, ms in found if started >= steady] for kind, found in timings.items()}
                total = sum(len(t) for t in measured.values())
                print(f"{args.clients} clients (joining over {args.ramp} s) x {args.seconds} s, think time "
                      f"{args.think} s: {total} requests after the ramp ({total / args.seconds:.0f}/s)")
                print(f"{'kind':<8} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p95 ms, ramp included':>22} errors")
                for kind, _ in args.mix:
                    samples, whole = measured[kind], [ms for _, ms in timings[kind]]
                    print(f"{kind:<8} {len(samples):>7} {percentile(samples, 0.5):>8.1f} "
                          f"{percentile(samples, 0.95):>8.1f} {percentile(whole, 0.95):>22.1f} "
                          f"{dict(errors[kind]) or 0}")
                # When the cheap requests' tail happens: all along, or in bursts (the ramp is the first window).
                windows: dict[int, list[float]] = defaultdict(list)
                for kind in ("search", "read"):
                    for started, ms in timings[kind]:
                        windows[int((started - steady + args.ramp) // 10)].append(ms)
                print("search and reads per 10 s from the ramp on, p95 ms (requests): " + ", ".join(
                    f"{percentile(found, 0.95):.0f} ({len(found)})" for _, found in sorted(windows.items())))
                # Little's law per kind: the clients a kind holds on average (its requests' time over the span
                # from the ramp's end to the last answer). Clients sending back to back, the cheap requests'
                # latency is set by the clients not held.
                span = max(started + ms / 1000 for found in timings.values() for started, ms in found) - steady
                held = {kind: sum(found) / 1000 / span for kind, found in measured.items()}
                print("clients held on average, per kind: " + ", ".join(f"{kind} {n:.1f}" for kind, n in held.items()))
                print(await worker_batches(ctx, load_started))
                replicas = await server_metrics(args.port, args.web_concurrency)
                hits = int(summed(replicas, "market_search_cache_hits_total"))
                misses = int(summed(replicas, "market_search_cache_misses_total"))
                print(f"search microcache: {hits / max(1, hits + misses):.0%} hits ({hits} of {hits + misses}; "
                      f"/metrics of {len(replicas)} of {args.web_concurrency} API processes)")
                print(server_side(replicas))
                for name, samples in (("publish → searchable", fresh["searchable"]),
                                      ("publish → leads computed", fresh["leads"])):
                    print(f"{name} under this load: p50 {percentile(samples, 0.5):.0f} ms, "
                          f"p95 {percentile(samples, 0.95):.0f} ms ({len(samples)} publishes)")
                # A large file is the worker's job; one up to IMPORT_SYNC_MAX_ROWS is written in the request.
                for rows, prefix in ((args.import_rows, "IMP"), (args.sync_import_rows, "SYN")):
                    samples, elapsed = await health_during_import(http, universities[0], rows, prefix)
                    print(f"/health during a {rows}-row import ({elapsed:.1f} s): "
                          f"p50 {statistics.median(samples):.1f} ms, p95 {percentile(samples, 0.95):.1f} ms, "
                          f"max {max(samples):.1f} ms ({len(samples)} probes)")
        finally:
            for process, name in ((server, "server"), (worker, "worker")):
                await stop(process, name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--achievements", type=int, default=100_000)
    parser.add_argument("--needs", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=100, choices=range(1, 201), metavar="1..200")
    parser.add_argument("--seconds", type=int, default=60, choices=range(1, 301), metavar="1..300")
    parser.add_argument("--ramp", type=float, default=20.0, help="seconds over which the clients join")
    parser.add_argument("--mix", type=weights, default=weights(MIX), help=f"request kinds and weights ({MIX})")
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds a client waits between requests (0: back to back, the saturation test)")
    parser.add_argument("--import-rows", type=int, default=10_000)
    parser.add_argument("--sync-import-rows", type=int, default=1_000,
                        help="a file imported in the request (up to IMPORT_SYNC_MAX_ROWS)")
    parser.add_argument("--raw-draws", type=int, default=500, help="searches the raw Meilisearch ceiling replays")
    parser.add_argument("--port", type=int, default=free_port())
    parser.add_argument("--web-concurrency", type=int, default=2, help="API processes (WEB_CONCURRENCY)")
    parser.add_argument("--log-dir", default="/tmp", help="where the server's and the worker's logs go")
    asyncio.run(main(parser.parse_args()))
