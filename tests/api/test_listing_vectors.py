"""Listing vectors and own terms kept in PostgreSQL: derived by the worker when a listing's text changes,
never again by an index build (the encoder's runs are counted by `market_vectors_encoded_total`), and a
live match uses the stored terms while they are current."""

from sqlalchemy import select, update

from schemas.enums import ListKind
from schemas.tables import Achievement, ListingVector
from services.matching.semantic import EMBEDDER
from services.matching.terms import own_terms_key, own_terms_of_row
from services.metrics import REGISTRY
from services.search.sync import rebuild
from tests.factories import create_listing

PUMP = dict(title="新能源汽车热泵空调与动力电池低温加热一体化热管理", keywords=["热泵空调", "热管理"],
            summary="以热泵回收电机余热为座舱和动力电池加热。", description="零下十度工况能耗降低百分之三十。",
            field="advanced_energy.storage", trl=6, region="cd.longquanyi")


def _encoded() -> float:
    return REGISTRY.get_sample_value("market_vectors_encoded_total") or 0.0


async def _stored(ctx, listing_id: str) -> ListingVector | None:
    async with ctx.sessions() as session:
        return await session.scalar(select(ListingVector).where(ListingVector.listing_id == listing_id))


async def test_a_vector_is_stored_on_publish_and_replaced_only_when_the_text_changes(client, market, sync, ctx):
    uni = await market.organisation("university")
    before = _encoded()
    pump = await create_listing(market, "achievements", uni, external_id="V-1", **PUMP)
    await sync()
    first = await _stored(ctx, pump["id"])
    assert first is not None and first.kind == "achievements" and len(first.vector) == 512 * 4
    assert _encoded() == before + 1

    minor = await client.patch(f"/v1/achievements/{pump['id']}", headers=uni.headers,
                              json={"price": {"negotiable": False, "min": "100000.00", "max": "400000.00"}})
    assert minor.status_code == 200, minor.text
    await sync()
    assert _encoded() == before + 1  # the document was indexed again, from the stored vector
    assert (await _stored(ctx, pump["id"])).vector == first.vector

    edited = await client.patch(f"/v1/achievements/{pump['id']}", headers=uni.headers,
                                json={"title": "钢铁厂高炉煤气余热回收发电系统"})
    assert edited.status_code == 200, edited.text
    await client.post(f"/v1/achievements/{pump['id']}/approve", headers=(await market.operator()).headers)
    await sync()
    second = await _stored(ctx, pump["id"])
    assert _encoded() == before + 2
    assert second.text_hash != first.text_hash and second.vector != first.vector


async def test_a_rebuild_reads_the_stored_vectors_instead_of_encoding(client, market, sync, ctx, search):
    uni = await market.organisation("university")
    firm = await market.organisation("enterprise")
    pump = await create_listing(market, "achievements", uni, external_id="V-1", **PUMP)
    need = await create_listing(market, "needs", firm, title="冬天电动车一冷就跑不远", keywords=["续航缩水"],
                                description="网约车一到冬天续航掉一半。", field="advanced_energy.storage")
    await sync()
    before = _encoded()
    assert await rebuild(ctx) == {"achievements": 1, "needs": 1}
    assert _encoded() == before
    for kind, listing in ((ListKind.achievements, pump), (ListKind.needs, need)):
        document = await search.client.get_document(search.uid(kind), listing["id"], {"retrieveVectors": "true"})
        assert len(document["_vectors"][EMBEDDER]["embeddings"][0]) == 512
    matches = (await client.get(f"/v1/needs/{need['id']}/matches")).json()["matches"]
    assert [m["id"] for m in matches] == [pump["id"]]


async def _row(ctx, table, listing_id: str):
    async with ctx.sessions() as session:
        return await session.get(table, listing_id)


async def test_own_terms_are_stored_with_the_vector_and_picked_again_when_the_text_changes(client, market, sync,
                                                                                           ctx):
    uni = await market.organisation("university")
    pump = await create_listing(market, "achievements", uni, **PUMP)
    await sync()
    first = await _stored(ctx, pump["id"])
    row = await _row(ctx, Achievement, pump["id"])
    assert first.terms_key == own_terms_key(row)
    assert first.terms == [[t.term, t.weight, t.origin] for t in own_terms_of_row(row)]
    assert ["热管理", 1.0, "keyword"] in first.terms

    edited = await client.patch(f"/v1/achievements/{pump['id']}", headers=uni.headers,
                                json={"keywords": ["热泵空调 热管理"]})  # one keyword now, not two
    assert edited.status_code == 200, edited.text
    await client.post(f"/v1/achievements/{pump['id']}/approve", headers=(await market.operator()).headers)
    await sync()
    second = await _stored(ctx, pump["id"])
    assert second.terms_key != first.terms_key and second.text_hash == first.text_hash
    assert ["热泵空调 热管理", 1.0, "keyword"] in second.terms and ["热管理", 1.0, "keyword"] not in second.terms


async def test_a_live_match_queries_the_stored_terms_while_they_are_current(client, market, sync, ctx):
    uni = await market.organisation("university")
    firm = await market.organisation("enterprise")
    await create_listing(market, "achievements", uni, **PUMP)
    need = await create_listing(market, "needs", firm, title="冬天电动车一冷就跑不远", keywords=["续航缩水"],
                                description="网约车一到冬天续航掉一半，想找电池低温加热的办法。",
                                field="advanced_energy.storage")
    await sync()

    def queried(page) -> set[tuple[str, str]]:
        return {(m["term"], m["origin"]) for match in page.json()["matches"]
                for m in match["reasons"]["matched_terms"]}

    assert ("加热", "body") in queried(await client.get(f"/v1/needs/{need['id']}/matches"))
    # A stand-in for the stored terms, under the current key: the match queries it (and its expansion) alone.
    async with ctx.sessions() as session, session.begin():
        await session.execute(update(ListingVector).where(ListingVector.listing_id == need["id"])
                              .values(terms=[["余热", 1.0, "keyword"]]))
    stand_in = queried(await client.get(f"/v1/needs/{need['id']}/matches"))
    assert ("余热", "keyword") in stand_in
    assert all(origin == "thesaurus" for _, origin in stand_in - {("余热", "keyword")})

    # Once the text changes the stored terms are stale until the worker runs: the match picks them itself.
    edited = await client.patch(f"/v1/needs/{need['id']}", headers=firm.headers, json={"keywords": ["热泵空调"]})
    assert edited.status_code == 200, edited.text
    approved = await client.post(f"/v1/needs/{need['id']}/approve", headers=(await market.operator()).headers)
    assert approved.json()["keywords"] == ["热泵空调"]
    assert (await _stored(ctx, need["id"])).terms == [["余热", 1.0, "keyword"]]
    assert ("热泵空调", "keyword") in queried(await client.get(f"/v1/needs/{need['id']}/matches"))
