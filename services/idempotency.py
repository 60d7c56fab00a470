"""Idempotency keys: a POST sent again with the same key gets the first answer instead of a second effect.

Keyed by (caller, key); the first request claims the key before it runs, stores its answer after, and
retries within 24 hours read it. A key reused for a different request is refused.
"""

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

TTL = "24 hours"

_EXPIRE = text(f"DELETE FROM idempotency_key WHERE caller = :caller AND key = :key "
               f"AND created_at < now() - interval '{TTL}'")
_CLAIM = text("INSERT INTO idempotency_key (caller, key, fingerprint) VALUES (:caller, :key, :fingerprint) "
              "ON CONFLICT DO NOTHING RETURNING key")
_READ = text("SELECT fingerprint, status, content_type, location, body FROM idempotency_key "
             "WHERE caller = :caller AND key = :key")
_STORE = text("UPDATE idempotency_key SET status = :status, content_type = :content_type, location = :location, "
              "body = :body WHERE caller = :caller AND key = :key")
_RELEASE = text("DELETE FROM idempotency_key WHERE caller = :caller AND key = :key")
_PRUNE = text(f"DELETE FROM idempotency_key WHERE created_at < now() - interval '{TTL}'")


@dataclass(frozen=True)
class Stored:
    fingerprint: str
    status: int | None  # None: the first request is still running
    content_type: str | None
    location: str | None
    body: bytes | None


async def claim(engine: AsyncEngine, caller: str, key: str, fingerprint: str) -> Stored | None:
    """None when this request is the first with the key (it must then `store` or `release`), else what
    the first one left."""
    params = {"caller": caller, "key": key}
    async with engine.begin() as conn:
        await conn.execute(_EXPIRE, params)
        if (await conn.execute(_CLAIM, {**params, "fingerprint": fingerprint})).first():
            return None
        row = (await conn.execute(_READ, params)).one()
    return Stored(row.fingerprint, row.status, row.content_type, row.location, row.body)


async def store(engine: AsyncEngine, caller: str, key: str, status: int, content_type: str | None,
                location: str | None, body: bytes) -> None:
    async with engine.begin() as conn:
        await conn.execute(_STORE, {"caller": caller, "key": key, "status": status, "content_type": content_type,
                                    "location": location, "body": body})


async def release(engine: AsyncEngine, caller: str, key: str) -> None:
    """The first request failed in a way worth retrying: forget the key."""
    async with engine.begin() as conn:
        await conn.execute(_RELEASE, {"caller": caller, "key": key})


async def prune(engine: AsyncEngine) -> int:
    async with engine.begin() as conn:
        return (await conn.execute(_PRUNE)).rowcount


async def tick_prune(ctx, now) -> None:
    """The worker's clock forgets answers older than the replay window."""
    await prune(ctx.engine)
