"""The search microcache: the same search moments later, or a burst of it, costs Meilisearch once."""

import asyncio

import pytest

from services.search import client as search_client
from services.search.cache import SearchCache
from tests.factories import create_listing

SENSOR = dict(title="柔性压力传感器阵列", keywords=["传感器", "柔性电子"], summary="可贴附的柔性压力传感器。",
              description="基于纳米银线的柔性压力传感器阵列。", field="electronic_information.sensors")
LATE = dict(title="光纤传感器温度监测系统", keywords=["传感器", "光纤"], summary="分布式光纤测温。",
            description="变电站电缆的分布式光纤温度监测。", field="electronic_information.sensors")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(app, clock):
    """SEARCH_CACHE_SECONDS=3 for this test (the suite runs with it off), on a clock the test moves."""
    off, app.state.search_cache = app.state.search_cache, SearchCache(3.0, 100, clock)
    yield app.state.search_cache
    app.state.search_cache = off


@pytest.fixture
def searches(monkeypatch) -> list[str]:
    """The search requests the app sends to the real Meilisearch during the test."""
    calls: list[str] = []
    monkeypatch.setattr(search_client, "REQUEST_HOOKS", [*search_client.REQUEST_HOOKS, lambda method, path, *_: (
        calls.append(path) if path.endswith("search") else None)])
    return calls


async def _published(market, sync, **listing) -> dict:
    found = await create_listing(market, "achievements", await market.organisation("university"), **listing)
    await sync()
    return found


async def test_the_same_search_moments_later_does_not_reach_meilisearch(client, market, sync, cache, searches,
                                                                       operator):
    sensor = await _published(market, sync, **SENSOR)
    searches.clear()
    first = await client.get("/v1/search/achievements", params={"q": "传感器", "limit": 10})
    again = await client.get("/v1/search/achievements", params={"limit": "10", "q": "传感器"})
    # Any caller gets the same answer (the indexes hold only what is public), so the cache serves them too.
    as_operator = await client.get("/v1/search/achievements", params={"q": "传感器", "limit": 10},
                                   headers=operator.headers)
    assert [h["id"] for h in first.json()["hits"]] == [sensor["id"]]
    assert again.json() == first.json() == as_operator.json()
    assert len(searches) == 1


@pytest.mark.parametrize("other", [
    {"q": "传感器", "limit": 10, "field": "electronic_information"},  # another filter
    {"q": "传感器", "limit": 10, "offset": 10},  # another page
    {"q": "傳感器", "limit": 10},  # another query (the same words in the other script: echoed as sent)
    {"limit": 10},  # the list's browse page
])
async def test_a_different_search_reaches_meilisearch(client, market, sync, cache, searches, other):
    await _published(market, sync, **SENSOR)
    searches.clear()
    await client.get("/v1/search/achievements", params={"q": "传感器", "limit": 10})
    await client.get("/v1/search/achievements", params=other)
    await client.get("/v1/search/needs", params={"q": "传感器", "limit": 10})  # the other list
    assert len(searches) == 3


async def test_a_burst_of_one_search_costs_meilisearch_once(client, market, sync, cache, searches):
    await _published(market, sync, **SENSOR)
    searches.clear()
    answers = await asyncio.gather(*(client.get("/v1/search/achievements", params={"q": "柔性"}) for _ in range(8)))
    assert {a.status_code for a in answers} == {200} and len({a.text for a in answers}) == 1
    assert len(searches) == 1


async def test_a_newly_published_listing_is_found_once_the_answer_expires(client, market, sync, cache, clock,
                                                                         searches):
    sensor = await _published(market, sync, **SENSOR)
    before = await client.get("/v1/search/achievements", params={"q": "传感器"})
    late = await _published(market, sync, **LATE)
    clock.now += 2.9  # within SEARCH_CACHE_SECONDS: the answer of a moment ago
    stale = await client.get("/v1/search/achievements", params={"q": "传感器"})
    assert stale.json() == before.json()
    clock.now += 0.2
    fresh = await client.get("/v1/search/achievements", params={"q": "传感器"})
    assert {h["id"] for h in fresh.json()["hits"]} == {sensor["id"], late["id"]}


async def test_errors_are_not_kept(client, market, sync, cache, searches):
    bad = await client.get("/v1/search/achievements", params={"q": "传感器", "sort": "budget_max"})
    assert bad.status_code == 422 and len(cache) == 0


async def test_hits_and_misses_on_metrics(client, market, sync, cache):
    await _published(market, sync, **SENSOR)
    before = await _counters(client)
    for _ in range(3):
        await client.get("/v1/search/needs", params={"q": "传感器"})
    after = await _counters(client)
    assert after["market_search_cache_misses_total"] - before["market_search_cache_misses_total"] == 1
    assert after["market_search_cache_hits_total"] - before["market_search_cache_hits_total"] == 2


async def _counters(client) -> dict[str, float]:
    text = (await client.get("/metrics")).text
    found = {"market_search_cache_hits_total": 0.0, "market_search_cache_misses_total": 0.0}
    for line in text.splitlines():
        name, _, value = line.partition("{kind=\"needs\"} ")
        if name in found:
            found[name] = float(value)
    return found
