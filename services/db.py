"""Engine, session factory and the one place that knows how a URL becomes an async engine."""

import functools
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import asyncpg
from sqlalchemy import event, inspect
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from services.errors import Conflict

Entity = TypeVar("Entity")


def async_url(url: str) -> str:
    """Accept plain `postgresql://` URLs from operators and use asyncpg underneath."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    return url


def plain_url(url: str) -> str:
    """The URL for asyncpg itself (LISTEN needs a connection of its own)."""
    return async_url(url).replace("postgresql+asyncpg://", "postgresql://", 1)


IDLE_PING_SECONDS = 60  # a connection idle this long is pinged at checkout: a NAT or firewall may have dropped it


def make_engine(url: str, pool_size: int = 20, max_overflow: int = 20) -> AsyncEngine:
    # pool_timeout: a request that cannot get a connection soon answers 503 instead of queueing for 30 s.
    # hide_parameters: a failed statement's error text never carries its values (password and key
    # hashes, contact details), so neither does any log line or traceback made from it.
    engine = create_async_engine(async_url(url), pool_size=pool_size, max_overflow=max_overflow, pool_timeout=10,
                                 hide_parameters=True)
    event.listen(engine.sync_engine, "checkin", _checked_in)
    event.listen(engine.sync_engine, "checkout", _still_there)
    return engine


def _checked_in(dbapi_connection, record) -> None:
    record.info["idle_since"] = time.monotonic()


def _still_there(dbapi_connection, record, proxy) -> None:
    """Instead of `pool_pre_ping` on every checkout (three round trips: BEGIN, the ping, ROLLBACK, each a
    wake-up of both processes that waits for a core under load): a connection PostgreSQL closed (a restart,
    a terminated backend) is known closed without a round trip, as asyncpg reads the socket all along; only
    one idle for IDLE_PING_SECONDS is pinged, as a NAT or a firewall may have dropped it silently. Raising
    DisconnectionError makes the pool replace the connection."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError
    idle_since = record.info.get("idle_since")  # None: a new connection
    if idle_since is not None and time.monotonic() - idle_since > IDLE_PING_SECONDS:
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise DisconnectionError from exc


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


class DriverRead:
    """A read on a hot path: a Core statement compiled once, run on the session's connection by asyncpg itself.
    It skips SQLAlchemy's result machinery and, as it opens no transaction, the BEGIN and the COMMIT or
    ROLLBACK round trips (~0.5 ms each in a live match)."""

    def __init__(self, statement) -> None:
        self.statement = statement
        self.compiled = statement.compile(dialect=asyncpg_dialect.dialect())
        self._processors: list | None = None

    async def fetch(self, session: AsyncSession, **values) -> list:
        """Rows as asyncpg records, values as the driver decodes them (no type processing: plain columns)."""
        return await (await self._driver(session)).fetch(*self._arguments(values))

    async def rows(self, session: AsyncSession, **values) -> list[tuple]:
        """Rows with each value as its column's SQLAlchemy type gives it (arrays, JSON, enums), as a session's
        read would."""
        driver = await self._driver(session)
        if self._processors is None:  # once: the processors need the result columns' PostgreSQL types
            dialect = session.bind.dialect
            columns = (await driver.prepare(self.compiled.string)).get_attributes()
            self._processors = [column.type.dialect_impl(dialect).result_processor(dialect, found.type.oid)
                                for column, found in zip(self.statement.selected_columns, columns, strict=True)]
        return [tuple(value if process is None else process(value)
                      for process, value in zip(self._processors, record, strict=True))
                for record in await driver.fetch(*self._arguments(values))]

    def _arguments(self, values: dict) -> list:
        params = self.compiled.construct_params(values)
        return [self.compiled.string, *(params[name] for name in self.compiled.positiontup)]

    @staticmethod
    async def _driver(session: AsyncSession) -> asyncpg.Connection:
        return (await (await session.connection()).get_raw_connection()).driver_connection


@functools.cache
def _attributes(table: type) -> tuple[str, ...]:
    return tuple(inspect(table).columns.keys())  # in the order a statement selecting the entity lists them


def detached(table: type[Entity], values: Sequence) -> Entity:
    """An instance of the ORM class `table` from the values of its mapped columns, in the order a statement
    selecting the entity lists them (a `DriverRead` row), made as the ORM's loading makes one, in no session:
    ~6 µs, against ~230 µs through the model's validating constructor."""
    instance = inspect(table).class_manager.new_instance()
    instance.__dict__.update(zip(_attributes(table), values, strict=True))
    return instance
