"""A private stack for benchmarks: embedded (or given) PostgreSQL and Meilisearch, a fresh database and
index prefix, the app in-process behind an httpx client, and its service context."""

import asyncio
import contextlib
import os
import secrets
import tempfile
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


@contextlib.asynccontextmanager
async def bench_stack(**overrides):
    with contextlib.ExitStack() as stack:
        database_url = os.environ.get("DATABASE_URL")
        meili_url, key = os.environ.get("MEILI_URL"), os.environ.get("MEILI_MASTER_KEY")
        name = "bench_" + secrets.token_hex(4)
        if not database_url:
            pg = stack.enter_context(EmbeddedPostgres(PROJECT_ROOT / ".data" / "bench" / "postgres"))
            database_url = await asyncio.to_thread(pg.url, name)
        else:
            url = make_url(database_url)
            admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
            conn = await asyncpg.connect(admin)
            await conn.execute(f'CREATE DATABASE "{name}"')
            await conn.close()
            database_url = url.set(database=name).render_as_string(hide_password=False)
        if not meili_url:
            key = secrets.token_urlsafe(24)
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-meili-")))
            meili = stack.enter_context(EmbeddedMeili(folder, free_port(), key, Settings(_env_file=None)))
            meili_url = meili.url
        settings = Settings(_env_file=None, environment="test", database_url=database_url, meili_url=meili_url,
                            meili_master_key=key, meili_index_prefix=name, rate_limit_per_minute=10_000_000,
                            **overrides)
        await asyncio.to_thread(migrate, settings)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client:
                yield client, app.state.ctx


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
