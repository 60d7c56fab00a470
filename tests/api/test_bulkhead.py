"""Live matches take turns (MATCH_CONCURRENCY per API process) while reads and searches keep flowing, and
queued ones rest between turns (MATCH_SHARE)."""

import asyncio
import itertools
from collections.abc import Callable

import pytest

from market.bulkhead import MAX_REST, Bulkhead
from services.search import client as search_client
from tests.factories import create_listing

PICKER = dict(title="基于视觉识别的茶叶嫩芽定位与柔性采摘末端执行器", keywords=["嫩芽识别", "采摘机器人"],
              summary="面向名优茶机械化采摘的嫩芽识别技术。", description="采用深度学习识别茶叶嫩芽，可替代人工采茶。",
              field="artificial_intelligence.vision", trl=6, stage="pilot", region="cd.wuhou")
NEED = dict(title="名优茶采摘全靠人工，想找采摘嫩芽的设备", keywords=["采茶", "嫩芽识别"],
            description="茶园明前茶采摘全靠人工，想找能替代人工采摘嫩芽的设备。",
            field="modern_agriculture.smart_agriculture", required_trl=5, region="cd.pujiang")


@pytest.fixture
def one_at_a_time(app, monkeypatch) -> Bulkhead:
    """MATCH_CONCURRENCY=1 for this test."""
    bulkhead = Bulkhead("matches", 1)
    monkeypatch.setitem(app.state.bulkheads, "matches", bulkhead)
    return bulkhead


@pytest.fixture
def meili_calls(monkeypatch) -> list[str]:
    """The paths of the requests the app sends to Meilisearch during the test (the real one, counted)."""
    calls: list[str] = []
    monkeypatch.setattr(search_client, "REQUEST_HOOKS",
                        [*search_client.REQUEST_HOOKS, lambda method, path, *_: calls.append(path)])
    return calls


async def _need_and_picker(market, sync) -> tuple[dict, dict]:
    picker = await create_listing(market, "achievements", await market.organisation("university"), **PICKER)
    need = await create_listing(market, "needs", await market.organisation("enterprise"), **NEED)
    await sync()
    return need, picker


async def test_reads_and_searches_answer_while_a_match_waits_its_turn(client, market, sync, one_at_a_time):
    need, picker = await _need_and_picker(market, sync)
    async with one_at_a_time.turn():  # a live match running: the only slot is taken
        waiting = asyncio.create_task(client.get(f"/v1/needs/{need['id']}/matches"))
        read = await client.get(f"/v1/achievements/{picker['id']}")
        found = await client.get("/v1/search/achievements", params={"q": "嫩芽识别"})
        assert read.status_code == 200 and found.status_code == 200
        assert [hit["id"] for hit in found.json()["hits"]] == [picker["id"]]
        assert one_at_a_time.waiting == 1 and not waiting.done()
    answer = await waiting  # its turn came when the slot was freed
    assert answer.status_code == 200
    assert answer.json()["matches"][0]["id"] == picker["id"]
    assert one_at_a_time.running == 0 and one_at_a_time.waiting == 0


async def test_a_waiting_match_whose_client_hung_up_never_runs(app, market, sync, one_at_a_time, meili_calls):
    need, _ = await _need_and_picker(market, sync)
    meili_calls.clear()
    messages = iter([{"type": "http.request", "body": b"", "more_body": False}, {"type": "http.disconnect"}])
    sent = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": f"/v1/needs/{need['id']}/matches", "raw_path": f"/v1/needs/{need['id']}/matches".encode(),
             "root_path": "", "query_string": b"", "headers": [(b"host", b"test")],
             "client": ("127.0.0.1", 50000), "server": ("test", 80)}
    async with one_at_a_time.turn():
        await app(scope, receive, send)  # it waits, hears the hang-up, and gives up its place
        assert one_at_a_time.waiting == 0
    assert sent == [] and meili_calls == []
    assert one_at_a_time.running == 0


async def _one_holding(bulkhead: Bulkhead, behind: int) -> tuple[list[int], asyncio.Event, list[asyncio.Task]]:
    """Match 0 takes the slot and holds it until the event is set; matches 1 to `behind` queue after it.
    Each notes its number in the order when its turn comes."""
    order: list[int] = []
    hold = asyncio.Event()

    async def match(n: int) -> None:
        async with bulkhead.turn():
            order.append(n)
            if n == 0:
                await hold.wait()

    tasks = [asyncio.create_task(match(0))]
    await asyncio.sleep(0)  # wait-ok: lets the first take the slot (no clock involved)
    tasks += [asyncio.create_task(match(n)) for n in range(1, behind + 1)]
    await asyncio.sleep(0)  # wait-ok: lets the others queue
    return order, hold, tasks


