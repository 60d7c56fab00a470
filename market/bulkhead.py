"""Bulkheads: at most a few expensive requests of a kind (a live match is a multi-search of ~17 queries)
run at once in one API process; the others wait their turn, first come first served. On a shared machine a
closed loop's latency is clients / throughput, so without this the cheap requests (reads, searches) queue
behind the expensive ones in the event loop and in Meilisearch. A request waiting for its turn holds no
database connection (the route has not started), and one whose client hangs up meanwhile never runs.

While others wait, a turn is handed on after a rest in proportion to the turn just taken (`share`): matches
queued back to back would otherwise keep Meilisearch and the cores busy without a gap, and every read and
search would wait for a core at each of its steps. A turn with nobody behind it is freed at once, and the
rests end as soon as nobody waits any more, so a single caller never waits on a rest. A rest lasts at most
MAX_REST: a turn held long by a stalled dependency does not idle the slot as long again."""

import asyncio
import re
import time
from collections import deque
from collections.abc import Callable
from contextlib import asynccontextmanager

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.metrics import BULKHEAD_RESTING, BULKHEAD_WAITING

MAX_REST = 1.0  # seconds
# Which requests go through which bulkhead (by method and path; the routes are matched later).
ROUTES = {"matches": re.compile(r"^/v1/(needs|achievements)/[^/]+/matches/?$")}


class ClientGone(Exception):
    """The client hung up while its request waited for a turn."""


class Bulkhead:
    """At most `limit` holders at once; the others wait in arrival order, each handed a freed slot. With
    others waiting, a slot held t seconds passes on min(t × (1 / share − 1), MAX_REST) seconds later (`later`
    schedules that as `loop.call_later` does, `clock` times the turn: both injectable)."""

    def __init__(self, name: str, limit: int, share: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 later: Callable[..., object] | None = None):
        if not 0 < share <= 1:
            raise ValueError("share is in (0, 1]")
        self.name = name
        self.limit = limit
        self.share = share
        self._clock = clock
        self._later = later
        self._queue: deque[asyncio.Future] = deque()
        self._resting: list[object] = []  # one token per slot at rest (it still counts in `running`)
        self.running = 0

    @property
    def waiting(self) -> int:
        return len(self._queue)

    @asynccontextmanager
    async def turn(self, disconnected: asyncio.Future | None = None):
        """Waits for a slot and holds it for the block. `disconnected` (done when the client hangs up)
        ends the wait with ClientGone instead."""
        if self.running < self.limit and not self._queue:
            self.running += 1
        else:
            await self._wait(disconnected)
        started = self._clock()
        try:
            yield
        except BaseException:
            self._release()  # a turn that failed or was cancelled rests nobody
            raise
        rest = min((self._clock() - started) * (1 / self.share - 1), MAX_REST)
        if rest > 0 and self._queue:
            self._rest(rest)
        else:
            self._release()

    def _rest(self, seconds: float) -> None:
        token = object()
        self._resting.append(token)
        BULKHEAD_RESTING.labels(self.name).inc()
        (self._later or asyncio.get_running_loop().call_later)(seconds, self._rest_over, token)

    def _rest_over(self, token: object) -> None:
        if token in self._resting:  # else it was ended early (`_end_rests`)
            self._resting.remove(token)
            BULKHEAD_RESTING.labels(self.name).dec()
            self._release()

    def _end_rests(self) -> None:
        """Nobody waits any more: the resting slots are freed now, for whoever comes next."""
        while self._resting:
            self._rest_over(self._resting[0])

    async def _wait(self, disconnected: asyncio.Future | None) -> None:
        turn = asyncio.get_running_loop().create_future()
        self._queue.append(turn)
        BULKHEAD_WAITING.labels(self.name).inc()
        try:
            await asyncio.wait([turn, *([disconnected] if disconnected else [])],
                               return_when=asyncio.FIRST_COMPLETED)
            if disconnected is not None and disconnected.done():
                raise ClientGone
        except BaseException:  # the client went away, or the waiting task was cancelled
            if turn.done():
                self._release()  # handed a slot it will not use: hand it on
            else:
                turn.cancel()
                self._queue.remove(turn)
                if not self._queue:
                    self._end_rests()
            raise
        finally:
            BULKHEAD_WAITING.labels(self.name).dec()

    def _release(self) -> None:
        while self._queue:
            turn = self._queue.popleft()
            if not turn.done():
                turn.set_result(None)  # the slot passes to the next in line: `running` stays
                return
        self.running -= 1


def bulkheads(match_concurrency: int, match_share: float) -> dict[str, Bulkhead]:
    """One per kind in ROUTES, sized from the settings (`app.state.bulkheads`)."""
    return {"matches": Bulkhead("matches", match_concurrency, match_share)}


class Bulkheads:
    """Middleware: a GET whose path is in ROUTES waits for its bulkhead's turn (`app.state.bulkheads`)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["type"] == "http" and scope["method"] == "GET" and next(
            (name for name, path in ROUTES.items() if path.match(scope["path"])), None)
        if not name:
            return await self.app(scope, receive, send)
        received: list[Message] = []
        disconnected = asyncio.get_running_loop().create_future()

        async def listen() -> None:
            # The (empty) body, then the hang-up: what it read before its turn is replayed to the route.
            while (message := await receive())["type"] != "http.disconnect":
                received.append(message)
            disconnected.set_result(True)

        listener = asyncio.create_task(listen())
        try:
            async with scope["app"].state.bulkheads[name].turn(disconnected):
                listener.cancel()

                async def replay() -> Message:
                    return received.pop(0) if received else await receive()

                await self.app(scope, replay, send)
        except ClientGone:
            return  # nobody to answer: the request never ran
        finally:
            listener.cancel()
