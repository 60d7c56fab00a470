"""Per-caller rate limit in fixed one-minute windows, counted in PostgreSQL so every replica agrees."""

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.errors import RateLimited

# synchronous_commit off for this transaction only (set in the same statement, no extra round trip):
# a count lost in a crash is harmless, waiting for the WAL flush on every request is not (bench/README).
_COUNT = text("""
    INSERT INTO ratewindow (key, window_start, count)
    SELECT :key, :window, 1 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed
    ON CONFLICT (key, window_start) DO UPDATE SET count = ratewindow.count + 1
    RETURNING count
""")
_PRUNE = text("DELETE FROM ratewindow WHERE window_start < now() - interval '10 minutes'")


async def hit(engine: AsyncEngine, key: str, limit_per_minute: int) -> None:
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
