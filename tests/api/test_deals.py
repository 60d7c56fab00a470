"""Deals: recording a contract, its lifecycle, amendments, a deal from a lead, and who sees what."""

from tests.factories import create_deal, create_listing, deal_body


async def test_a_party_records_a_deal_and_moves_it_through_its_lifecycle(client, university, firm):
    created = await client.post("/v1/deals", json=deal_body(university, firm, signed_on=None),
                                headers=university.headers)
    assert created.status_code == 201, created.text
    deal = created.json()
    assert deal["status"] == "draft" and deal["seller_type"] == "university"
    assert deal["contract_type_label"] == "技术许可" and deal["amount"] == "1200000.00"
    assert deal["registration"]["state"] == "unregistered"

    start_early = await client.post(f"/v1/deals/{deal['id']}/start", headers=firm.headers)
    assert start_early.status_code == 409 and start_early.json()["code"] == "deal.illegal_transition"

    signed = await client.post(f"/v1/deals/{deal['id']}/sign", headers=firm.headers)
    assert signed.status_code == 200 and signed.json()["status"] == "signed" and signed.json()["signed_on"]
    assert (await client.post(f"/v1/deals/{deal['id']}/sign", headers=firm.headers)).status_code == 409
    started = await client.post(f"/v1/deals/{deal['id']}/start", headers=university.headers)
    assert started.json()["status"] == "performing"
    done = await client.post(f"/v1/deals/{deal['id']}/complete", headers=university.headers)
    assert done.json()["status"] == "completed"
    late = await client.post(f"/v1/deals/{deal['id']}/terminate", json={"reason": "太晚了"}, headers=university.headers)
    assert late.status_code == 409 and late.json()["code"] == "deal.illegal_transition"
    refused = await client.patch(f"/v1/deals/{deal['id']}", json={"title": "改"}, headers=university.headers)
    assert refused.status_code in (409, 422)


async def test_termination_needs_a_reason_and_keeps_it(client, market, university, firm):
    deal = await create_deal(market, university, firm, sign=True)
    assert (await client.post(f"/v1/deals/{deal['id']}/terminate", json={}, headers=firm.headers)).status_code == 422
    ended = await client.post(f"/v1/deals/{deal['id']}/terminate", json={"reason": "买方资金未到位"},
                              headers=firm.headers)
    assert ended.json()["status"] == "terminated" and ended.json()["termination_reason"] == "买方资金未到位"


async def test_bad_deals_are_422_naming_the_field(client, university, firm, operator):
    ops = operator.headers
    cases = {
        "body.buyer_id": deal_body(university, university),
        "body.seller_id": deal_body(university, firm, seller_id="00000000-0000-0000-0000-000000000001"),
        "body": deal_body(university, firm, technology_amount="1200000.01"),
        "body.broker_id": deal_body(university, firm, broker_id=university.user_id),
        "body.amount": deal_body(university, firm, amount="12.345"),
        "body.field": deal_body(university, firm, field="no_such_field"),
    }
    for field, body in cases.items():
        response = await client.post("/v1/deals", json=body, headers=ops)
        assert response.status_code == 422, (field, response.text)
        assert response.json()["field"].startswith(field), (field, response.json())


async def test_amendments_after_signing_are_audited_with_before_and_after(client, market, university, firm, operator):
    deal = await create_deal(market, university, firm, sign=True)
    too_much = await client.patch(f"/v1/deals/{deal['id']}", json={"technology_amount": "2000000.00"},
                                  headers=firm.headers)
    assert too_much.status_code == 422 and too_much.json()["field"] == "body.technology_amount"
    amended = await client.patch(f"/v1/deals/{deal['id']}", json={"amount": "1500000.00"}, headers=firm.headers)
    assert amended.status_code == 200 and amended.json()["amount"] == "1500000.00"
    log = await client.get("/v1/audit", params={"object_type": "deal", "object_id": deal["id"]},
                           headers=operator.headers)
    amendment = next(e for e in log.json()["items"] if e["action"] == "deal.amended")
    assert amendment["changes"]["amount"] == {"before": "1200000.00", "after": "1500000.00"}


async def test_both_parties_and_the_broker_read_a_deal_others_do_not(client, market, university, firm, broker):
    other, stranger = await market.organisation("enterprise"), await market.broker()
    deal = await create_deal(market, university, firm, broker_id=broker.user_id, commission={"rate": "0.0500"})
    assert deal["commission"] == {"rate": "0.0500", "amount": None, "status": "agreed"}
    for caller in (university, firm, broker):
        assert (await client.get(f"/v1/deals/{deal['id']}", headers=caller.headers)).status_code == 200
        listed = (await client.get("/v1/deals", headers=caller.headers)).json()["items"]
        assert [d["id"] for d in listed] == [deal["id"]]
    for caller in (other, stranger):
        assert (await client.get(f"/v1/deals/{deal['id']}", headers=caller.headers)).status_code == 404
        assert (await client.get("/v1/deals", headers=caller.headers)).json()["items"] == []
    # The broker edits the draft, but not the signed contract.
    assert (await client.patch(f"/v1/deals/{deal['id']}", json={"title": "许可合同（修订）"},
                               headers=broker.headers)).status_code == 200
    await client.post(f"/v1/deals/{deal['id']}/sign", headers=university.headers)
    assert (await client.patch(f"/v1/deals/{deal['id']}", json={"title": "再改"},
                               headers=broker.headers)).status_code == 403


async def test_a_deal_from_a_lead_is_prefilled(client, market, university, firm, broker):
    achievement = await create_listing(market, "achievements", university, external_id=None)
    need = await create_listing(market, "needs", firm)
    lead = (await client.post("/v1/leads", json={"need_id": need["id"], "achievement_id": achievement["id"]},
                              headers=broker.headers)).json()
    await client.post(f"/v1/leads/{lead['id']}/claim", headers=broker.headers)

    created = await client.post(f"/v1/leads/{lead['id']}/deal",
                                json={"contract_type": "licence", "amount": "800000.00"}, headers=broker.headers)
    assert created.status_code == 201, created.text
    deal = created.json()
    assert (deal["seller_id"], deal["buyer_id"]) == (university.organisation_id, firm.organisation_id)
    assert (deal["achievement_id"], deal["need_id"], deal["lead_id"]) == (achievement["id"], need["id"], lead["id"])
    assert deal["broker_id"] == broker.user_id and deal["title"] == achievement["title"]
    assert deal["field"] == achievement["field"] and deal["ip"][0]["number"] == "ZL202110123456.7"
    assert deal["technology_amount"] == "800000.00"

    other_broker = await market.broker()
    refused = await client.post(f"/v1/leads/{lead['id']}/deal", json={"contract_type": "licence", "amount": "1.00"},
                                headers=other_broker.headers)
    assert refused.status_code == 403
