"""ServiceContext: what a worker, a CLI command or the app needs to reach PostgreSQL and Meilisearch."""

from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.db import make_engine, make_sessionmaker
from services.search.client import MeiliClient
from services.search.indexes import SearchIndexes


@dataclass
class ServiceContext:
    settings: Any  # market.settings.Settings; services only read attributes from it
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    search: SearchIndexes

    @classmethod
    @asynccontextmanager
    async def open(cls, settings, pool_size: int | None = None):
        engine = make_engine(settings.database_url, pool_size or settings.db_pool_size, settings.db_max_overflow)
        meili = MeiliClient(settings.meili_url, settings.meili_master_key)
        try:
            search = SearchIndexes(meili, settings.meili_index_prefix, settings.secret_key)
            yield cls(settings, engine, make_sessionmaker(engine), search)
        finally:
            await meili.aclose()
            await engine.dispose()
