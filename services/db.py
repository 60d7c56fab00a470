"""Engine, session factory and the one place that knows how a URL becomes an async engine."""

from collections.abc import Callable

import asyncpg
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
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


def make_engine(url: str, pool_size: int = 20, max_overflow: int = 20) -> AsyncEngine:
    # pool_timeout: a request that cannot get a connection soon answers 503 instead of queueing for 30 s.
    # hide_parameters: a failed statement's error text never carries its values (password and key
    # hashes, contact details), so neither does any log line or traceback made from it.
    # pool_recycle: a connection an intranet firewall may have dropped silently while idle is replaced.
    engine = create_async_engine(async_url(url), pool_size=pool_size, max_overflow=max_overflow, pool_timeout=10,
                                 pool_recycle=1800, hide_parameters=True)
    event.listen(engine.sync_engine, "checkout", _closed_is_gone)
    return engine


def _closed_is_gone(dbapi_connection, record, proxy) -> None:
    """A pooled connection PostgreSQL closed (a restart, a terminated backend) is replaced at checkout.
    Instead of `pool_pre_ping`: asyncpg learns of the close as it happens (it reads the socket all along),
    so no round trip is needed, where the ping cost three (BEGIN, the ping, ROLLBACK) on every checkout,
    each a wake-up of both processes that waits for a core under load. A connection lost after the check
    fails its statement; SQLAlchemy then invalidates the whole pool, and that request answers 503."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError


# What a connection failure surfaces as, for an exception handler to inspect with is_connection_error.
DATABASE_ERRORS = (OSError, DBAPIError, PoolTimeout, asyncpg.exceptions.InterfaceError, asyncpg.PostgresError)


def is_connection_error(exc: BaseException) -> bool:
    """PostgreSQL cannot be reached (down, restarting, or the pool exhausted): an outage to wait out or
    answer 503 for, not a bug. Walks the exception's causes, as SQLAlchemy and asyncpg wrap each other."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, (OSError, ConnectionError, PoolTimeout, InterfaceError)):
            return True
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        if isinstance(exc, OperationalError | asyncpg.exceptions.PostgresConnectionError
                      | asyncpg.exceptions.InterfaceError | asyncpg.exceptions.CannotConnectNowError
                      | asyncpg.exceptions.AdminShutdownError | asyncpg.exceptions.CrashShutdownError):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


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
