"""One real PostgreSQL and one real Meilisearch for the whole run (or DATABASE_URL / MEILI_URL when given).

The database is built by `alembic upgrade head`; each test starts from empty tables and fresh sequences.
Search indexes get a per-run prefix and are emptied by the `search` fixture for the tests that use them.

How a test using the app leaves the database empty, one rule, by fixture or marker:
- a test that requests `meili_process` or carries the `commits` marker really commits, and every table is
  emptied after it;
- every other test runs in one transaction that is rolled back after it: the app's session factory and
  engine (`ctx.sessions`, `ctx.engine`, `app.state`) are bound to one connection, each session and each
  `engine.begin()/connect()` a savepoint in it (SQLAlchemy's "joining a session into an external
  transaction"). A rollback costs nothing, whatever the test wrote. The worker's `sync` runs on the same
  connection (it handles one batch after another), so worker and search tests roll back too.
Mark a test `commits` when it needs what one connection cannot give: requests or workers running at
the same time (asyncpg runs one statement at a time per connection), another process, engine or app
that must see its rows, a write that must outlive a rolled-back request (failed logins), or real time
passing between statements (`now()` is the transaction's start in the rolled-back tests).
"""

import graphlib
import os
import secrets
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from market.app import create_app
from market.cli import migrate
from market.runtime.meili import EmbeddedMeili, free_port
from market.runtime.postgres import EmbeddedPostgres
from market.settings import PROJECT_ROOT, Settings

TEST_DATA = PROJECT_ROOT / ".data" / "test"
RUNNING: dict[str, EmbeddedMeili] = {}  # the Meilisearch this run started, for the outage test


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing():
    """The same argon2 code path, with the cheapest parameters: the suite creates a few thousand users and
    logs each in, and the production cost (~0.3 s a hash on these cores) would be most of its time.
    Hashes carry their parameters, so verifying is unaffected."""
    from argon2 import PasswordHasher

    from services.identity import passwords as identity

    production, identity._hasher = identity._hasher, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    identity._hasher = production


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    database_url = os.environ.get("DATABASE_URL")
    meili_url = os.environ.get("MEILI_URL")
    master_key = os.environ.get("MEILI_MASTER_KEY")
    stack = []
    if not database_url:
        pg = EmbeddedPostgres(TEST_DATA / "postgres").__enter__()
        stack.append(pg)
        database_url = pg.url("market_test_" + secrets.token_hex(4))
    if not meili_url:
        master_key = secrets.token_urlsafe(24)
        meili = EmbeddedMeili(Path(tmp_path_factory.mktemp("meili")), free_port(), master_key,
                              Settings(_env_file=None)).__enter__()
        stack.append(meili)
        RUNNING["meili"] = meili
        meili_url = meili.url
    settings = Settings(
        _env_file=None, environment="test", database_url=database_url, meili_url=meili_url,
        meili_master_key=master_key, meili_index_prefix="t" + secrets.token_hex(4), rate_limit_per_minute=100_000,
        secret_key=secrets.token_urlsafe(32),  # a real secret: tokens forged with the placeholder must fail
        search_cache_seconds=0,  # tests search right after a write; tests/api/test_search_cache.py turns it on
    )
    migrate(settings)
    yield settings
    for service in reversed(stack):
        service.__exit__(None, None, None)


@pytest.fixture(scope="session")
async def app(settings):
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        await application.state.text_loading  # the segmenter and thesaurus, loaded at start
        yield application


@pytest.fixture(scope="session")
def ctx(app):
    """The services' context of the running app: sessions, search, settings."""
    return app.state.ctx


_TABLES = text(  # each table, the tables referencing it, and whether a trigger refuses deletes (append-only)
    "SELECT c.oid::regclass::text, array_remove(array_agg(f.conrelid::regclass::text), NULL), EXISTS ("
    "SELECT FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgtype & 8 <> 0) FROM pg_class c "
    "LEFT JOIN pg_constraint f ON f.confrelid = c.oid AND f.contype = 'f' AND f.conrelid <> c.oid "
    "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND c.relname <> 'alembic_version' "
    "GROUP BY c.oid"
)
_OWNED_SEQUENCES = text(
    "SELECT s.oid::regclass::text FROM pg_class s JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i') "
    "WHERE s.relkind = 'S' AND s.relnamespace = 'public'::regnamespace"
)


async def _emptying_statement(conn) -> str:
    """One statement that empties every table as `TRUNCATE … RESTART IDENTITY CASCADE` would, but by
    DELETE, referencing tables first: a test leaves a few rows, and deleting them is several times cheaper
    than truncating (a new file for every table and index). Only an append-only table (a trigger refuses
    its deletes) is truncated, and only when it has rows. Read from the catalog, so it follows migrations."""
    rows = (await conn.execute(_TABLES)).all()
    guarded = {table for table, _, refuses_delete in rows if refuses_delete}
    order = graphlib.TopologicalSorter({table: referencing for table, referencing, _ in rows}).static_order()
    body = [f"IF EXISTS (SELECT FROM {table}) THEN TRUNCATE {table} CASCADE; END IF;" if table in guarded
            else f"DELETE FROM {table};" for table in order]  # a table after those referencing it
    sequences = (await conn.execute(_OWNED_SEQUENCES)).scalars()
    body += [f"ALTER SEQUENCE {seq} RESTART;" for seq in sequences]
    return "DO $$ BEGIN " + " ".join(body) + " END $$"


