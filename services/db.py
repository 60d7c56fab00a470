"""Engine, session factory and the one place that knows how a URL becomes an async engine."""

from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from services.errors import Conflict


def async_url(url: str) -> str:
    """Accept plain `postgresql://` URLs from operators and use asyncpg underneath."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    return url


def plain_url(url: str) -> str:
    """The URL for asyncpg itself (LISTEN needs a connection of its own)."""
    return async_url(url).replace("postgresql+asyncpg://", "postgresql://", 1)


def make_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    # hide_parameters: a failed statement's error text never carries its values (password and key
    # hashes, contact details), so neither does any log line or traceback made from it.
    return create_async_engine(async_url(url), pool_size=pool_size, max_overflow=10, pool_pre_ping=True,
                               hide_parameters=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: responses are built from rows after the request's commit.
    return async_sessionmaker(engine, expire_on_commit=False)


async def flush_or_conflict(session: AsyncSession, conflicts: dict[str, Callable[[], Conflict]]) -> None:
    """Flush; a unique violation of one of the named constraints becomes that Conflict (409), any other
    integrity error stays a bug. The savepoint keeps the session usable after the error."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        cause = getattr(exc.orig, "__cause__", None)
        name = getattr(exc.orig, "constraint_name", None) or getattr(cause, "constraint_name", None)
        if name in conflicts:
            raise conflicts[name]() from exc
        raise
