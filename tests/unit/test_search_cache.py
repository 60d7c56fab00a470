"""The microcache's bounds: entries, time to live, and that it can be switched off."""

import pytest

from services.search.cache import SearchCache


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def _answer(n: int):
    async def compute():
        computed.append(n)
        return f"answer {n}"
    return compute


computed: list[int] = []


@pytest.fixture(autouse=True)
def _reset():
    computed.clear()


@pytest.mark.parametrize(("seconds", "entries", "keys", "later", "recomputed"), [
    (3, 10, [1, 2, 1, 2], 0, []),  # repeats within the TTL: answered from memory
    (3, 10, [1, 2], 3, [1, 2]),  # at the TTL: asked again
    (3, 2, [1, 2, 3], 0, [1]),  # over the bound: the oldest goes first
    (0, 10, [1, 1], 0, [1, 1]),  # 0 seconds: off, every search asked
])
async def test_bounds(seconds, entries, keys, later, recomputed):
    clock = Clock()
    cache = SearchCache(seconds, entries, clock)
    for key in keys:
        assert await cache.answer(key, _answer(key)) == f"answer {key}"
    first = list(computed)
    clock.now += later
    for key in recomputed or [keys[0]]:
        await cache.answer(key, _answer(key))
    assert computed[len(first):] == recomputed
    assert len(cache) <= entries
