"""Obligations: the schedule of a deal, the fixed-amount rule, and the worker's clock moving entries."""

from datetime import UTC, datetime

from services.obligations import tick_obligations
from tests.factories import create_deal


async def _signed_deal(market, **overrides):
    uni, firm = await market.organisation("university"), await market.organisation("enterprise")
    broker = await market.broker()
    deal = await create_deal(market, uni, firm, sign=True, broker_id=broker.user_id, **overrides)
    return uni, firm, broker, deal


async def test_fixed_amounts_never_add_up_above_the_contract_amount(client, market):
    uni, firm, _, deal = await _signed_deal(market)  # amount 1,200,000.00
    path = f"/v1/deals/{deal['id']}/obligations"
    upfront = await client.post(path, headers=uni.headers, json={
        "kind": "upfront", "title": "首付款", "due_on": "2026-04-15", "amount": "300000.00"})
    assert upfront.status_code == 201, upfront.text
    recurring = await client.post(path, headers=uni.headers, json={
        "kind": "recurring", "title": "分期款", "due_on": "2026-07-31", "amount": "200000.00",
        "recurrence": {"every": "quarter", "count": 4}})
    assert [o["due_on"] for o in recurring.json()] == ["2026-07-31", "2026-10-31", "2027-01-31", "2027-04-30"]
    royalty = await client.post(path, headers=uni.headers, json={
        "kind": "royalty", "title": "销售提成", "due_on": "2027-01-31",
        "royalty": {"rate": "0.0300", "base": "许可产品年度净销售额", "period": "year", "periods": 3}})
    assert royalty.status_code == 201 and len(royalty.json()) == 3 and royalty.json()[0]["amount"] is None

    over = await client.post(path, headers=firm.headers, json={
        "kind": "milestone", "title": "验收款", "deliverable": "样机验收", "due_on": "2027-06-30",
        "amount": "100000.01"})
    assert over.status_code == 422 and over.json()["field"] == "body.amount"
    assert over.json()["code"] == "obligation.exceeds_amount"
    exact = await client.post(path, headers=firm.headers, json={
        "kind": "milestone", "title": "验收款", "deliverable": "样机验收", "due_on": "2027-06-30",
        "amount": "100000.00"})
    assert exact.status_code == 201
    raise_one = await client.patch(f"{path}/{upfront.json()[0]['id']}", json={"amount": "300000.01"},
                                   headers=uni.headers)
    assert raise_one.status_code == 422 and raise_one.json()["field"] == "body.amount"
    shrink = await client.patch(f"/v1/deals/{deal['id']}", json={"amount": "1000000.00", "technology_amount":
                                "900000.00"}, headers=uni.headers)
    assert shrink.status_code == 422 and shrink.json()["field"] == "body.amount"
    no_deliverable = await client.post(path, headers=firm.headers, json={
        "kind": "milestone", "title": "验收款", "due_on": "2027-06-30", "amount": "1.00"})
    assert no_deliverable.status_code == 422


async def test_the_worker_moves_entries_to_due_and_overdue_and_emits_events(client, market, ctx):
    uni, firm, broker, deal = await _signed_deal(market)
    path = f"/v1/deals/{deal['id']}/obligations"
    for due_on in ("2026-05-01", "2026-05-20", "2026-09-01"):
        await client.post(path, headers=uni.headers, json={
            "kind": "upfront", "title": f"款项 {due_on}", "due_on": due_on, "amount": "1000.00"})

    counts = await tick_obligations(ctx, datetime(2026, 5, 15, 2, tzinfo=UTC))
    assert counts == {"deal.obligation_overdue": 1, "deal.obligation_due": 1}
    statuses = {o["due_on"]: o["status"] for o in (await client.get(path, headers=firm.headers)).json()}
    assert statuses == {"2026-05-01": "overdue", "2026-05-20": "due", "2026-09-01": "pending"}
    again = await tick_obligations(ctx, datetime(2026, 5, 15, 2, tzinfo=UTC))
    assert again == {"deal.obligation_overdue": 0, "deal.obligation_due": 0}  # idempotent

    async with ctx.sessions() as session:
        from sqlalchemy import select

        from schemas.tables import OutboxEvent
        topics = sorted((await session.scalars(select(OutboxEvent.topic).where(
            OutboxEvent.topic.like("deal.obligation_%")))).all())
    assert topics == ["deal.obligation_due", "deal.obligation_overdue"]

    for caller in (uni, firm, broker, await market.operator()):
        overdue = (await client.get("/v1/obligations/overdue", headers=caller.headers)).json()
        assert [o["due_on"] for o in overdue] == ["2026-05-01"]
    stranger = await market.organisation("enterprise")
    assert (await client.get("/v1/obligations/overdue", headers=stranger.headers)).json() == []
    ops = (await market.operator()).headers
    by_org = await client.get("/v1/obligations/overdue", params={"organisation_id": stranger.organisation_id},
                              headers=ops)
    assert by_org.json() == []

    overdue_id = next(o["id"] for o in (await client.get(path, headers=firm.headers)).json()
                      if o["status"] == "overdue")
    paid = await client.post(f"{path}/{overdue_id}/pay", json={"paid_on": "2026-05-16"}, headers=firm.headers)
    assert paid.json()["status"] == "paid" and paid.json()["paid_on"] == "2026-05-16"
    assert (await client.post(f"{path}/{overdue_id}/pay", json={}, headers=firm.headers)).status_code == 409
    pending_id = next(o["id"] for o in (await client.get(path, headers=firm.headers)).json()
                      if o["status"] == "pending")
    refused = await client.post(f"{path}/{pending_id}/waive", json={"note": "买方不能豁免"}, headers=firm.headers)
    assert refused.status_code == 403
    waived = await client.post(f"{path}/{pending_id}/waive", json={"note": "合同变更"}, headers=uni.headers)
    assert waived.json()["status"] == "waived"


async def test_a_draft_deal_schedule_does_not_run(client, market, ctx):
    uni, firm = await market.organisation("university"), await market.organisation("enterprise")
    deal = await create_deal(market, uni, firm)
    await client.post(f"/v1/deals/{deal['id']}/obligations", headers=uni.headers, json={
        "kind": "upfront", "title": "首付款", "due_on": "2026-01-01", "amount": "1000.00"})
    assert await tick_obligations(ctx, datetime(2026, 5, 15, tzinfo=UTC)) == {
        "deal.obligation_overdue": 0, "deal.obligation_due": 0}
