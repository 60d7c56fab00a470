"""Broker profiles: who manages them, what the public sees, the figures and the ratings."""

from tests.factories import ANONYMOUS, create_lead


async def test_agency_admin_creates_a_profile_and_the_public_reads_it_without_contact(client, market):
    agency = await market.organisation("agency")
    broker = await market.user(agency, ["broker"])
    body = {"user_id": broker.user_id, "level": "senior", "certificate_number": "JSJJR-2025-0001",
            "specialties": ["modern_agriculture"], "regions": ["cd.pujiang"], "capacity": 3, "bio": "茶产业十年"}
    created = await client.post("/v1/brokers", headers=agency.headers, json=body)
    assert created.status_code == 201, created.text
    profile = created.json()
    assert profile["level"] == "senior" and profile["level_label"] == "高级" and profile["email"]
    assert profile["figures"] == {"open_leads": 0, "won_12m": 0, "lost_12m": 0, "turnover_12m": "0.00",
                                  "median_days_to_won": None,
                                  "ratings": {"count": 0, "responsiveness": None, "expertise": None, "integrity": None}}
    public = await client.get(f"/v1/brokers/{broker.user_id}")
    assert public.status_code == 200 and public.json()["email"] is None and public.json()["bio"] == "茶产业十年"
    listed = (await client.get("/v1/brokers", params={"specialty": "modern_agriculture"})).json()["items"]
    assert [b["id"] for b in listed] == [broker.user_id]
    again = await client.post("/v1/brokers", headers=agency.headers, json=body)
    assert again.status_code == 409 and again.json()["code"] == "broker.duplicate"


async def test_profiles_need_a_broker_in_an_agency_and_valid_codes(client, market):
    agency = await market.organisation("agency")
    member = await market.user(agency, ["org_member"])
    refused = await client.post("/v1/brokers", headers=agency.headers,
                                json={"user_id": member.user_id, "level": "junior"})
    assert refused.status_code == 422 and refused.json()["code"] == "broker.not_a_broker"
    broker = await market.user(agency, ["broker"])
    bad = await client.post("/v1/brokers", headers=agency.headers, json={
        "user_id": broker.user_id, "level": "junior", "specialties": ["no_such_field"]})
    assert bad.status_code == 422 and bad.json()["field"] == "body.specialties.0"
    other_agency = await market.organisation("agency")
    foreign = await client.post("/v1/brokers", headers=other_agency.headers, json={
        "user_id": broker.user_id, "level": "junior"})
    assert foreign.status_code == 404


async def test_a_broker_edits_only_their_bio_and_pause_state(client, market):
    broker = await market.broker(capacity=5)
    own = await client.patch(f"/v1/brokers/{broker.user_id}", headers=broker.headers,
                             json={"bio": "新简介", "status": "paused"})
    assert own.status_code == 200 and own.json()["status"] == "paused" and own.json()["bio"] == "新简介"
    wider = await client.patch(f"/v1/brokers/{broker.user_id}", headers=broker.headers, json={"capacity": 50})
    assert wider.status_code == 403 and wider.json()["field"] == "body.capacity"
    assert (await client.get(f"/v1/brokers/{broker.user_id}")).status_code == 404  # paused: not public
    admin = broker.extra["agency"]
    managed = await client.patch(f"/v1/brokers/{broker.user_id}", headers=admin.headers,
                                 json={"capacity": 8, "level": "senior", "status": "active"})
    assert managed.status_code == 200 and managed.json()["capacity"] == 8
    assert (await client.get(f"/v1/brokers/{broker.user_id}", headers=ANONYMOUS.headers)).status_code == 200


async def test_figures_and_ratings_after_a_won_and_a_lost_lead(client, market, search):
    broker = await market.broker()
    firm, uni = await market.organisation("enterprise"), await market.organisation("university")
    won = await create_lead(market, firm, uni)
    lost = await create_lead(market, title="另一个需求：茶叶分选")
    for lead in (won, lost):
        assert (await client.post(f"/v1/leads/{lead['id']}/claim", headers=broker.headers)).status_code == 200
    for stage in ("contacted", "introduced", "negotiating", "won"):
        moved = await client.post(f"/v1/leads/{won['id']}/stage", headers=broker.headers, json={"stage": stage})
        assert moved.status_code == 200, moved.text
    await client.post(f"/v1/leads/{lost['id']}/stage", headers=broker.headers,
                      json={"stage": "lost", "reason": "price"})

    rating = {"responsiveness": 5, "expertise": 4, "integrity": 5, "comment": "很专业"}
    assert (await client.post(f"/v1/leads/{won['id']}/ratings", headers=firm.headers, json=rating)).status_code == 201
    twice = await client.post(f"/v1/leads/{won['id']}/ratings", headers=firm.headers, json=rating)
    assert twice.status_code == 409 and twice.json()["code"] == "rating.duplicate"
    assert (await client.post(f"/v1/leads/{won['id']}/ratings", headers=uni.headers,
                              json={**rating, "expertise": 3})).status_code == 201
    not_won = await client.post(f"/v1/leads/{lost['id']}/ratings", headers=firm.headers, json=rating)
    assert not_won.status_code in (403, 404, 409)
    stranger = await market.organisation("enterprise")
    assert (await client.post(f"/v1/leads/{won['id']}/ratings", headers=stranger.headers,
                              json=rating)).status_code == 404
    figures = (await client.get(f"/v1/brokers/{broker.user_id}")).json()["figures"]
    assert figures["won_12m"] == 1 and figures["lost_12m"] == 1 and figures["open_leads"] == 0
    assert figures["median_days_to_won"] == 0.0
    assert figures["ratings"] == {"count": 2, "responsiveness": 5.0, "expertise": 3.5, "integrity": 5.0}


async def test_only_operators_grant_roles_that_widen_access(client, market):
    agency = await market.organisation("agency")
    refused = await client.post(f"/v1/organisations/{agency.organisation_id}/users", headers=agency.headers, json={
        "email": "self-made-broker@example.cn", "display_name": "自封经纪人", "password": "long-password-1",
        "roles": ["broker"]})
    assert refused.status_code == 403 and refused.json()["code"] == "user.role_forbidden"
    promote = await client.patch(f"/v1/users/{agency.user_id}", headers=agency.headers,
                                 json={"roles": ["org_admin", "broker"]})
    assert promote.status_code == 403 and promote.json()["code"] == "user.role_forbidden"
    operator = await market.operator()
    granted = await client.patch(f"/v1/users/{agency.user_id}", headers=operator.headers,
                                 json={"roles": ["org_admin", "broker"]})
    assert granted.status_code == 200
    log = (await client.get("/v1/audit", headers=operator.headers,
                            params={"object_type": "user", "object_id": agency.user_id})).json()["items"]
    assert any(e["action"] == "user.role_granted" and e["changes"]["role"]["after"] == "broker" for e in log)
