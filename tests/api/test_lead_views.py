"""A need's (or an achievement's) own view of its leads: its top K in rank order."""

from sqlalchemy import text

from tests.api.test_matching import _picker_and_need
from tests.factories import create_listing

UNRELATED = dict(title="高炉煤气余热回收发电系统", keywords=["余热回收", "高炉煤气"], summary="钢铁厂余热发电。",
                 field="advanced_energy.hydrogen", trl=7, stage="pilot")


async def test_the_needs_view_is_its_own_top_k_in_rank_order(client, market, sync, ctx):
    uni, _, picker, need = await _picker_and_need(market, sync)
    broker = await market.broker()
    unrelated = await create_listing(market, "achievements", uni, external_id="U-1", **UNRELATED)
    await sync()
    # With a larger list the need's top K would not hold this pair; only the achievement's top K would.
    async with ctx.sessions() as session, session.begin():
        await session.execute(text("UPDATE lead SET need_rank = NULL WHERE achievement_id = :id"),
                              {"id": unrelated["id"]})
    everything = (await client.get("/v1/leads", headers=broker.headers, params={"need_id": need["id"]})).json()
    assert unrelated["id"] in {lead["achievement"]["id"] for lead in everything["items"]}

    own = (await client.get("/v1/leads", headers=broker.headers,
                            params={"need_id": need["id"], "view": "need"})).json()["items"]
    ranks = [lead["need_rank"] for lead in own]
    assert ranks == sorted(ranks) and None not in ranks and ranks[0] == 1
    assert own[0]["achievement"]["id"] == picker["id"] and unrelated["id"] not in [
        lead["achievement"]["id"] for lead in own]

    theirs = (await client.get("/v1/leads", headers=broker.headers,
                               params={"achievement_id": picker["id"], "view": "achievement"})).json()["items"]
    assert [lead["need"]["id"] for lead in theirs][:1] == [need["id"]] and theirs[0]["achievement_rank"] == 1
    assert (await client.get("/v1/leads", headers=broker.headers, params={"view": "firm"})).status_code == 422


async def test_the_needs_view_pages_by_rank(client, market, sync):
    _, _, _, need = await _picker_and_need(market, sync)
    broker = await market.broker()
    first = (await client.get("/v1/leads", headers=broker.headers,
                              params={"need_id": need["id"], "view": "need", "limit": 1})).json()
    assert len(first["items"]) == 1 and first["items"][0]["need_rank"] == 1
    if first["next_cursor"]:
        rest = (await client.get("/v1/leads", headers=broker.headers, params={
            "need_id": need["id"], "view": "need", "limit": 1, "cursor": first["next_cursor"]})).json()
        assert rest["items"][0]["need_rank"] >= 1 and rest["items"][0]["id"] != first["items"][0]["id"]
