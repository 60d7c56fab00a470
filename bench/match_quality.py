"""Matching quality on the labelled set (bench/data/labelled): recall@10, MRR and nDCG@10.

Loads the set through the API (organisations, bulk import, review), lets the worker index it, then
asks `GET /v1/needs/{id}/matches` for every need and compares with the graded labels.
Run: `make bench-quality` (embedded services, or DATABASE_URL / MEILI_URL).
"""

import asyncio
import json
import math
import sys
import time
from pathlib import Path

from bench.stack import bench_stack, operator_headers, register_organisations
from services.worker import drain

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
        await drain(ctx)
        elapsed = time.perf_counter() - started
        print(f"loaded {len(achievements)} achievements and {len(needs)} needs in {elapsed:.0f} s")
        for name, rows in sets.items():
            print(f"\n{name}")
            await evaluate(client, rows, need_ids, {v: k for k, v in achievement_ids.items()},
                           {a["external_id"]: a for a in achievements})


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


def _is_traditional(listing: dict) -> bool:
    from services.text import normalise

    text = listing["title"] + listing.get("description", "")
    return normalise(text) != text.lower() and any(c in text for c in "們這個業術產電發開數機體")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
