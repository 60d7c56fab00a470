"""A microcache of public search answers, per API process: an identical search within a few seconds
(SEARCH_CACHE_SECONDS) is answered from memory, and identical searches arriving together wait on the one
already sent (single flight), so a burst of the same query costs Meilisearch once.

The answer of `GET /v1/search/…` does not depend on the caller (the indexes hold only published listings,
confidential firms already as 某企业), so the key is the search alone: the list and every parameter as
parsed. Staleness is bounded by the TTL, on top of publish → searchable, which already takes seconds.
"""

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import astuple
from typing import Any

from schemas.enums import ListKind
from schemas.search import SearchPage
from services.metrics import SEARCH_CACHE_HITS, SEARCH_CACHE_MISSES
from services.search import queries
from services.search.indexes import SearchIndexes


class SearchCache:
    def __init__(self, seconds: float, entries: int, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self.entries = entries
        self._clock = clock
        # key → (expires, answer), oldest first: with one TTL for all, the oldest also expires first, so
        # evicting from the front both bounds memory and drops what is stale.
        self._answers: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._in_flight: dict[Hashable, asyncio.Future] = {}

    def __len__(self) -> int:
        return len(self._answers)

    async def search(self, indexes: SearchIndexes, kind: ListKind, params: queries.SearchParams) -> SearchPage:
        """`queries.search`, answered from memory when the same search was answered moments ago."""
        return await self.answer((kind.value, astuple(params)), lambda: queries.search(indexes, kind, params),
                                 label=kind.value)

    async def answer(self, key: Hashable, compute: Callable[[], Awaitable[Any]], label: str = "") -> Any:
        if self.seconds <= 0:
            return await compute()
        self._forget_expired()
        if key in self._answers:
            SEARCH_CACHE_HITS.labels(label).inc()
            return self._answers[key][1]
        flight = self._in_flight.get(key)
        if flight is not None:
            SEARCH_CACHE_HITS.labels(label).inc()
        else:
            SEARCH_CACHE_MISSES.labels(label).inc()
            # Its own task: a caller that hangs up does not cancel the answer the others wait for.
            flight = self._in_flight[key] = asyncio.ensure_future(compute())
            flight.add_done_callback(lambda done: self._landed(key, done))
        return await asyncio.shield(flight)

    def _landed(self, key: Hashable, flight: asyncio.Future) -> None:
        self._in_flight.pop(key, None)
        if flight.cancelled() or flight.exception() is not None:  # errors are not kept: the next one retries
            return
        self._answers[key] = (self._clock() + self.seconds, flight.result())
        self._answers.move_to_end(key)
        while len(self._answers) > self.entries:
            self._answers.popitem(last=False)

    def _forget_expired(self) -> None:
        now = self._clock()
        while self._answers and next(iter(self._answers.values()))[0] <= now:
            self._answers.popitem(last=False)
