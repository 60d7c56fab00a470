"""`make run`'s demo deals load into the database once, and the clock leaves obligations in every state."""

import yaml
from sqlalchemy import func, select

from schemas.deals import Deal, DealObligation
from schemas.tables import Organisation
from services.demo_deals import load_deals
from services.taxonomy import SEED


async def test_demo_deals_load_idempotently_with_obligations_in_every_state(client, ctx):
    entries = yaml.safe_load((SEED / "demo" / "organisations.yaml").read_text(encoding="utf-8"))
    async with ctx.sessions() as session, session.begin():
        orgs = {e["key"]: Organisation(kind=e["kind"], name=e["name"], region=e.get("region")) for e in entries}
        session.add_all(orgs.values())
    first = await load_deals(ctx, orgs)
    assert await load_deals(ctx, orgs) == first
    async with ctx.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Deal)) == first
        states = set((await session.scalars(select(DealObligation.status).distinct())).all())
    assert states == {"pending", "due", "overdue", "paid", "waived"}
    years = (await client.get("/v1/stats/public")).json()
    assert years["rows"] == []  # nothing is public until an operator says so
