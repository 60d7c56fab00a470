"""Listing vectors kept in PostgreSQL: encoded by the worker when a listing's text changes, never again by
an index build (the encoder's runs are counted by `market_vectors_encoded_total`)."""

from sqlalchemy import select

from schemas.enums import ListKind
from schemas.tables import ListingVector
from services.matching.semantic import EMBEDDER
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