_RESTART_SEQUENCES = text(  # setval is not transactional: what ALTER SEQUENCE … RESTART does, without the lock
    "SELECT setval(s.seqrelid, s.seqstart, false) FROM pg_sequence s JOIN pg_depend d ON d.objid = s.seqrelid "
    "AND d.deptype IN ('a', 'i') JOIN pg_class c ON c.oid = s.seqrelid WHERE c.relnamespace = 'public'::regnamespace"
)
COMMITTING = {"meili_process"}  # fixtures whose tests commit (see the module docstring)


def pytest_configure(config):
    config.addinivalue_line("markers", "commits: the test commits for real and the tables are emptied after it "
                                       "(concurrent requests, workers, other processes; see tests/conftest.py)")


def _commits(request) -> bool:
    return bool(COMMITTING & set(request.fixturenames)) or request.node.get_closest_marker("commits") is not None


@pytest.fixture(autouse=True)
async def _isolation(request):
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    if _commits(request):
        yield
        async with app.state.engine.begin() as conn:
            await conn.execute(text("SET LOCAL synchronous_commit = off"))  # test data: no need to wait for the disk
            await conn.execute(text(await _emptying_statement(conn)))
        return
    ctx = app.state.ctx
    real = ctx.engine, ctx.sessions
    async with real[0].connect() as conn:
        outer = await conn.begin()
        joined = async_sessionmaker(**{**real[1].kw, "bind": conn, "join_transaction_mode": "create_savepoint"})
        ctx.engine = app.state.engine = _JoinedEngine(conn)
        ctx.sessions = app.state.sessions = joined
        try:
            yield
        finally:
            ctx.engine = app.state.engine = real[0]
            ctx.sessions = app.state.sessions = real[1]
            await outer.rollback()
            await conn.execute(_RESTART_SEQUENCES)


class _JoinedEngine:
    """The app's engine in a rolled-back test, on the test's connection: what the app writes outside its
    sessions (idempotency keys, login counts) rolls back too, and a failed statement rolls back only its
    savepoint, as it would end only its own transaction on a pooled connection."""

    def __init__(self, conn):
        self._conn = conn

    @asynccontextmanager
    async def begin(self):
        async with self._conn.begin_nested():
            yield _Joined(self._conn, savepoint_each=False)

    @asynccontextmanager
    async def connect(self):
        yield _Joined(self._conn, savepoint_each=True)  # as autocommit: each statement on its own


class _Joined:
    """The test's connection as code written for a pooled one uses it."""

    def __init__(self, conn, savepoint_each: bool):
        self._conn, self._savepoint_each = conn, savepoint_each

    async def execution_options(self, **_):
        return self  # AUTOCOMMIT and the like: the test's transaction decides

    async def execute(self, *args, **kwargs):
        if not self._savepoint_each:
            return await self._conn.execute(*args, **kwargs)
        async with self._conn.begin_nested():
            return await self._conn.execute(*args, **kwargs)


@pytest.fixture
async def client(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
async def market(client, ctx):
    from tests.factories import Market

    return Market(client, ctx)


# The callers most tests act as, by fixture; each is a new organisation (tokens minted, no login over HTTP).
@pytest.fixture
async def operator(market):
    return await market.operator()


@pytest.fixture
async def university(market):
    return await market.organisation("university")


@pytest.fixture
async def firm(market):
    return await market.organisation("enterprise")


@pytest.fixture
async def broker(market):
    return await market.broker()


@pytest.fixture
def anonymous():
    from tests.factories import ANONYMOUS

    return ANONYMOUS


@pytest.fixture
async def search(ctx):
    """The search indexes, emptied after the test (they are shared by the whole run)."""
    from schemas.enums import ListKind

    await ctx.search.ensure()
    yield ctx.search
    for kind in ListKind:
        await ctx.search.client.wait_task(await ctx.search.client.delete_all_documents(ctx.search.uid(kind)))


@pytest.fixture
def sync(ctx, search):
    """Runs the worker's job until the outbox is drained: what tests wait on instead of the clock."""
    from services.worker import drain

    async def run(include_delayed: bool = False, clock=None) -> int:
        return await drain(ctx, include_delayed, clock)

    return run


@pytest.fixture
def meili_process():
    meili = RUNNING.get("meili")
    if meili is None:
        pytest.skip("Meilisearch is external (MEILI_URL); this test stops and restarts its own")
    return meili
