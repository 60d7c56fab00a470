"""The demo data `make run` loads: brokers with profiles and leads in every stage, loaded idempotently."""

from sqlalchemy import func, select

from schemas.brokers import BrokerRating, Introduction, LeadActivity
from schemas.tables import Lead
from services.seed import load_seed


async def test_demo_pipeline_has_every_stage_a_confidential_introduction_and_ratings(client, ctx, market):
    first = await load_seed(ctx, demo=True)
    assert first["pipeline_leads"] == 6
    again = await load_seed(ctx, demo=True)
    assert again["pipeline_leads"] == 0
    async with ctx.sessions() as session:
        stages = set((await session.scalars(select(Lead.stage))).all())
        assert stages == {"new", "contacted", "introduced", "negotiating", "won", "lost"}
        consented = (await session.scalars(select(Introduction).where(Introduction.kind == "consent"))).all()
        assert len(consented) == 1
        assert await session.scalar(select(func.count()).select_from(BrokerRating)) == 2
        assert await session.scalar(select(func.count()).select_from(LeadActivity)) >= 6
    brokers = (await client.get("/v1/brokers")).json()["items"]
    assert len(brokers) == 3
    li = next(b for b in brokers if b["level"] == "senior")
    assert li["figures"]["won_12m"] == 1 and li["figures"]["lost_12m"] == 1
    assert li["figures"]["ratings"]["count"] == 2
    headers = await market.login("zhou.broker@rongchuang.example.cn", "demo-password-2026")
    overdue = (await client.get("/v1/leads/follow-ups", headers=headers)).json()
    assert len(overdue) == 1 and overdue[0]["lead"]["need"]["organisation_name"] != "某企业"  # consented
