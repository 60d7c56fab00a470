"""The brokers' funnel (from the pipeline history) and the leaderboard (deals, conversion, rating)."""

from decimal import Decimal

from tests.factories import create_deal, create_lead


async def _worked(client, market, broker, stages, firm=None, uni=None):
    lead = await create_lead(market, firm, uni)
    assert (await client.post(f"/v1/leads/{lead['id']}/claim", headers=broker.headers)).status_code == 200
    for stage in stages:
        body = {"stage": stage, **({"reason": "price"} if stage == "lost" else {})}
        moved = await client.post(f"/v1/leads/{lead['id']}/stage", headers=broker.headers, json=body)
        assert moved.status_code == 200, moved.text
    return lead


async def test_funnel_and_leaderboard(client, market, search):
    broker1, broker2 = await market.broker(), await market.broker()
    firm, uni = await market.organisation("enterprise"), await market.organisation("university")
    won = await _worked(client, market, broker1, ["contacted", "introduced", "negotiating", "won"], firm, uni)
    await _worked(client, market, broker1, ["contacted", "introduced"])
    await _worked(client, market, broker1, ["lost"])
    await _worked(client, market, broker2, ["contacted"])
    ops = (await market.operator()).headers

    platform = (await client.get("/v1/stats/funnel", headers=ops)).json()
    [row] = platform["rows"]
    assert [(s["stage"], s["leads"]) for s in row["stages"]] == [
        ("new", 4), ("contacted", 3), ("introduced", 2), ("negotiating", 1), ("won", 1)]
    assert Decimal(row["stages"][1]["conversion"]) == Decimal("0.75") and row["lost"] == 1
    assert Decimal(row["won_rate"]) == Decimal("0.25")
    assert row["stages"][0]["median_days"] is not None and row["stages"][0]["median_days"] >= 0

    by_broker = {r["key"]: r for r in (await client.get("/v1/stats/funnel", params={"by": "broker"},
                                                        headers=ops)).json()["rows"]}
    assert by_broker[broker1.user_id]["stages"][0]["leads"] == 3
    assert by_broker[broker2.user_id]["stages"][-1]["leads"] == 0
    own = (await client.get("/v1/stats/funnel", headers=broker2.headers)).json()["rows"]
    assert [s["leads"] for s in own[0]["stages"]] == [1, 1, 0, 0, 0]
    by_field = (await client.get("/v1/stats/funnel", params={"by": "field", "format": "csv"}, headers=ops))
    assert by_field.content.decode("utf-8-sig").splitlines()[0] == "分组,名称,阶段,线索数,转化率,中位停留天数"

    deal = (await client.post(f"/v1/leads/{won['id']}/deal", headers=broker1.headers,
                              json={"contract_type": "licence", "amount": "800000.00"})).json()
    assert deal["broker_id"] == broker1.user_id
    await client.post(f"/v1/deals/{deal['id']}/sign", headers=firm.headers)
    await create_deal(market, uni, firm, sign=True, broker_id=broker2.user_id, amount="100.00",
                      technology_amount="100.00")
    rated = await client.post(f"/v1/leads/{won['id']}/ratings", headers=firm.headers,
                              json={"responsiveness": 5, "expertise": 4, "integrity": 3})
    assert rated.status_code == 201, rated.text

    board = (await client.get("/v1/stats/brokers", headers=ops)).json()["rows"]
    assert [r["broker_id"] for r in board] == [broker1.user_id, broker2.user_id]
    first = board[0]
    assert (first["deals"], first["turnover"], first["leads"], first["won"]) == (1, "800000.00", 3, 1)
    assert Decimal(first["conversion"]) == Decimal("0.3333") and first["rating"] == 4.0
    assert first["median_days_to_close"] is not None
    assert (await client.get("/v1/stats/brokers", headers=firm.headers)).status_code == 403
    xlsx = await client.get("/v1/stats/brokers", params={"format": "xlsx"}, headers=broker1.headers)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
