"""Search through the real Meilisearch: both scripts, facets, highlights, filters, sync and outage."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from schemas.enums import ListKind
from schemas.tables import OutboxEvent
from services.search.sync import rebuild
from services.worker import SEARCH_DOWN_BACKOFF
from tests.factories import create_listing

HYDROGEN_TRAD = dict(title="氫能儲運裝備的關鍵材料", summary="面向高壓氫氣儲運的複合材料氣瓶內膽技術。",
                     description="開發了碳纖維纏繞複合材料氣瓶，70MPa 循環壽命超過 15000 次。",
                     keywords=["氫能", "儲運", "關鍵材料"], field="advanced_energy.hydrogen", trl=6, stage="pilot")
RAIL_SIMPL = dict(title="轨道交通车辆轴承故障智能诊断系统", summary="基于振动信号的轴承故障诊断。",
                  description="利用深度学习对轨道交通车辆走行部轴承进行在线监测。",
                  keywords=["轨道交通", "故障诊断", "软件"], field="rail_transit.signalling", trl=7, stage="pilot")


async def _publish_pair(market):
    uni = await market.organisation("university")
    hydrogen = await create_listing(market, "achievements", uni, external_id="H-1", **HYDROGEN_TRAD)
    rail = await create_listing(market, "achievements", uni, external_id="R-1", **RAIL_SIMPL)
    return hydrogen, rail


@pytest.mark.parametrize(("query", "expected"), [
    ("储运", "H-1"), ("关键材料", "H-1"), ("氢能", "H-1"),  # simplified query, traditional document
    ("軌道交通", "R-1"), ("軟體", "R-1"), ("故障診斷", "R-1"),  # traditional query, simplified document
])
async def test_both_scripts_find_each_other(client, market, sync, query, expected):
    hydrogen, rail = await _publish_pair(market)
    await sync()
    body = (await client.get("/v1/search/achievements", params={"q": query})).json()
    ids = [h["id"] for h in body["hits"]]
    assert ids and ids[0] == {"H-1": hydrogen, "R-1": rail}[expected]["id"], body


async def test_results_keep_original_text_with_highlights_and_facets(client, market, sync):
    hydrogen, _ = await _publish_pair(market)
    await sync()
    body = (await client.get("/v1/search/achievements", params={"q": "氢能储运"})).json()
    hit = body["hits"][0]
    assert hit["title"] == "氫能儲運裝備的關鍵材料"  # displayed as posted
    assert hit["highlight"]["title"].startswith("<em>氫能")  # over the title as written
    assert "contact" not in hit and "owner_org" not in hit
    everything = (await client.get("/v1/search/achievements")).json()
    assert everything["facets"]["field_top"] == {"advanced_energy": 1, "rail_transit": 1}
    assert everything["facets"]["stage"] == {"pilot": 2}
    filtered = (await client.get("/v1/search/achievements", params={"field": "rail_transit"})).json()
    assert [h["title"] for h in filtered["hits"]] == [RAIL_SIMPL["title"]]


@pytest.mark.parametrize("params", [
    {"field": 'advanced_energy" OR field_path EXISTS OR field = "x'},
    {"region": 'cd.wuhou" OR region EXISTS'},
    {"mode": "licence OR modes EXISTS"},
    {"sort": "title:asc"},
])
async def test_crafted_filter_values_are_rejected(client, market, sync, params):
    response = await client.get("/v1/search/achievements", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_unpublished_listing_leaves_the_index(client, market, sync):
    hydrogen, _ = await _publish_pair(market)
    await sync()
    uni_headers = (await market.operator()).headers
    await client.post(f"/v1/achievements/{hydrogen['id']}/archive", headers=uni_headers)
    await sync()
    body = (await client.get("/v1/search/achievements", params={"q": "氢能"})).json()
    assert hydrogen["id"] not in [h["id"] for h in body["hits"]]


async def test_drafts_cost_meilisearch_nothing(market, university, ctx, sync):
    """A bulk import's thousands of drafts: the worker sends no write to Meilisearch for a listing that was
    never published (there is nothing to remove), and none of its leads to write."""
    async def next_task() -> int:  # Meilisearch numbers every task in order: a write in between shows
        return (await ctx.search.client.delete_documents(ctx.search.uid(ListKind.achievements), ["none"]))["taskUid"]

    await sync()
    before = await next_task()
    await create_listing(market, "achievements", university, publish=False, external_id="D-1")
    await sync()
    assert await next_task() == before + 1


async def test_confidential_need_is_anonymous_in_search(client, market, sync):
    firm = await market.organisation("enterprise", name="绝密动力电池有限公司")
    need = await create_listing(market, "needs", firm, confidential=True, title="锂电池热失控预警")
    await sync()
    response = await client.get("/v1/search/needs", params={"q": "锂电池"})
    hit = response.json()["hits"][0]
    assert hit["id"] == need["id"] and hit["organisation_name"] == "某企业" and hit["organisation_id"] is None
    assert "绝密动力电池" not in response.text


async def test_meilisearch_outage_loses_nothing(client, market, sync, ctx, meili_process):
    uni = await market.organisation("university")
    meili_process.stop()
    try:
        listing = await create_listing(market, "achievements", uni, external_id="H-9", **HYDROGEN_TRAD)
        assert listing["status"] == "published"  # writes succeed while search is down
        await sync()  # fails, and keeps the events for a retry
        down = await client.get("/v1/search/achievements", params={"q": "氢能"})
        assert down.status_code == 503 and down.json()["code"] == "search.unavailable"
        ready = await client.get("/ready")
        assert ready.status_code == 503 and ready.json()["meilisearch"].startswith("unavailable")
        assert ready.json()["postgres"] == "ok"
        assert (await client.get(f"/v1/achievements/{listing['id']}")).status_code == 200  # listings still served
        async with ctx.sessions() as session:  # retried within seconds of Meilisearch's return, not minutes
            waits = (await session.scalars(select(OutboxEvent.available_at - func.now()).where(
                OutboxEvent.processed_at.is_(None), OutboxEvent.attempts > 0))).all()
        assert waits and max(waits) <= SEARCH_DOWN_BACKOFF
    finally:
        meili_process.start()
    soon = datetime.now(UTC) + SEARCH_DOWN_BACKOFF + timedelta(seconds=5)
    await sync(clock=lambda: soon)  # the worker's next pass once the back-off has run out
    body = (await client.get("/v1/search/achievements", params={"q": "氢能"})).json()
    assert [h["id"] for h in body["hits"]] == [listing["id"]]


async def test_reindex_rebuilds_from_postgres_and_swaps(client, market, sync, ctx):
    hydrogen, rail = await _publish_pair(market)
    await sync()
    client_ = ctx.search.client
    await client_.wait_task(await client_.delete_all_documents(ctx.search.uid(ListKind.achievements)))
    assert (await client.get("/v1/search/achievements")).json()["total"] == 0
    counts = await rebuild(ctx)
    assert counts == {"achievements": 2, "needs": 0}
    assert (await client.get("/v1/search/achievements")).json()["total"] == 2


async def test_thesaurus_equivalents_find_each_other(client, market, sync):
    uni = await market.organisation("university")
    battery = await create_listing(market, "achievements", uni, external_id="B-1", title="锂离子电池热失控早期预警技术",
                                   keywords=["锂离子电池", "热失控"], field="green_low_carbon.batteries")
    await _publish_pair(market)
    await sync()
    body = (await client.get("/v1/search/achievements", params={"q": "鋰電 熱失控"})).json()
    assert [h["id"] for h in body["hits"]][:1] == [battery["id"]]
    assert body["facets"]["field_top"]["green_low_carbon"] == 1


def _plain(marked: str) -> str:
    return marked.replace("<em>", "").replace("</em>", "")


@pytest.mark.parametrize(("query", "title", "summary"), [
    ("氢能储运", "<em>氫能儲運</em>裝備的關鍵材料", "面向高壓氫氣<em>儲運</em>的複合材料氣瓶內膽技術。"),
    ("關鍵材料", "氫能儲運裝備的<em>關鍵材料</em>", "面向高壓氫氣儲運的複合<em>材料</em>氣瓶內膽技術。"),
])
async def test_highlights_are_over_the_traditional_text_as_written(client, market, sync, query, title, summary):
    await _publish_pair(market)
    await sync()
    hit = (await client.get("/v1/search/achievements", params={"q": query})).json()["hits"][0]
    assert _plain(hit["highlight"]["title"]) == hit["title"] == HYDROGEN_TRAD["title"]
    assert hit["highlight"]["title"] == title
    assert hit["highlight"]["summary"] == summary


@pytest.mark.parametrize("query", ["ZL202110123456.7", "zl202110123456.7", "202110123456.7", "2021101234567",
                                   "ZL2021101234567", "202110123456"])
async def test_a_patent_number_finds_its_achievement_however_it_is_written(client, market, sync, query):
    uni = await market.organisation("university")
    patented = await create_listing(market, "achievements", uni, external_id="IP-1", **HYDROGEN_TRAD)
    await create_listing(market, "achievements", uni, external_id="IP-2", **RAIL_SIMPL,
                         ip=[{"type": "invention_patent", "number": "ZL202210654321.8"}])
    await sync()
    hits = (await client.get("/v1/search/achievements", params={"q": query})).json()["hits"]
    assert [h["id"] for h in hits] == [patented["id"]]


async def test_need_hits_carry_deadline_challenge_and_money_as_strings(client, market, sync):
    firm = await market.organisation("enterprise")
    need = await create_listing(market, "needs", firm, deadline="2027-06-30",
                                challenge={"reward": "500000.00", "opens": "2026-11-01", "closes": "2027-03-31"})
    await sync()
    hit = (await client.get("/v1/search/needs", params={"q": "采茶"})).json()["hits"][0]
    assert hit["id"] == need["id"]
    assert (hit["deadline"], hit["challenge"]) == ("2027-06-30", True)
    assert (hit["budget_min"], hit["budget_max"]) == ("300000.00", "800000.00")
    assert hit["modes"] == ["co_development", "licence"]
