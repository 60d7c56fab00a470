"""Statistics speed: 100,000 deals over five years, then p50/p95 of every statistics endpoint through the API.

Run: `make bench-stats` (or `python -m bench.stats_speed --deals 10000` for a quick run).
"""

import argparse
import asyncio
import random
import statistics
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import insert

from bench.stack import bench_stack, operator_headers
from schemas.deals import Deal
from schemas.enums import ContractType, OrgKind, Role
from schemas.tables import Organisation, User
from services.taxonomy import taxonomy

ENDPOINTS = [*(f"/v1/stats/turnover?by={d}" for d in (
    "year", "quarter", "month", "field", "contract_type", "seller_type", "seller", "buyer_region", "broker")),
    "/v1/stats/turnover?by=month&since=2026-01-01&until=2026-06-30", "/v1/stats/turnover?by=seller&format=xlsx",
    "/v1/stats/growth", "/v1/stats/public", "/v1/stats/funnel?by=broker", "/v1/stats/brokers"]


async def load(ctx, deals: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    fields = [code for code, node in taxonomy().fields.items() if node.parent]
    regions = list(taxonomy().regions)
    kinds = [OrgKind.university] * 2 + [OrgKind.institute] + [OrgKind.enterprise] * 6
    orgs = [{"id": uuid.uuid4(), "kind": rng.choice(kinds), "name": f"单位{i}", "region": rng.choice(regions)}
            for i in range(500)]
    agency = {"id": uuid.uuid4(), "kind": OrgKind.agency, "name": "技术转移中心", "region": "cd.tianfu"}
    brokers = [{"id": uuid.uuid4(), "organisation_id": agency["id"], "email": f"b{i}@bench.example.cn",
                "display_name": f"经纪人{i}", "password_hash": "!", "roles": [Role.broker.value]} for i in range(50)]
    seller_type = {"university": "university", "institute": "institute", "enterprise": "enterprise"}
    async with ctx.sessions() as session, session.begin():
        await session.execute(insert(Organisation), [*orgs, agency])
        await session.execute(insert(User), brokers)
        rows = []
        for n in range(deals):
            seller, buyer = rng.sample(orgs, 2)
            amount = Decimal(rng.randrange(10_000_00, 5_000_000_00)) / 100
            registered = rng.random() < 0.5
            rows.append({
                "id": uuid.uuid4(), "status": rng.choice(["signed", "performing", "completed", "completed", "draft"]),
                "contract_type": rng.choice(list(ContractType)).value, "seller_id": seller["id"],
                "buyer_id": buyer["id"], "title": f"合同{n}", "field": rng.choice(fields),
                "seller_type": seller_type.get(seller["kind"], "other"),
                "signed_on": date(2022, 1, 1) + timedelta(days=rng.randrange(5 * 365)), "amount": amount,
                "technology_amount": amount * Decimal("0.8"), "currency": "CNY",
                "broker_id": rng.choice(brokers)["id"] if rng.random() < 0.6 else None,
                "registration_state": "registered" if registered else "unregistered",
                "certified_income": (amount * Decimal("0.75")).quantize(Decimal("0.01")) if registered else None,
            })
            if len(rows) == 5000:
                await session.execute(insert(Deal), rows)
                rows = []
        if rows:
            await session.execute(insert(Deal), rows)
    async with ctx.engine.begin() as conn:
        await conn.exec_driver_sql("ANALYZE deal")


async def main(deals: int, repeat: int) -> None:
    async with bench_stack() as (client, ctx):
        started = time.perf_counter()
        await load(ctx, deals)
        print(f"loaded {deals} deals in {time.perf_counter() - started:.1f} s")
        headers = await operator_headers(client, ctx)
        await client.put("/v1/stats/public/2025", headers=headers)
        print("| endpoint | p50 | p95 |\n|---|---|---|")
        for path in ENDPOINTS:
            timings = []
            for _ in range(repeat + 2):
                t0 = time.perf_counter()
                response = await client.get(path, headers=headers)
                timings.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, response.text
            timings = sorted(timings[2:])  # the first two warm the caches
            p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
            print(f"| `{path}` | {statistics.median(timings):.1f} ms | {p95:.1f} ms |", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.deals, args.repeat))
