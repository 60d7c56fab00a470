"""Matching through the real Meilisearch: live matches, reasons, and leads kept fresh by the worker."""

import json

import pytest

from schemas.matching import MatchPage
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

UNRELATED = dict(title="高炉煤气余热回收发电", keywords=["余热回收"], summary="钢铁厂余热发电。",
                 description="余热锅炉。", field="energy_saving.water", trl=7, region="cd.pujiang")


def served(response) -> dict:
    """A live match's page, which the engine builds as plain data: exactly what `MatchPage` would serialise,
    every field present, in the model's order."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert json.dumps(MatchPage.model_validate(body).model_dump(mode="json")) == json.dumps(body)
    return body


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

    body = served(await client.get(f"/v1/needs/{need['id']}/matches"))
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

    back = served(await client.get(f"/v1/achievements/{picker['id']}/matches"))
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
    unrelated = await create_listing(market, "achievements", uni, external_id="T-3", **UNRELATED)
    need = await create_listing(market, "needs", firm, **TEA_NEED)
    await sync()
    response = await client.post("/v1/leads", headers=broker.headers,
                                 json={"need_id": need["id"], "achievement_id": unrelated["id"]})
    assert response.status_code == 201, response.text
    lead = response.json()
    assert lead["source"] == "manual" and lead["status"] == "active" and "components" in lead["reasons"]
    # Scored from both rows, though the term queries never returned the pair.
    assert {c["name"] for c in lead["reasons"]["components"]} >= {"text", "field", "maturity", "price", "mode"}
    duplicate = await client.post("/v1/leads", headers=broker.headers,
                                   json={"need_id": need["id"], "achievement_id": unrelated["id"]})
    assert duplicate.status_code == 409


async def test_match_all_recomputes_every_published_listing(client, market, sync, ctx):
    from services.matching.batch import match_all

    class Recorder:
        def start(self, total):
            self.total, self.done = total, 0

        def advance(self, done=1):
            self.done += done

    _, _, _, need = await _picker_and_need(market, sync)
    broker = await market.broker()
    before = (await client.get("/v1/leads", headers=broker.headers)).json()["items"]
    progress = Recorder()
    assert await match_all(ctx, progress) == 2
    assert progress.total == progress.done == 2
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


@pytest.mark.commits  # watches the real pool
async def test_a_live_match_gives_its_database_connection_back_while_meilisearch_answers(client, market, ctx, sync):
    """Under load a pooled connection held across Meilisearch's answer starves the pool: the request reads
    the listing, gives the connection back, then asks Meilisearch."""
    import contextvars

    from sqlalchemy import event

    _, _, _, need = await _picker_and_need(market, sync)
    # The request's tasks (and the tasks it starts for its two Meilisearch requests) inherit this mark; a
    # background task of the app (the rate limiter's reconciliation) does not.
    request = contextvars.ContextVar("request", default=None)
    request.set(object())
    held: dict[object, object] = {}
    pool = ctx.engine.sync_engine
    on_checkout = lambda conn, record, proxy: held.__setitem__(record, request.get())  # noqa: E731
    on_checkin = lambda conn, record: held.pop(record, None)  # noqa: E731
    event.listen(pool, "checkout", on_checkout)
    event.listen(pool, "checkin", on_checkin)
    original = ctx.search.client.multi_search
    during: list[int] = []

    async def observed(queries):
        during.append(sum(mark is request.get() for mark in held.values()))
        return await original(queries)

    ctx.search.client.multi_search = observed
    try:
        response = await client.get(f"/v1/needs/{need['id']}/matches")
    finally:
        ctx.search.client.multi_search = original
        event.remove(pool, "checkout", on_checkout)
        event.remove(pool, "checkin", on_checkin)
    assert response.status_code == 200 and response.json()["matches"]
    assert during == [0, 0], "the request held a pooled connection while waiting on Meilisearch"


async def test_a_hand_added_lead_sharing_no_term_is_still_scored_on_its_structured_fit(client, market, sync):
    uni = await market.organisation("university")
    firm = await market.organisation("enterprise")
    broker = await market.broker()
    unrelated = await create_listing(market, "achievements", uni, external_id="T-3",
                                     **UNRELATED | {"field": "modern_agriculture.smart_agriculture"})
    need = await create_listing(market, "needs", firm, **TEA_NEED)
    await sync()
    lead = (await client.post("/v1/leads", headers=broker.headers,
                              json={"need_id": need["id"], "achievement_id": unrelated["id"]})).json()
    components = {c["name"]: c for c in lead["reasons"]["components"]}
    assert components["field"]["fit"] == 1.0 and components["text"]["fit"] == 0.0
    assert 0 <= lead["score"] < 0.3


async def test_a_need_meets_the_problem_side_of_an_achievement_and_the_reasons_say_so(client, market, sync):
    uni = await market.organisation("university")
    firm = await market.organisation("enterprise")
    sorter = await create_listing(
        market, "achievements", uni, external_id="P-1", title="基于近红外透射的水果内部品质在线分级",
        keywords=["近红外光谱", "无损检测"], summary="多相机与近红外透射结合的在线分级。",
        description="糖度预测误差0.5。", field="modern_agriculture.smart_agriculture", trl=7, region="cd.wenjiang",
        application_scenarios="柑橘、猕猴桃的产地分拣和电商发货",
        problems_solved="人工挑果慢，不甜的和内部坏果混进去被客户退货")
    need = await create_listing(market, "needs", firm, title="电商发货的柑橘总被退货", keywords=["退货", "人工挑果"],
                                description="柑橘靠人工挑果，内部坏果混进去，客户退货差评多。",
                                field="modern_agriculture.smart_agriculture", region="cd.pujiang")
    await sync()
    found = await client.get(f"/v1/achievements/{sorter['id']}")
    assert found.json()["problems_solved"].startswith("人工挑果慢")
    best = (await client.get(f"/v1/needs/{need['id']}/matches")).json()["matches"][0]
    assert best["id"] == sorter["id"]
    assert "人工挑果" in best["reasons"]["problem_side"]["terms"], best["reasons"]
    assert "<em>人工挑果</em>" in best["reasons"]["problem_side"]["highlight"]


HEAT_PUMP = dict(title="新能源汽车热泵空调与动力电池低温加热一体化热管理", keywords=["热泵空调", "热管理", "低温加热"],
                 summary="以热泵回收电机余热为座舱和动力电池加热。", description="零下十度工况能耗降低百分之三十。",
                 field="advanced_energy.storage", trl=6, region="cd.longquanyi")
WINTER_NEED = dict(title="冬天电动车一冷就跑不远，司机抱怨", keywords=["续航缩水", "冬天"],
                   description="我们的网约车一到冬天续航掉一半，开暖风更是掉得快，司机跑不了几单就要去充电。",
                   field="advanced_energy.storage", region="cd.longquanyi")


async def _vector(search, kind: str, listing_id: str) -> list[float]:
    from schemas.enums import ListKind
    from services.matching.semantic import EMBEDDER

    document = await search.client.get_document(search.uid(ListKind(kind)), listing_id, {"retrieveVectors": "true"})
    return document["_vectors"][EMBEDDER]["embeddings"][0]


async def test_the_worker_stores_each_listings_vector_and_keeps_it_in_step(client, market, sync, search):
    uni = await market.organisation("university")
    pump = await create_listing(market, "achievements", uni, external_id="V-1", **HEAT_PUMP)
    await sync()
    first = await _vector(search, "achievements", pump["id"])
    assert len(first) == 512 and abs(sum(x * x for x in first) - 1) < 1e-3

    edited = await client.patch(f"/v1/achievements/{pump['id']}", headers=uni.headers,
                                json={"title": "钢铁厂高炉煤气余热回收发电系统"})
    assert edited.status_code == 200, edited.text
    await client.post(f"/v1/achievements/{pump['id']}/approve", headers=(await market.operator()).headers)
    await sync()
    second = await _vector(search, "achievements", pump["id"])
    assert sum(a * b for a, b in zip(first, second, strict=True)) < 0.99


async def test_a_symptom_only_need_finds_a_technique_that_shares_no_term_with_it(client, market, sync):
    uni = await market.organisation("university")
    firm = await market.organisation("enterprise")
    pump = await create_listing(market, "achievements", uni, external_id="V-1", **HEAT_PUMP)
    await create_listing(market, "achievements", uni, external_id="V-2", **UNRELATED)
    need = await create_listing(market, "needs", firm, **WINTER_NEED)
    await sync()
    matches = served(await client.get(f"/v1/needs/{need['id']}/matches"))["matches"]
    assert [m["id"] for m in matches] == [pump["id"]]  # the steel mill's waste heat is too far in meaning
    reasons = matches[0]["reasons"]
    components = {c["name"]: c for c in reasons["components"]}
    assert reasons["matched_terms"] == [] and components["text"]["fit"] == 0
    assert components["semantic"]["fit"] > 0 and "cosine" in components["semantic"]["detail"]


async def test_a_drafts_matches_are_previewed_by_its_owner_and_operators_only(client, market, sync):
    """Each kind of reader meets the visibility rule of `listings.readable` (the statement is built once
    per kind of reader, the reader's organisation bound at run time)."""
    uni = await market.organisation("university")
    firm, other = await market.organisation("enterprise"), await market.organisation("enterprise")
    picker = await create_listing(market, "achievements", uni, **TEA_PICKER)
    draft = await create_listing(market, "needs", firm, publish=False, **TEA_NEED)
    await sync()
    path = f"/v1/needs/{draft['id']}/matches"
    for caller in (firm, await market.operator()):
        response = await client.get(path, headers=caller.headers)
        assert response.status_code == 200, response.text
        assert [m["id"] for m in response.json()["matches"]][:1] == [picker["id"]]
    for headers in (other.headers, (await market.broker()).headers, {}):
        response = await client.get(path, headers=headers)
        assert response.status_code == 404 and response.json()["code"] == "need.not_found"
    assert (await client.get(f"/v1/achievements/{picker['id']}/matches", headers=other.headers)).status_code == 200


@pytest.mark.commits  # the real pool's connections, not one shared transaction
async def test_a_matchs_summaries_are_read_without_a_transaction(ctx):
    """The summaries' read runs on the driver (services.db.DriverRead): no BEGIN, so no COMMIT either."""
    import uuid

    from schemas.enums import ListKind
    from services.matching.engine import _summaries

    async with ctx.sessions() as session:
        assert await _summaries(ListKind.needs).fetch(session, listing_id=uuid.uuid4(), ids=[uuid.uuid4()]) == []
        connection = await (await session.connection()).get_raw_connection()
        assert not connection.driver_connection.is_in_transaction()


@pytest.mark.commits  # the real pool's connections, not one shared transaction
async def test_a_matchs_listing_read_on_the_driver_is_what_a_session_reads(market, ctx):
    """The listing a live match reads through the driver (services.db.DriverRead.rows, then detached) has every
    column as a session's read gives it (arrays, amounts, JSON, times, in their places), and opens no
    transaction."""
    import uuid

    from sqlalchemy import inspect

    from schemas.enums import ListKind
    from schemas.tables import Achievement, Need
    from services.db import detached
    from services.matching.engine import _listing

    uni, firm = await market.organisation("university"), await market.organisation("enterprise")
    listings = {ListKind.achievements: (Achievement, await create_listing(market, "achievements", uni, **TEA_PICKER)),
                ListKind.needs: (Need, await create_listing(market, "needs", firm, **TEA_NEED))}
    for kind, (table, created) in listings.items():
        async with ctx.sessions() as session:
            rows = await _listing(kind, False, False).rows(session, listing_id=uuid.UUID(created["id"]))
            connection = await (await session.connection()).get_raw_connection()
            assert not connection.driver_connection.is_in_transaction()
            expected = await session.get(table, uuid.UUID(created["id"]))
        columns = inspect(table).columns.keys()
        listing = detached(table, rows[0][:len(columns)])
        assert {key: getattr(listing, key) for key in columns} == {key: getattr(expected, key) for key in columns}
        assert type(listing) is table and rows[0][len(columns)] == created["organisation_name"]
