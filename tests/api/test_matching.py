"""Matching through the real Meilisearch: live matches, reasons, and leads kept fresh by the worker."""

from tests.factories import create_listing

TEA_NEED = dict(title="名優茶採摘全靠人工，旺季招不到人", keywords=["採茶", "人工成本", "招工難"],
                description="公司有三千畝茶園，明前茶採摘全靠人工，旺季招工難、成本高，想找能替代人工採摘嫩芽的設備。",
                field="modern_agriculture.smart_agriculture", required_trl=5, region="cd.pujiang")
TEA_PICKER = dict(title="基于视觉识别的茶叶嫩芽定位与柔性采摘末端执行器",
                  keywords=["嫩芽识别", "采摘机器人", "末端执行器"],
                  summary="面向名优茶机械化采摘的嫩芽识别与柔性采摘技术。",
                  description="采用深度学习识别茶叶嫩芽，识别准确率92%，柔性末端执行器采摘损伤率低于5%，可替代人工采茶。",
                  field="artificial_intelligence.vision", trl=6, stage="pilot", region="cd.wuhou")
LOOK_ALIKE = dict(title="茶多酚高效提取与纯化工艺", keywords=["茶多酚", "提取", "纯化"],
                  summary="以茶叶为原料提取茶多酚。", description="采用膜分离与大孔树脂纯化茶多酚，纯度达到98%。",
                  field="green_food.processing", trl=7, stage="pilot", region="cd.wenjiang")


async def _picker_and_need(market, sync, firm_name: str | None = None, **need_overrides):
    """The tea-picking achievement of a university and a firm's tea-picking need, published and synced."""
    uni = await market.organisation("university")
    firm = await market.organisation("enterprise", **({"name": firm_name} if firm_name else {}))
    picker = await create_listing(market, "achievements", uni, external_id="T-1", **TEA_PICKER)
    need = await create_listing(market, "needs", firm, **TEA_NEED, **need_overrides)
    await sync()
    return uni, firm, picker, need


async def test_traditional_need_matches_simplified_achievement_with_reasons(client, market, sync):
    uni = await market.organisation("university")
    firm = await market.organisation("enterprise")
    picker = await create_listing(market, "achievements", uni, external_id="T-1", **TEA_PICKER)
    look_alike = await create_listing(market, "achievements", uni, external_id="T-2", **LOOK_ALIKE)
    need = await create_listing(market, "needs", firm, **TEA_NEED)
    await sync()

    body = (await client.get(f"/v1/needs/{need['id']}/matches")).json()
    ids = [m["id"] for m in body["matches"]]
    assert ids[0] == picker["id"]
    if look_alike["id"] in ids:
        assert body["matches"][ids.index(look_alike["id"])]["score"] < body["matches"][0]["score"]
    best = body["matches"][0]
    assert 0 < best["score"] <= 1
    reasons = best["reasons"]
    assert reasons["matched_terms"] and {c["name"] for c in reasons["components"]} >= {
        "text", "field", "maturity", "price", "mode", "region", "freshness"}
    assert abs(sum(c["contribution"] for c in reasons["components"])
               / sum(c["weight"] for c in reasons["components"]) - best["score"]) < 1e-3

    back = (await client.get(f"/v1/achievements/{picker['id']}/matches")).json()
    assert back["matches"][0]["id"] == need["id"]


async def test_leads_created_on_publish_retired_on_unpublish_no_duplicates(client, market, sync):
    uni, firm, picker, need = await _picker_and_need(market, sync)
    broker = await market.broker()

    leads = (await client.get("/v1/leads", headers=broker.headers, params={"need_id": need["id"]})).json()["items"]
    assert [(lead["achievement"]["id"], lead["status"]) for lead in leads] == [(picker["id"], "active")]
    first = leads[0]
    assert first["need_rank"] == 1 and first["engine_version"] and first["reasons"]["components"]
    assert first["need"]["title"] == TEA_NEED["title"]

    for deadline in ("2027-07-01", "2027-08-01", "2027-09-01"):  # minor edits keep it published
        await client.patch(f"/v1/needs/{need['id']}", headers=firm.headers, json={"deadline": deadline})
        await sync()
    again = (await client.get("/v1/leads", headers=broker.headers, params={"need_id": need["id"]})).json()["items"]
    assert [lead["id"] for lead in again] == [first["id"]]

    await client.post(f"/v1/needs/{need['id']}/archive", headers=firm.headers)
    await sync()
    active = (await client.get("/v1/leads", headers=broker.headers, params={"need_id": need["id"]})).json()
    assert active["items"] == []
    retired = (await client.get("/v1/leads", headers=broker.headers,
                                params={"need_id": need["id"], "status": "retired"})).json()["items"]
    assert [lead["id"] for lead in retired] == [first["id"]]