async def test_the_slot_passes_to_the_next_in_line_in_order():
    bulkhead = Bulkhead("matches", 1)
    order, hold, (first, *rest) = await _one_holding(bulkhead, behind=3)
    assert (bulkhead.running, bulkhead.waiting) == (1, 3)
    rest[1].cancel()  # a waiter that gives up leaves the line without taking a slot
    hold.set()
    await asyncio.gather(first, rest[0], rest[2])
    assert order == [0, 1, 3] and (bulkhead.running, bulkhead.waiting) == (0, 0)


def _paced(share: float, turn_seconds: float = 0.3) -> tuple[Bulkhead, list[tuple[float, Callable[[], None]]]]:
    """A bulkhead whose turns each last `turn_seconds` on its clock, and whose rests are handed to the test
    (each: how long, and the call that ends it)."""
    now = (n * turn_seconds for n in itertools.count())
    rests: list[tuple[float, Callable[[], None]]] = []
    bulkhead = Bulkhead("matches", 1, share, clock=lambda: next(now),
                        later=lambda seconds, callback, *args: rests.append((seconds, lambda: callback(*args))))
    return bulkhead, rests


async def test_with_a_match_waiting_a_turn_is_handed_on_after_a_rest_in_proportion():
    bulkhead, rests = _paced(share=0.6)
    order, hold, (first, second) = await _one_holding(bulkhead, behind=1)
    hold.set()
    await first
    assert order == [0] and [seconds for seconds, _ in rests] == [pytest.approx(0.2)]  # 0.3 s × (1 / 0.6 − 1)
    assert (bulkhead.running, bulkhead.waiting) == (1, 1)  # the slot rests, still taken
    rests[0][1]()  # the rest is over
    await second
    assert order == [0, 1] and len(rests) == 1  # nobody behind the second: its turn was freed at once
    assert (bulkhead.running, bulkhead.waiting) == (0, 0)


async def test_a_single_caller_never_waits_on_a_rest():
    bulkhead, rests = _paced(share=0.5)
    for _ in range(3):
        async with bulkhead.turn():
            assert bulkhead.running == 1
        assert bulkhead.running == 0
    assert rests == []


async def test_a_share_of_one_hands_the_turn_on_at_once():
    bulkhead, rests = _paced(share=1.0)
    order, hold, tasks = await _one_holding(bulkhead, behind=1)
    hold.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1] and rests == [] and (bulkhead.running, bulkhead.waiting) == (0, 0)


async def test_a_rest_ends_when_nobody_waits_any_more():
    bulkhead, rests = _paced(share=0.5)
    order, hold, (first, second) = await _one_holding(bulkhead, behind=1)
    hold.set()
    await first
    assert len(rests) == 1 and (bulkhead.running, bulkhead.waiting) == (1, 1)  # resting for the second
    second.cancel()  # the second gives up during the rest
    await asyncio.gather(second, return_exceptions=True)
    assert (bulkhead.running, bulkhead.waiting) == (0, 0)  # a newcomer would not wait on a rest for nobody
    async with bulkhead.turn():
        assert bulkhead.running == 1
    rests[0][1]()  # the rest's timer fires later: nothing to hand on
    assert (bulkhead.running, bulkhead.waiting) == (0, 0)


async def test_a_long_turn_rests_at_most_max_rest_and_a_failed_one_not_at_all():
    bulkhead, rests = _paced(share=0.5, turn_seconds=30)
    order, hold, (first, second) = await _one_holding(bulkhead, behind=1)
    hold.set()
    await first
    assert [seconds for seconds, _ in rests] == [MAX_REST]  # not 30 s
    rests[0][1]()
    await second

    order, hold, (first, second) = await _one_holding(bulkhead, behind=1)
    first.cancel()  # the turn ends with an exception (a client gone, a cancelled task)
    async with asyncio.timeout(30):  # a guard against a slot never freed, not a measurement
        await asyncio.gather(first, second, return_exceptions=True)
    assert order == [0, 1] and len(rests) == 1  # the second got its turn without a rest


async def test_a_rest_is_scheduled_on_the_event_loop():
    """The real scheduler: the waiter gets its turn when the loop's timer fires (its turn is awaited, not
    timed)."""
    now = iter([0.0, 0.01])
    bulkhead = Bulkhead("matches", 1, share=0.5, clock=lambda: next(now, 0.01))
    order, hold, (first, second) = await _one_holding(bulkhead, behind=1)
    hold.set()
    await first
    assert (bulkhead.running, bulkhead.waiting) == (1, 1)
    async with asyncio.timeout(30):  # a guard against a hang, not a measurement
        await second
    assert order == [0, 1] and (bulkhead.running, bulkhead.waiting) == (0, 0)


def test_a_share_must_leave_the_matches_some_time():
    with pytest.raises(ValueError):
        Bulkhead("matches", 1, share=0)
