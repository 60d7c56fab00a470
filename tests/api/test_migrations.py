"""Migrations: empty → head → base on a fresh database, so every revision is reversible."""

import asyncio
import secrets

import asyncpg
from sqlalchemy.engine import make_url

from market.cli import alembic_config
from market.settings import Settings


def _alembic(url: str, direction: str, revision: str) -> None:
    from alembic import command

    getattr(command, direction)(alembic_config(url), revision)


async def _tables(dsn: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return {r[0] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    finally:
        await conn.close()


async def _database(dsn: str, statement: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def test_upgrade_to_head_and_downgrade_to_base(settings: Settings):
    url = make_url(settings.database_url)
    name = "migrations_" + secrets.token_hex(4)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    target = url.set(database=name)
    plain = target.set(drivername="postgresql").render_as_string(hide_password=False)
    asyncio.run(_database(admin, f'CREATE DATABASE "{name}"'))
    try:
        _alembic(target.render_as_string(hide_password=False), "upgrade", "head")
        tables = asyncio.run(_tables(plain))
        assert {"need", "achievement", "lead", "outboxevent", "auditevent", "publication"} <= tables
        _alembic(target.render_as_string(hide_password=False), "downgrade", "base")
        assert asyncio.run(_tables(plain)) == {"alembic_version"}
    finally:
        asyncio.run(_database(admin, f'DROP DATABASE "{name}" WITH (FORCE)'))
