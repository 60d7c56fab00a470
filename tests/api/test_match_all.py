"""`market match --all` in batches: the same leads as the live match, and never a listing's own side."""

import pytest
from sqlalchemy import delete

from schemas.tables import Lead
from services.matching import batch
from services.matching.batch import match_all
from tests.api.test_matching import HEAT_PUMP, UNRELATED, WINTER_NEED
from tests.factories import create_listing

PICKER = dict(title="基于视觉识别的茶叶嫩芽定位与柔性采摘末端执行器", keywords=["嫩芽识别", "采摘机器人", "末端执行器"],
              summary="面向名优茶机械化采摘的嫩芽识别与柔性采摘技术。",
              description="采用深度学习识别茶叶嫩芽，柔性末端执行器采摘损伤率低于5%，可替代人工采茶。",
              field="artificial_intelligence.vision", trl=6, region="cd.wuhou")
NEED = dict(title="名优茶采摘全靠人工，想用采摘机器人", keywords=["采茶", "采摘机器人", "嫩芽识别"],
            description="明前茶采摘全靠人工，旺季招工难，想找嫩芽识别和采摘机器人方面的技术。",
            field="modern_agriculture.smart_agriculture", required_trl=5, region="cd.pujiang")


async def _need_view(client, broker, need_id: str, scores: bool = False) -> list:
    leads = (await client.get("/v1/leads", headers=broker.headers,
                              params={"need_id": need_id, "view": "need"})).json()["items"]
    return [(lead["achievement"]["id"], lead["score"]) if scores else lead["achievement"]["id"] for lead in leads]


@pytest.mark.commits  # batches run at once
async def test_batches_store_the_live_ranking_and_leave_out_the_listings_own_organisation(
        client, market, sync, ctx, monkeypatch):
    monkeypatch.setattr(batch, "BATCH", 2)  # several batches, sharing the run's term answers
    institute = await market.organisation("institute")
    other = await market.organisation("university")
    firms = [await market.organisation("enterprise") for _ in range(3)]
    own = await create_listing(market, "achievements", institute, external_id="A-0", **PICKER)
    achievements = [own] + [
        await create_listing(market, "achievements", other, external_id=f"A-{n}",
                             **{**PICKER, "title": PICKER["title"] + f"（第{n}代）"}) for n in range(1, 4)]
    needs = [await create_listing(market, "needs", institute, **NEED)]
    needs += [await create_listing(market, "needs", firm, **NEED) for firm in firms]
    await sync()
    broker = await market.broker()
    live = {need["id"]: [m["id"] for m in (await client.get(f"/v1/needs/{need['id']}/matches")).json()["matches"]]
            for need in needs}
    assert own["id"] not in live[needs[0]["id"]] and own["id"] in live[needs[1]["id"]]

    assert await match_all(ctx) == len(achievements) + len(needs)
    for need in needs:
        assert await _need_view(client, broker, need["id"]) == live[need["id"]]


async def test_vector_candidates_found_in_memory_rank_as_the_live_vector_query_does(client, market, sync, ctx):
    """`match --all` finds its vector candidates by one matrix product per batch, not Meilisearch's
    vector query: a need that shares no term with the achievement that solves it gets the same leads,
    with the same scores, as its live match."""
    uni, institute = await market.organisation("university"), await market.organisation("institute")
    firm, other_firm = await market.organisation("enterprise"), await market.organisation("enterprise")
    pump = await create_listing(market, "achievements", uni, external_id="V-1", **HEAT_PUMP)
    await create_listing(market, "achievements", uni, external_id="V-2", **UNRELATED)
    await create_listing(market, "achievements", institute, external_id="V-3", **PICKER)
    needs = [await create_listing(market, "needs", firm, **WINTER_NEED),
             await create_listing(market, "needs", other_firm, **NEED)]
    await sync()
    broker = await market.broker()
    live = {need["id"]: [(m["id"], m["score"]) for m in
                         (await client.get(f"/v1/needs/{need['id']}/matches")).json()["matches"]] for need in needs}
    assert [found for found, _ in live[needs[0]["id"]]] == [pump["id"]]  # by meaning alone

    await match_all(ctx)
    for need in needs:
        stored = await _need_view(client, broker, need["id"], scores=True)
        assert [found for found, _ in stored] == [found for found, _ in live[need["id"]]]
        for (_, score), (_, live_score) in zip(stored, live[need["id"]], strict=True):
            assert abs(score - live_score) <= 1e-3  # exact cosines against the index's, to its rounding


@pytest.mark.commits  # other processes write the leads
async def test_several_processes_store_the_same_leads_as_one(client, market, sync, ctx):
    """`market match --all --processes 2`: each phase's listings shared between two processes (the needs all
    done before the achievements start) store the leads one process stores."""
    uni, institute = await market.organisation("university"), await market.organisation("institute")
    firms = [await market.organisation("enterprise") for _ in range(3)]
    await create_listing(market, "achievements", uni, external_id="P-1", **PICKER)
    await create_listing(market, "achievements", institute, external_id="P-2", **HEAT_PUMP)
    await create_listing(market, "achievements", uni, external_id="P-3", **UNRELATED)
    needs = [await create_listing(market, "needs", firms[0], **NEED),
             await create_listing(market, "needs", firms[1], **WINTER_NEED),
             await create_listing(market, "needs", firms[2], **{**NEED, "title": "茶园采摘缺人，求自动化方案"})]
    await sync()
    broker = await market.broker()
    assert await match_all(ctx) == 6
    one = {need["id"]: await _need_view(client, broker, need["id"], scores=True) for need in needs}
    assert any(one.values())

    async with ctx.sessions() as session, session.begin():
        await session.execute(delete(Lead))
    assert not any([await _need_view(client, broker, need["id"]) for need in needs])

    chunk = batch.CHUNK
    try:
        batch.CHUNK = 1  # each listing its own chunk: both processes get work in each phase
        assert await match_all(ctx, processes=2) == 6
    finally:
        batch.CHUNK = chunk
    assert {need["id"]: await _need_view(client, broker, need["id"], scores=True) for need in needs} == one
