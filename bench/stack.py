"""A private stack for benchmarks: embedded (or given) PostgreSQL and Meilisearch, a fresh database and
index prefix, the app in-process behind an httpx client, and its service context.

A large generated data set (100,000 achievements take ~20 min of one core to encode) is prepared once and
kept as a golden copy under `.data/bench/golden/<name>/`: a template database and a stopped Meilisearch's
data folder. Each run then starts from a copy of both (`CREATE DATABASE … TEMPLATE`, a file copy), so
benchmarks that write (creates, imports, publishes) never change what the next run measures.
"""

import asyncio
import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import yaml
from sqlalchemy.engine import make_url

from market.app import create_app
from market.cli import migrate
from market.runtime.meili import EmbeddedMeili, free_port
from market.runtime.postgres import EmbeddedPostgres
from market.settings import PROJECT_ROOT, Settings
from services.identity.organisations import ensure_operator_admin

BENCH_DATA = PROJECT_ROOT / ".data" / "bench"
Prepare = Callable[[object], Awaitable[None]]  # fills a fresh stack's database and indexes (given its ctx)


def _settings(database_url: str, meili_url: str, key: str, prefix: str, **overrides) -> Settings:
    # The search microcache is off in-process: benchmarks time Meilisearch's answers, not memory's.
    overrides = {"search_cache_seconds": 0, **overrides}
    return Settings(_env_file=None, environment="test", database_url=database_url, meili_url=meili_url,
                    meili_master_key=key, meili_index_prefix=prefix, rate_limit_per_minute=10_000_000, **overrides)


@contextlib.asynccontextmanager
async def _app(settings: Settings):
    await asyncio.to_thread(migrate, settings)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        # Timed from when the app is ready, as a load balancer sends it traffic (`/ready`): its segmenter and
        # thesaurus loaded (in a thread that would take a core from the first requests) and frozen out of the
        # cyclic collector's reach (a full collection before that walks ~200,000 objects, ~170 ms).
        await app.state.text_loading
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client:
            yield client, app.state.ctx


async def _admin(pg: EmbeddedPostgres) -> asyncpg.Connection:
    url = make_url(await asyncio.to_thread(pg.url, "postgres")).set(drivername="postgresql")
    return await asyncpg.connect(url.render_as_string(hide_password=False))


async def _golden(pg: EmbeddedPostgres, name: str, prepare: Prepare) -> tuple[Path, str]:
    """The golden copy of data set `name` (built by `prepare` on first use): its Meilisearch folder and key."""
    folder = BENCH_DATA / "golden" / name
    if not (folder / "ready").exists():
        shutil.rmtree(folder, ignore_errors=True)
        conn = await _admin(pg)
        await conn.execute(f'DROP DATABASE IF EXISTS "golden_{name}"')
        await conn.close()
        key = secrets.token_urlsafe(24)
        database_url = await asyncio.to_thread(pg.url, f"golden_{name}")
        with EmbeddedMeili(folder / "meili", free_port(), key, Settings(_env_file=None)) as meili:
            async with _app(_settings(database_url, meili.url, key, f"g_{name}")) as (_, ctx):
                print(f"preparing the data set {name} once (kept in {folder})")
                await prepare(ctx)
        (folder / "key").write_text(key)
        (folder / "ready").touch()
    return folder, (folder / "key").read_text()


@contextlib.asynccontextmanager
async def bench_stack(dataset: tuple[str, Prepare] | None = None, **overrides):
    """`dataset`: (name, prepare) to start from a copy of a golden data set (embedded services only; with
    DATABASE_URL / MEILI_URL given, `prepare` runs on the fresh database instead)."""
    async with contextlib.AsyncExitStack() as stack:
        database_url = os.environ.get("DATABASE_URL")
        meili_url, key = os.environ.get("MEILI_URL"), os.environ.get("MEILI_MASTER_KEY")
        name = "bench_" + secrets.token_hex(4)
        prefix = name
        if not database_url and not meili_url and dataset:
            pg = stack.enter_context(EmbeddedPostgres(BENCH_DATA / "postgres"))
            golden, key = await _golden(pg, *dataset)
            conn = await _admin(pg)
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "golden_{dataset[0]}"')
            await conn.close()
            database_url = await asyncio.to_thread(pg.url, name)
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-meili-", dir=BENCH_DATA)))
            copy = await asyncio.create_subprocess_exec(  # sparse-aware: Meilisearch's files have holes
                "cp", "-a", "--sparse=always", "--reflink=auto", str(golden / "meili" / "data.ms"), str(folder))
            await copy.wait()
            meili = stack.enter_context(EmbeddedMeili(folder, free_port(), key, Settings(_env_file=None)))
            meili_url, prefix = meili.url, f"g_{dataset[0]}"
            stack.push_async_callback(_drop, pg, name)
        else:
            if not database_url:
                pg = stack.enter_context(EmbeddedPostgres(BENCH_DATA / "postgres"))
                database_url = await asyncio.to_thread(pg.url, name)
            else:
                url = make_url(database_url)
                conn = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
                await conn.execute(f'CREATE DATABASE "{name}"')
                await conn.close()
                database_url = url.set(database=name).render_as_string(hide_password=False)
            if not meili_url:
                key = secrets.token_urlsafe(24)
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-meili-")))
                meili = stack.enter_context(EmbeddedMeili(folder, free_port(), key, Settings(_env_file=None)))
                meili_url = meili.url
        async with _app(_settings(database_url, meili_url, key, prefix, **overrides)) as (client, ctx):
            if dataset and prefix == name:  # external services: no golden copy, prepare in place
                await dataset[1](ctx)
            yield client, ctx


async def _drop(pg: EmbeddedPostgres, name: str) -> None:
    """A run's copy of a golden database is dropped when the run ends (it may hold gigabytes)."""
    conn = await _admin(pg)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def operator_headers(client, ctx) -> dict[str, str]:
    await ensure_operator_admin(ctx.sessions, "bench@market.example.cn", "bench-operator-pw")
    token = (await client.post("/v1/auth/token", json={"email": "bench@market.example.cn",
                                                        "password": "bench-operator-pw"})).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def register_organisations(client, operator: dict, path: Path) -> dict[str, dict]:
    """Each organisation of the YAML file with an admin; returns key -> {id, headers}."""
    registered = {}
    for n, org in enumerate(yaml.safe_load(await asyncio.to_thread(path.read_text, encoding="utf-8"))):
        email = f"admin{n}@{org['key']}.example.cn"
        body = {k: org[k] for k in ("kind", "name", "credit_code", "region", "contact") if k in org}
        body["admin"] = {"email": email, "display_name": "管理员", "password": "bench-admin-password",
                         "roles": ["org_admin"]}
        response = await client.post("/v1/organisations", json=body, headers=operator)
        response.raise_for_status()
        token = (await client.post("/v1/auth/token", json={"email": email, "password": "bench-admin-password"}))
        registered[org["key"]] = {"id": response.json()["organisation"]["id"],
                                  "headers": {"Authorization": f"Bearer {token.json()['access_token']}"}}
    return registered