async def test_organisation_sees_only_leads_of_its_listings(client, market, sync):
    uni = await market.organisation("university")
    firm = await market.organisation("enterprise")
    stranger = await market.organisation("enterprise")
    await create_listing(market, "achievements", uni, external_id="T-1", **TEA_PICKER)
    await create_listing(market, "needs", firm, confidential=True, **TEA_NEED)
    await sync()
    assert len((await client.get("/v1/leads", headers=firm.headers)).json()["items"]) == 1
    seen_by_uni = (await client.get("/v1/leads", headers=uni.headers)).json()["items"]
    assert seen_by_uni[0]["need"]["organisation_name"] == "某企业"
    assert (await client.get("/v1/leads", headers=stranger.headers)).json()["items"] == []
    assert (await client.get("/v1/leads")).status_code == 401


async def test_broker_adds_a_lead_by_hand_and_it_is_scored(client, market, sync):
    uni = await market.organisation("university")
    firm = await market.organisation("enterprise")
    broker = await market.broker()
    look_alike = await create_listing(market, "achievements", uni, external_id="T-2", **LOOK_ALIKE)
    need = await create_listing(market, "needs", firm, **TEA_NEED)
    await sync()
    response = await client.post("/v1/leads", headers=broker.headers,
                                 json={"need_id": need["id"], "achievement_id": look_alike["id"]})
    assert response.status_code == 201, response.text
    lead = response.json()
    assert lead["source"] == "manual" and lead["status"] == "active" and "components" in lead["reasons"]
    duplicate = await client.post("/v1/leads", headers=broker.headers,
                                   json={"need_id": need["id"], "achievement_id": look_alike["id"]})
    assert duplicate.status_code == 409


async def test_match_all_recomputes_every_published_listing(client, market, sync, ctx):
    from tqdm import tqdm

    from services.matching.batch import match_all

    _, _, _, need = await _picker_and_need(market, sync)
    broker = await market.broker()
    before = (await client.get("/v1/leads", headers=broker.headers)).json()["items"]
    with tqdm(disable=True) as bar:  # the CLI's progress bar, no total known up front
        assert await match_all(ctx, bar) == 2
    after = (await client.get("/v1/leads", headers=broker.headers)).json()["items"]
    assert [lead["id"] for lead in after] == [lead["id"] for lead in before]
    assert after[0]["computed_at"] > before[0]["computed_at"] and after[0]["need"]["id"] == need["id"]


async def test_a_claiming_broker_sees_the_confidential_firm_only_after_its_consent(client, market, sync):
    _, firm, _, need = await _picker_and_need(market, sync, firm_name="保密的茶叶公司", confidential=True)
    broker, rival = await market.broker(), await market.broker()
    lead = (await client.get("/v1/leads", headers=broker.headers, params={"need_id": need["id"]})).json()["items"][0]
    assert lead["need"]["organisation_name"] == "某企业"
    assert (await client.get(f"/v1/needs/{need['id']}", headers=broker.headers)).json()["contact"] is None

    claimed = await client.post(f"/v1/leads/{lead['id']}/claim", headers=broker.headers)
    assert claimed.status_code == 200 and claimed.json()["need"]["organisation_name"] == "某企业"  # no consent yet
    assert (await client.get(f"/v1/needs/{need['id']}", headers=broker.headers)).json()["contact"] is None
    taken = await client.post(f"/v1/leads/{lead['id']}/claim", headers=rival.headers)
    assert taken.status_code == 409 and taken.json()["code"] == "lead.already_claimed"

    assert (await client.post(f"/v1/leads/{lead['id']}/consent-request", headers=broker.headers)).status_code == 201
    granted = await client.post(f"/v1/leads/{lead['id']}/consent", headers=firm.headers, json={"method": "platform"})
    assert granted.status_code == 200 and granted.json()["granted_at"]
    seen = (await client.get(f"/v1/needs/{need['id']}", headers=broker.headers)).json()
    assert seen["organisation_name"] == "保密的茶叶公司" and seen["contact"]["name"] == "王总"
    assert (await client.get(f"/v1/leads/{lead['id']}", headers=broker.headers)).json()["need"][
        "organisation_name"] == "保密的茶叶公司"
    assert (await client.get(f"/v1/needs/{need['id']}", headers=rival.headers)).json()["organisation_name"] == "某企业"


async def test_a_manual_lead_and_a_claim_do_not_reveal_a_confidential_firm(client, market, sync):
    from tests.factories import create_lead

    broker = await market.broker()
    lead = await create_lead(market, confidential=True, title="保密需求")
    response = await client.post("/v1/leads", headers=broker.headers, json={
        "need_id": lead["need"]["id"], "achievement_id": (await create_lead(market))["achievement"]["id"]})
    assert response.status_code == 201 and response.json()["need"]["organisation_name"] == "某企业"
    claimed = await client.post(f"/v1/leads/{response.json()['id']}/claim", headers=broker.headers)
    assert claimed.json()["need"]["organisation_name"] == "某企业"
    assert (await client.get(f"/v1/needs/{lead['need']['id']}", headers=broker.headers)).json()[
        "organisation_name"] == "某企业"


async def test_a_lead_carries_the_needs_view_of_the_score(client, market, sync):
    _, _, _, need = await _picker_and_need(market, sync)
    broker = await market.broker()
    live = (await client.get(f"/v1/needs/{need['id']}/matches")).json()["matches"][0]
    lead = (await client.get("/v1/leads", headers=broker.headers, params={"need_id": need["id"]})).json()["items"][0]
    assert lead["score"] == live["score"]
