"""Matching quality on the labelled set (bench/data/labelled): recall@10, MRR and nDCG@10.

Loads the set through the API (organisations, bulk import, review), builds the indexes with their
vectors (the encoding rate is printed), then asks `GET /v1/needs/{id}/matches` for every need and
compares with the graded labels. Then, calling the engine directly, it measures the semantic signal
alone, sweeps the semantic weight and the vector query's pool size, chooses them by 5-fold
cross-validation over the needs of both files (the best symptom-only nDCG@10 among the configurations that
keep the word-sharing nDCG@10 at or above the term engine's), and prints the calibration table (score band → share
of matches that are relevant). Run: `make bench-quality` (embedded services, or DATABASE_URL / MEILI_URL).
"""

import asyncio
import json
import math
import sys
import time
from pathlib import Path

from bench.stack import bench_stack, operator_headers, register_organisations

DATA = Path(__file__).parent / "data" / "labelled"
K = 10
NEED_FILES = ["needs.jsonl", "needs_hard.jsonl"]  # the second: symptom-only needs that share few words


def ndcg(ranked: list[str], grades: dict[str, int], k: int = K) -> float:
    dcg = sum((2 ** grades.get(doc, 0) - 1) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    best = sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / best if best else 0.0


def reciprocal_rank(ranked: list[str], grades: dict[str, int]) -> float:
    return next((1 / (i + 1) for i, doc in enumerate(ranked) if grades.get(doc, 0) > 0), 0.0)


def recall(ranked: list[str], grades: dict[str, int], k: int = K) -> float:
    relevant = {d for d, g in grades.items() if g > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


async def _load(client, ctx, kind: str, rows: list[dict], orgs: dict, operator: dict) -> dict[str, str]:
    """Import each organisation's rows, approve them, and return external_id -> id."""
    by_org: dict[str, list[dict]] = {}
    for row in rows:
        clean = {k: v for k, v in row.items() if k not in ("org", "status", "relevant")}
        by_org.setdefault(row["org"], []).append(clean)
    ids = {}
    for key, org_rows in by_org.items():
        content = "\n".join(json.dumps(r, ensure_ascii=False) for r in org_rows).encode()
        report = (await client.post(f"/v1/imports/{kind}", headers=orgs[key]["headers"],
                                    files={"file": ("rows.jsonl", content)})).json()
        assert report["failed"] == 0, report["errors"][:3]
        cursor = None
        while True:
            params = {"organisation_id": orgs[key]["id"], "limit": 100} | ({"cursor": cursor} if cursor else {})
            page = (await client.get(f"/v1/{kind}", params=params, headers=orgs[key]["headers"])).json()
            for item in page["items"]:
                ids[item["external_id"]] = item["id"]
                await client.post(f"/v1/{kind}/{item['id']}/approve", headers=operator)
            if not (cursor := page["next_cursor"]):
                break
    return ids


async def index(ctx) -> None:
    """Build the indexes (documents and vectors in bulk, as `market reindex` does) instead of draining the
    outbox: live matches need the indexes, not the persisted leads, whose refresh cascade would take ~20
    minutes on a busy 2-core machine."""
    from sqlalchemy import func, update

    from schemas.tables import OutboxEvent
    from services.search.sync import rebuild

    async with ctx.sessions() as session, session.begin():
        await session.execute(update(OutboxEvent).values(processed_at=func.now()))
    await rebuild(ctx)


async def main() -> None:
    async with bench_stack() as (client, ctx):
        started = time.perf_counter()
        operator = await operator_headers(client, ctx)
        orgs = await register_organisations(client, operator, DATA / "organisations.yaml")
        achievements = _rows("achievements.jsonl")
        sets = {name: _rows(name) for name in NEED_FILES if (DATA / name).exists()}
        needs = [need for rows in sets.values() for need in rows]
        achievement_ids = await _load(client, ctx, "achievements", achievements, orgs, operator)
        need_ids = await _load(client, ctx, "needs", needs, orgs, operator)
        await index(ctx)
        elapsed = time.perf_counter() - started
        print(f"loaded {len(achievements)} achievements and {len(needs)} needs in {elapsed:.0f} s")
        external = {v: k for k, v in achievement_ids.items()}
        for name, rows in sets.items():
            print(f"\n{name}")
            await evaluate(client, rows, need_ids, external, {a["external_id"]: a for a in achievements})
        await encoding_rate()
        await sweep(ctx, sets, need_ids, external)


async def evaluate(client, needs: list[dict], need_ids: dict, external: dict, by_id: dict) -> None:
    """Ask the live matches of every judged need and print the metrics against its labels."""
    scores = {"recall@10": [], "MRR": [], "nDCG@10": []}
    cross_script, cross_field = [0, 0], [0, 0]
    for need in needs:
        grades = need.get("relevant") or {}
        if not grades:
            continue
        body = (await client.get(f"/v1/needs/{need_ids[need['external_id']]}/matches",
                                 params={"limit": K})).json()
        ranked = [external[m["id"]] for m in body["matches"]]
        scores["recall@10"].append(recall(ranked, grades))
        scores["MRR"].append(reciprocal_rank(ranked, grades))
        scores["nDCG@10"].append(ndcg(ranked, grades))
        for doc in grades:
            other = by_id[doc]
            traditional = _is_traditional(need) != _is_traditional(other)
            different_field = need["field"].split(".")[0] != other["field"].split(".")[0]
            for tally, flag in ((cross_script, traditional), (cross_field, different_field)):
                if flag:
                    tally[0] += doc in ranked[:K]
                    tally[1] += 1
    print(f"needs judged: {len(scores['MRR'])}")
    for name, values in scores.items():
        print(f"{name:>10}: {sum(values) / len(values):.3f}")
    print(f"recall@10 of cross-script pairs: {cross_script[0] / max(cross_script[1], 1):.3f} ({cross_script[1]})")
    print(f"recall@10 of cross-field pairs:  {cross_field[0] / max(cross_field[1], 1):.3f} ({cross_field[1]})")


async def encoding_rate() -> None:
    from services.matching.semantic import encode

    texts = [f"{a['title']}。{a['summary']}{a['description']}" for a in _rows("achievements.jsonl")][:200]
    started = time.perf_counter()
    await asyncio.to_thread(encode, texts)
    rate = len(texts) / (time.perf_counter() - started)
    print(f"\nencoding: {rate:.0f} listings/s on one core; 120,000 listings: {120_000 / rate / 60:.0f} min")


GRID = [(0.0, 0)] + [(weight, 50) for weight in (0.2, 0.4, 0.6, 0.9)] + [(0.4, 20), (0.4, 100)]
FOLDS = 5


async def sweep(ctx, sets: dict[str, list[dict]], need_ids: dict, external: dict) -> None:
    """Per need and configuration (semantic weight, vector pool), the ranked achievements; then the
    semantic signal alone, the cross-validated choice, and the calibration table of the choice."""
    from sqlalchemy import select

    from schemas.enums import ListKind
    from schemas.tables import Need
    from services.matching.engine import match_listing, similarities_of
    from services.matching.terms import terms_of_row
    from services.matching.vectors import own_vector

    judged = [(name, need) for name, rows in sets.items() for need in rows if need.get("relevant")]
    async with ctx.sessions() as session:
        rows = {str(r.id): r for r in (await session.scalars(select(Need))).all()}
        vectors = {listing_id: await own_vector(session, row) for listing_id, row in rows.items()}
    runs: dict[tuple, list[tuple[str, dict, list]]] = {}
    for weight, pool in GRID:
        settings = ctx.settings.model_copy(update={"match_weight_semantic": weight, "match_semantic_pool": pool})
        out = []
        for name, need in judged:
            listing_id = need_ids[need["external_id"]]
            row = rows[listing_id]
            matches = await match_listing(ctx.search, settings, ListKind.needs, row, terms_of_row(row), K,
                                          vector=vectors[listing_id])
            out.append((name, need["relevant"], [(external[str(m.id)], m.score) for m in matches]))
        runs[(weight, pool)] = out
    alone = []
    for name, need in judged:
        vector = vectors[need_ids[need["external_id"]]]
        hits = (await ctx.search.client.search(ctx.search.uid(ListKind.achievements), {
            "vector": vector, "hybrid": {"embedder": "use", "semanticRatio": 1.0}, "limit": K,
            "showRankingScore": True, "attributesToRetrieve": ["id"]}))["hits"]
        alone.append((name, need["relevant"], [(external[h["id"]], s) for h, s in
                                               zip(hits, similarities_of(hits).values(), strict=True)]))
    print("\nsemantic signal alone (vector query only):")
    _table({"alone": alone})
    print("\nevery configuration on all needs (semantic weight, pool):")
    _table(runs)
    folds = [i % FOLDS for i in range(len(judged))]
    chosen_runs: list = [None] * len(judged)
    baseline = runs[GRID[0]] if GRID[0] == (0.0, 0) else None
    for fold in range(FOLDS):
        train = [i for i, f in enumerate(folds) if f != fold]
        best = max(runs, key=lambda config: _objective(runs[config], train, baseline))
        print(f"fold {fold}: chose {best}")
        for i, f in enumerate(folds):
            if f == fold:
                chosen_runs[i] = runs[best][i]
    print("\ncross-validated (each fold scored with the configuration chosen on the other four):")
    _table({"cv": chosen_runs})
    final = max(runs, key=lambda config: _objective(runs[config], range(len(judged)), baseline))
    print(f"\nchosen on all needs: semantic weight {final[0]}, pool {final[1]}")
    calibration(runs[final])


def _metrics(run: list, index=None) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, list]] = {}
    for i, (name, grades, ranked) in enumerate(run):
        if index is not None and i not in index:
            continue
        ids = [doc for doc, _ in ranked]
        m = out.setdefault(name, {"recall@10": [], "MRR": [], "nDCG@10": []})
        m["recall@10"].append(recall(ids, grades))
        m["MRR"].append(reciprocal_rank(ids, grades))
        m["nDCG@10"].append(ndcg(ids, grades))
    return {name: {k: sum(v) / len(v) for k, v in m.items()} for name, m in out.items()}


