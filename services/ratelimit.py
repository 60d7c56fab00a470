"""Per-caller rate limits in fixed one-minute windows, shared by every replica through PostgreSQL.

Two counters:
- `RateLimiter` (every request): counts in memory, so a request costs no database write, and
  reconciles with the `ratewindow` table in the background (one batched upsert a second). A replica
  sees the other replicas' counts as of its last reconcile, so the shared limit is approximate: with R
  replicas a caller can exceed it by at most what the others served in one reconcile interval.
  A replica that cannot reach PostgreSQL keeps counting locally and reconciles when it is back.
- `hit` (logins): one exact upsert per attempt, because a password guess is rare and must be counted
  exactly across replicas.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.errors import RateLimited

log = logging.getLogger(__name__)

# synchronous_commit off for this transaction only (set in the same statement, no extra round trip):
# a count lost in a crash is harmless, waiting for the WAL flush on every request is not (bench/README).
_COUNT = text("""
    INSERT INTO ratewindow (key, window_start, count)
    SELECT :key, :window, 1 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed
    ON CONFLICT (key, window_start) DO UPDATE SET count = ratewindow.count + 1
    RETURNING count
""")
_ADD = text("""
    INSERT INTO ratewindow (key, window_start, count)
    SELECT counted.* FROM unnest(CAST(:keys AS text[]), CAST(:windows AS timestamptz[]), CAST(:counts AS int[]))
        AS counted, (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed
    ON CONFLICT (key, window_start) DO UPDATE SET count = ratewindow.count + excluded.count
    RETURNING key, window_start, count
""")
_PRUNE = text("DELETE FROM ratewindow WHERE window_start < now() - interval '10 minutes'")
WINDOW = 60


@dataclass(frozen=True)
class Quota:
    """What the X-RateLimit-* headers say: the limit, what is left, seconds until the window resets."""

    limit: int
    remaining: int
    reset: int


class RateLimiter:
    def __init__(self, engine: AsyncEngine, interval: float = 1.0, clock: Callable[[], float] = time.time):
        self.engine = engine
        self.interval = interval
        self.clock = clock
        self._unsent: dict[tuple[str, int], int] = {}  # this replica's hits since the last reconcile
        self._sending: dict[tuple[str, int], int] = {}  # on their way to PostgreSQL, not yet in _shared
        self._shared: dict[tuple[str, int], int] = {}  # every replica's total as of the last reconcile
        self._reconciles = 0

    def hit(self, key: str, limit: int) -> Quota:
        """Count one request of `key`; raises RateLimited (carrying the quota) above the limit."""
        now = self.clock()
        window = int(now // WINDOW) * WINDOW
        slot = (key, window)
        self._unsent[slot] = self._unsent.get(slot, 0) + 1
        count = self._shared.get(slot, 0) + self._sending.get(slot, 0) + self._unsent[slot]
        quota = Quota(limit, max(0, limit - count), max(1, int(window + WINDOW - now)))
        if count > limit:
            raise RateLimited(f"more than {limit} requests a minute", code="rate_limited",
                              retry_after=quota.reset, quota=quota)
        return quota

    async def reconcile(self) -> None:
        """Add this replica's counts to the shared table and learn everyone's totals (one statement)."""
        unsent, self._unsent = self._unsent, {}
        self._sending = unsent  # still counted while the statement runs
        current = int(self.clock() // WINDOW) * WINDOW
        self._shared = {slot: n for slot, n in self._shared.items() if slot[1] >= current - WINDOW}
        if not unsent:
            return
        try:
            # Autocommit, each statement its own transaction: no BEGIN and COMMIT round trips, whose CPU lands
            # every second on whatever request the API process is serving.
            async with self.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                rows = (await conn.execute(_ADD, {
                    "keys": [key for key, _ in unsent], "counts": list(unsent.values()),
                    "windows": [datetime.fromtimestamp(window, UTC) for _, window in unsent]})).all()
                self._reconciles += 1
                if self._reconciles % 600 == 1:  # now and then: keeps the table small
                    await conn.execute(_PRUNE)
        except BaseException:
            for slot, n in unsent.items():  # PostgreSQL away: keep counting here, send them next time
                self._unsent[slot] = self._unsent.get(slot, 0) + n
            self._sending = {}
            raise
        for key, window_start, count in rows:
            self._shared[(key, int(window_start.timestamp()))] = count
        self._sending = {}  # now in _shared (no await since: no hit saw them twice or not at all)

    async def run(self) -> None:
        """Reconcile every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.reconcile()
            except Exception as exc:
                log.warning("rate-limit reconcile failed, counting locally: %s", exc)

    @contextlib.asynccontextmanager
    async def running(self):
        task = asyncio.create_task(self.run())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            with contextlib.suppress(Exception):
                await self.reconcile()


async def hit(engine: AsyncEngine, key: str, limit_per_minute: int) -> None:
    """One exact, shared count (logins)."""
    now = datetime.now(UTC)
    window = now.replace(second=0, microsecond=0)
    # Autocommit: the one statement is its own transaction, so no BEGIN/COMMIT round trips on every request.
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        count = (await conn.execute(_COUNT, {"key": key, "window": window})).scalar_one()
        if count == 1 and now.microsecond % 50 == 0:
            await conn.execute(_PRUNE)  # occasional cleanup keeps the table small
    if count > limit_per_minute:
        raise RateLimited(f"more than {limit_per_minute} requests a minute", code="rate_limited",
                          retry_after=60 - now.second)
