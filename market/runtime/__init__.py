"""The embedded default: a local PostgreSQL and Meilisearch as child processes when no URL is given."""

import contextlib
import secrets
from collections.abc import Iterator

from market.runtime.meili import EmbeddedMeili
from market.runtime.postgres import EmbeddedPostgres
from market.runtime.secret import load_or_create_secret


class StartupError(Exception):
    """A problem the operator can fix (missing binary, port taken): printed as one line, no traceback."""


@contextlib.contextmanager
def embedded_services(settings) -> Iterator[dict[str, str]]:
    """Start what is missing and yield the environment that points the app (and its workers) at it."""
    env: dict[str, str] = {}
    if not settings.secret_key:
        env["SECRET_KEY"] = load_or_create_secret(settings.data_dir)
    with contextlib.ExitStack() as stack:
        if not settings.database_url:
            pg = stack.enter_context(EmbeddedPostgres(settings.data_dir / "postgres"))
            env["DATABASE_URL"] = pg.url("market")
        if not settings.meili_url:
            key = settings.meili_master_key or secrets.token_urlsafe(24)
            meili = stack.enter_context(
                EmbeddedMeili(settings.data_dir / "meili", settings.meili_port, key, settings)
            )
            env["MEILI_URL"] = meili.url
            env["MEILI_MASTER_KEY"] = key
        yield env