def _objective(run: list, index, baseline: list | None = None) -> float:
    """The symptom-only needs' nDCG@10 on the training needs, provided the word-sharing needs' nDCG@10
    does not fall below the term engine's (`baseline`, the configuration without vectors)."""
    metrics = _metrics(run, set(index))
    if baseline is not None:
        floor = _metrics(baseline, set(index))[NEED_FILES[0]]["nDCG@10"]
        if metrics[NEED_FILES[0]]["nDCG@10"] < floor:
            return -1.0
    return metrics.get(NEED_FILES[1], metrics[NEED_FILES[0]])["nDCG@10"]


def _table(runs: dict) -> None:
    for config, run in runs.items():
        cells = "  ".join(f"{name}: " + " / ".join(f"{v:.3f}" for v in m.values())
                          for name, m in _metrics(run).items())
        print(f"  {config!s:>12}  {cells}  (recall@10 / MRR / nDCG@10)")


BANDS = [0.8, 0.65, 0.5, 0.35, 0.0]


def calibration(run: list) -> None:
    """Score band → share of the top-10 matches in it that are relevant (grade ≥ 1), both files."""
    tally = {band: [0, 0] for band in BANDS}
    for _, grades, ranked in run:
        for doc, score in ranked:
            band = next(b for b in BANDS if score >= b)
            tally[band][0] += grades.get(doc, 0) > 0
            tally[band][1] += 1
    print("\ncalibration (score band: share relevant, matches):")
    for band, (hits, total) in tally.items():
        print(f"  >= {band:.2f}: {hits / total if total else 0:.2f} ({total})")


def _is_traditional(listing: dict) -> bool:
    from services.text import normalise

    text = listing["title"] + listing.get("description", "")
    return normalise(text) != text.lower() and any(c in text for c in "們這個業術產電發開數機體")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
