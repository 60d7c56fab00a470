"""Outcomes feed ranking: dismissals lower a pair and keep the reason, won leads teach term associations
that later matches use and explain, and operators see the quality figures."""

from datetime import UTC, datetime

from tests.api.test_matching import TEA_NEED, TEA_PICKER, _picker_and_need, served
from tests.factories import create_listing


async def _lead(client, broker, need_id: str) -> dict:
    return (await client.get("/v1/leads", headers=broker.headers, params={"need_id": need_id})).json()["items"][0]


async def test_a_party_dismisses_a_lead_its_score_drops_and_the_reason_is_kept(client, market, sync):
    uni, firm, _, need = await _picker_and_need(market, sync)
    broker, stranger = await market.broker(), await market.organisation("enterprise")
    lead = await _lead(client, broker, need["id"])
    body = {"reason": "我们要的是整机，不是末端部件"}
    path = f"/v1/leads/{lead['id']}/dismiss"
    assert (await client.post(path, headers=stranger.headers, json=body)).status_code == 404
    assert (await client.post(path, headers=broker.headers, json=body)).status_code == 403
    dismissed = await client.post(path, headers=firm.headers, json=body)
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()["score"] < lead["score"]
    assert dismissed.json()["reasons"]["dismissed"]["reason"] == body["reason"]

    await client.patch(f"/v1/needs/{need['id']}", headers=firm.headers, json={"deadline": "2027-09-01"})
    await sync()  # a recomputation keeps the pair lowered, with its reason
    again = await _lead(client, broker, need["id"])
    assert again["score"] == dismissed.json()["score"] and again["reasons"]["dismissed"]["reason"] == body["reason"]
    live = served(await client.get(f"/v1/needs/{need['id']}/matches"))["matches"][0]
    assert live["reasons"]["dismissed"]["reason"] == body["reason"]


async def test_won_leads_teach_an_association_a_later_match_explains(client, market, sync, ctx):
    from services.matching.outcomes import record_outcome, tick_learn

    uni = await market.organisation("university")
    picker = await create_listing(market, "achievements", uni, external_id="T-1", **TEA_PICKER)
    firms = [await market.organisation("enterprise") for _ in range(2)]
    needs = [await create_listing(market, "needs", firm, **TEA_NEED | {"title": f"茶园采摘缺人手{i}"})
             for i, firm in enumerate(firms)]
    await sync()
    broker = await market.broker()
    async with ctx.sessions() as session, session.begin():
        for need in needs:
            await record_outcome(session, (await _lead(client, broker, need["id"]))["id"], "won", "签约")
    await tick_learn(ctx, datetime.now(UTC))

    firm = await market.organisation("enterprise")
    later = await create_listing(market, "needs", firm, title="猕猴桃园果农老龄化", keywords=["招工难"],
                                 description="果园面积大，采果季节找不到年轻人。",
                                 field="modern_agriculture.smart_agriculture")
    await sync()
    matches = served(await client.get(f"/v1/needs/{later['id']}/matches"))["matches"]
    best = next(m for m in matches if m["id"] == picker["id"])
    assert best["reasons"]["learned"]["detail"] == "similar firms adopted this"
    assert set(best["reasons"]["learned"]["terms"]) & {"末端执行器", "采摘机器人", "嫩芽识别"}

    quality = await client.get("/v1/matching/quality", headers=(await market.operator()).headers)
    assert quality.status_code == 200, quality.text
    body = quality.json()
    assert body["engine_version"] and body["released"]["needs_hard.jsonl"]["nDCG@10"] > 0
    assert sum(band["won"] for band in body["outcomes"]) == 2 and body["associations"] > 0
    assert (await client.get("/v1/matching/quality", headers=firm.headers)).status_code == 403


async def test_associations_learned_elsewhere_reach_the_next_live_match(client, market, sync, ctx):
    """`market learn` in another process cannot clear this one's cache: the version read with the listing
    (the associations' `learned_at`) must."""
    from sqlalchemy.dialects.postgresql import insert

    from schemas.outcomes import TermAssociation

    uni, firm = await market.organisation("university"), await market.organisation("enterprise")
    picker = await create_listing(market, "achievements", uni, **TEA_PICKER)
    need = await create_listing(market, "needs", firm, title="猕猴桃园果农老龄化", keywords=["招工难"],
                                description="果园面积大，采果季节找不到年轻人。",
                                field="modern_agriculture.smart_agriculture")
    await sync()
    path = f"/v1/needs/{need['id']}/matches"
    before = (await client.get(path)).json()["matches"]  # the (empty) associations are cached now
    assert not any(m["reasons"].get("learned") for m in before)
    async with ctx.sessions() as session, session.begin():  # what another process's `learn` writes
        await session.execute(insert(TermAssociation).values(need_term="招工难", achievement_term="采摘机器人",
                                                             support=2))
    matches = (await client.get(path)).json()["matches"]
    best = next(m for m in matches if m["id"] == picker["id"])
    assert best["reasons"]["learned"]["terms"] == ["采摘机器人"]
