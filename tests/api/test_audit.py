"""The audit trail: each organisation reads its own; every reveal of a confidential firm is in it."""

from tests.factories import create_listing


async def _actions(client, caller, **params) -> list[dict]:
    response = await client.get("/v1/audit", headers=caller.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_an_org_admin_reads_only_their_organisations_entries(client, market):
    uni = await market.organisation("university")
    firm = await market.organisation("enterprise")
    achievement = await create_listing(market, "achievements", uni, publish=False, external_id="A-1")
    need = await create_listing(market, "needs", firm, publish=False)

    seen_by_uni = await _actions(client, uni)
    assert {e["object_id"] for e in seen_by_uni} == {achievement["id"]}
    assert {e["object_id"] for e in await _actions(client, firm)} == {need["id"]}
    assert {achievement["id"], need["id"]} <= {e["object_id"] for e in await _actions(client, await market.operator())}
    member = await market.user(uni, ["org_member"])
    assert (await client.get("/v1/audit", headers=member.headers)).status_code == 403
    assert (await client.get("/v1/audit")).status_code == 401


async def test_reading_a_confidential_firm_through_a_consented_lead_is_audited(client, market, search):
    uni = await market.organisation("university")
    firm = await market.organisation("enterprise", name="保密的茶叶公司")
    broker = await market.broker()
    achievement = await create_listing(market, "achievements", uni, external_id="R-1")
    need = await create_listing(market, "needs", firm, confidential=True)
    lead = (await client.post("/v1/leads", headers=broker.headers,
                              json={"need_id": need["id"], "achievement_id": achievement["id"]})).json()
    await client.get(f"/v1/needs/{need['id']}", headers=broker.headers)  # before the claim: nothing revealed
    assert not [e for e in await _actions(client, firm) if e["action"] == "need.identity_revealed"]

    claimed = await client.post(f"/v1/leads/{lead['id']}/claim", headers=broker.headers)
    assert claimed.json()["need"]["organisation_name"] == "某企业"  # a claim reveals nothing without consent
    assert (await client.post(f"/v1/leads/{lead['id']}/consent-request", headers=broker.headers)).status_code == 201
    granted = await client.post(f"/v1/leads/{lead['id']}/consent", headers=firm.headers, json={"method": "platform"})
    assert granted.status_code in (200, 201), granted.text
    assert (await client.get(f"/v1/needs/{need['id']}", headers=broker.headers)).json()["organisation_name"] \
        == "保密的茶叶公司"
    assert (await client.get(f"/v1/leads/{lead['id']}", headers=broker.headers)).json()["need"][
        "organisation_name"] == "保密的茶叶公司"
    await client.get(f"/v1/leads/{lead['id']}", headers=broker.headers)

    reveals = [e for e in await _actions(client, firm, object_type="need", object_id=need["id"])
               if e["action"] == "need.identity_revealed"]
    assert len(reveals) == 3  # the need, and the lead twice
    assert {e["actor_id"] for e in reveals} == {broker.user_id}
    assert {e["changes"]["lead_id"] for e in reveals} == {lead["id"]}
    assert all(e["at"] for e in reveals)
    stranger = await market.organisation("enterprise")
    assert await _actions(client, stranger) == []
    await client.get(f"/v1/needs/{need['id']}", headers=firm.headers)  # the firm itself: no reveal
    assert len([e for e in await _actions(client, firm) if e["action"] == "need.identity_revealed"]) == 3
