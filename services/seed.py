"""`market seed`: the demo organisations and listings from seed/demo, loaded idempotently.

The taxonomy needs no loading (it is read from seed/taxonomy); demo listings go through the same
validation and upsert as a bulk import, in the status their file gives.
"""

from collections import defaultdict

import yaml
from sqlalchemy import select

from schemas.enums import ListingStatus, ListKind
from schemas.tables import Organisation
from services import imports
from services.demo_deals import load_deals
from services.principal import Principal
from services.taxonomy import SEED

DEMO = SEED / "demo"
FILES = {ListKind.achievements: "achievements.jsonl", ListKind.needs: "needs.jsonl"}


async def load_seed(ctx, demo: bool) -> dict[str, int]:
    counts: dict[str, int] = {}
    if not demo:
        return counts
    organisations = yaml.safe_load((DEMO / "organisations.yaml").read_text(encoding="utf-8"))
    by_key: dict[str, Organisation] = {}
    async with ctx.sessions() as session, session.begin():
        for entry in organisations:
            org = await session.scalar(select(Organisation).where(Organisation.credit_code == entry["credit_code"]))
            if org is None:
                org = Organisation(kind=entry["kind"], name=entry["name"], credit_code=entry["credit_code"],
                                   region=entry.get("region"), contact=entry.get("contact") or {})
                session.add(org)
                await session.flush()
            by_key[entry["key"]] = org
    counts["organisations"] = len(by_key)
    for kind, name in FILES.items():
        rows_by_org: dict[str, list[dict]] = defaultdict(list)
        for row in imports.parse((DEMO / name).read_bytes(), "jsonl"):
            rows_by_org[row.get("org")].append(row)
        loaded = 0
        for key, rows in rows_by_org.items():
            org = by_key[key]
            plan = imports.validate(kind, rows, ignore={"org", "status"})
            if plan.report.errors:
                raise ValueError(f"seed/demo/{name}: {plan.report.errors[:3]}")
            principal = Principal(kind="system", organisation_id=org.id, org_kind=org.kind)
            async with ctx.sessions() as session, session.begin():
                await imports.apply(session, principal, kind, plan,
                                    lambda raw: ListingStatus(raw.get("status", "published")))
            loaded += len(rows)
        counts[kind.value] = loaded
    counts["deals"] = await load_deals(ctx, by_key)
    return counts
