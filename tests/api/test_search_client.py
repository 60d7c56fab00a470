"""The Meilisearch client (services/search/client.py) against the real Meilisearch: answers, errors,
concurrency, writes, and reconnection after a restart. bench/meili_client.py times it; this checks it."""

import asyncio
import gc
import random
import secrets

import httpx
import pytest

from market.runtime.meili import free_port
from services.search.client import MeiliClient, SearchError, SearchTaskFailed, SearchUnavailable

WORDS = "人工智能 新材料 石墨烯 锂电池 储能 芯片 半导体 机器人 传感器 生物医药 疫苗 基因编辑 光伏 氢能".split()
FIELDS = ["新能源", "新材料", "生物医药", "电子信息", "先进制造"]


def make_docs(n: int = 300) -> list[dict]:
    rnd = random.Random(42)
    return [{"id": i, "title": "".join(rnd.sample(WORDS, 2)) + f"技术成果{i}",
             "summary": "，".join(rnd.sample(WORDS, 4)) + "。", "field": rnd.choice(FIELDS)} for i in range(n)]


@pytest.fixture
async def meili(settings):
    """A client and a throwaway index holding make_docs(), deleted afterwards."""
    docs = make_docs()
    index = "client_" + secrets.token_hex(4)
    async with MeiliClient(settings.meili_url, settings.meili_master_key) as client:
        await client.wait_task(await client.create_index(index, "id"))
        await client.wait_task(await client.update_settings(
            index, {"searchableAttributes": ["title", "summary"], "filterableAttributes": ["field"]}))
        await client.wait_task(await client.add_documents(index, docs), timeout=120)
        yield client, index, docs
        await client.wait_task(await client.delete_index(index))


async def expect_error(coro, exc: type[Exception], code: str | None = None) -> Exception:
    with pytest.raises(exc) as caught:
        await coro
    assert code is None or getattr(caught.value, "code", None) == code
    return caught.value


async def test_reads_answer_what_the_index_holds(meili):
    client, index, docs = meili
    assert await client.health() == {"status": "available"}
    assert (await client.get_settings(index))["filterableAttributes"] == ["field"]
    assert (await client.get_stats(index))["numberOfDocuments"] == len(docs)
    assert await client.get_document(index, 7) == docs[7]
    assert index in [i["uid"] for i in (await client.list_indexes())["results"]]
    found = await client.search(index, {"q": "石墨烯", "limit": 1000})
    assert {h["id"] for h in found["hits"]} == {d["id"] for d in docs if "石墨烯" in d["title"] + d["summary"]}
    filtered = await client.search(index, {"q": "", "filter": 'field = "生物医药"', "limit": 1000})
    assert len(filtered["hits"]) == sum(d["field"] == "生物医药" for d in docs)


async def test_concurrent_searches_answer_as_one_by_one(meili):
    client, index, _ = meili
    queries = [{"q": w, "limit": 10, "filter": f'field = "{FIELDS[i % len(FIELDS)]}"'}
               for i, w in enumerate((WORDS * 4)[:50])]
    one_by_one = [[h["id"] for h in (await client.search(index, q))["hits"]] for q in queries]
    together = await asyncio.gather(*(client.search(index, q) for q in queries))
    assert [[h["id"] for h in r["hits"]] for r in together] == one_by_one


async def test_an_answer_is_freed_without_the_cyclic_collector(meili):
    """No reference cycle is left behind a request: an httpx AsyncClient keeps every response in one, ~45 objects
    a request that only the cyclic collector frees, in pauses that land on the slowest requests."""
    client, index, _ = meili
    await client.search(index, {"q": "储能"})  # a kept-alive connection first: opening one is not the point
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(3):
            await client.search(index, {"q": "储能"})
        gc.collect()
        left = [o for o in gc.garbage if isinstance(o, httpx.Request | httpx.Response) and index in str(o.url)]
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
        gc.enable()
    assert left == []


async def test_multi_search_plain_and_federated(meili):
    client, index, _ = meili
    queries = [{"indexUid": index, "q": "芯片"}, {"indexUid": index, "q": "疫苗"}]
    multi = await client.multi_search(queries)
    assert len(multi["results"]) == 2 and all(r["hits"] for r in multi["results"])
    ids = [h["id"] for h in (await client.multi_search(queries, federation={"limit": 50}))["hits"]]
    assert ids and len(ids) == len(set(ids))


async def test_errors_carry_meilisearchs_code(meili, settings):
    client, index, _ = meili
    assert (await expect_error(client.get_document(index, 999999), SearchError, "document_not_found")).status == 404
    await expect_error(client.search(index + "_missing", {"q": "x"}), SearchError, "index_not_found")
    await expect_error(client.wait_task(await client.create_index(index, "id")), SearchTaskFailed,
                       "index_already_exists")
    async with MeiliClient(settings.meili_url, "wrong-key") as bad:
        assert await bad.health() == {"status": "available"}  # /health needs no key
        await expect_error(bad.search(index, {"q": "x"}), SearchError, "invalid_api_key")
    async with MeiliClient(f"http://127.0.0.1:{free_port()}", None, timeout=2) as down:
        await expect_error(down.health(), SearchUnavailable)


async def test_writes_delete_swap_and_empty(meili):
    client, index, docs = meili
    await client.wait_task(await client.delete_documents(index, [0, 1, "2"]))
    assert (await client.get_stats(index))["numberOfDocuments"] == len(docs) - 3
    await expect_error(client.get_document(index, 0), SearchError, "document_not_found")
    other = index + "_b"
    await client.wait_task(await client.add_documents(other, [{"id": "x-1", "title": "备用"}], "id"))
    await client.wait_task(await client.swap_indexes([(index, other)]))
    assert (await client.get_document(index, "x-1"))["title"] == "备用"
    await client.wait_task(await client.swap_indexes([(index, other)]))
    await client.wait_task(await client.delete_index(other))
    await client.wait_task(await client.delete_all_documents(index))
    assert (await client.get_stats(index))["numberOfDocuments"] == 0


async def test_kept_alive_connections_recover_after_a_restart(meili, meili_process):
    client, index, _ = meili
    await asyncio.gather(*(client.search(index, {"q": "芯片"}) for _ in range(20)))  # fill the pool
    meili_process.stop()
    try:
        await expect_error(client.search(index, {"q": "芯片"}), SearchUnavailable)
    finally:
        meili_process.start()  # returns once the server answers /health
    results = await asyncio.gather(*(client.search(index, {"q": "芯片"}) for _ in range(50)))
    assert all(r["hits"] for r in results)
