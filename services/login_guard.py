"""Failed logins per (account, client address): past a few, each attempt from that pair waits longer
(1 s, 2 s, 4 s … 15 min), so someone guessing slows themself down and never the account's owner, who
signs in from elsewhere. Counted in PostgreSQL so every replica agrees; written only on a failure."""

import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.errors import RateLimited, Unauthenticated

FREE_FAILURES = 4  # the fifth failure starts the delay
MAX_DELAY = timedelta(minutes=15)
FORGET_AFTER = timedelta(days=1)  # failures older than this start the count afresh

_BLOCKED_UNTIL = text("SELECT blocked_until FROM login_failure WHERE account = :account AND address = :address")
_FAILED = text("""
    INSERT INTO login_failure AS f (account, address, failures, last_failed_at, blocked_until)
    VALUES (:account, :address, 1, :now, :now)
    ON CONFLICT (account, address) DO UPDATE SET
        failures = CASE WHEN f.last_failed_at < :forget THEN 1 ELSE f.failures + 1 END,
        last_failed_at = :now
    RETURNING failures
""")
_BLOCK = text("UPDATE login_failure SET blocked_until = :until WHERE account = :account AND address = :address")
_RESET = text("DELETE FROM login_failure WHERE account = :account AND address = :address")
_PRUNE = text("DELETE FROM login_failure WHERE last_failed_at < :forget")

T = TypeVar("T")


def delay_after(failures: int) -> timedelta:
    """How long the pair waits after its n-th consecutive failure."""
    if failures <= FREE_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures - FREE_FAILURES - 1, 20)), MAX_DELAY)


async def guarded(engine: AsyncEngine, account: str, address: str, attempt: Callable[[], Awaitable[T]],
                  now: datetime | None = None) -> T:
    """Run a login attempt for the pair: 429 with Retry-After while it waits; a failure (Unauthenticated)
    is counted in its own transaction, so it sticks although the request's is rolled back."""
    now = now or datetime.now(UTC)
    account = account.strip().lower()
    async with engine.connect() as conn:
        blocked_until = (await conn.execute(_BLOCKED_UNTIL, {"account": account, "address": address})).scalar()
    if blocked_until is not None and blocked_until > now:
        wait = math.ceil((blocked_until - now).total_seconds())
        raise RateLimited(f"too many failed logins from this address; try again in {wait} s",
                          code="auth.login_delayed", retry_after=wait)
    try:
        result = await attempt()
    except Unauthenticated:
        await record_failure(engine, account, address, now)
        raise
    if blocked_until is not None:  # a row exists: the owner got it right, the count starts afresh
        async with engine.begin() as conn:
            await conn.execute(_RESET, {"account": account, "address": address})
    return result


async def record_failure(engine: AsyncEngine, account: str, address: str, now: datetime) -> timedelta:
    """Count one failure of the pair; returns the delay it now waits."""
    keys = {"account": account.strip().lower(), "address": address}
    async with engine.begin() as conn:
        failures = (await conn.execute(_FAILED, {**keys, "now": now, "forget": now - FORGET_AFTER})).scalar_one()
        delay = delay_after(failures)
        if delay:
            await conn.execute(_BLOCK, {**keys, "until": now + delay})
        if failures == 1 and now.microsecond % 50 == 0:
            await conn.execute(_PRUNE, {"forget": now - FORGET_AFTER})  # occasional cleanup
    return delay
