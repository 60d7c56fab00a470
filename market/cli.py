"""The `market` command: serve, worker, dev, migrate, seed, import, reindex, match, createadmin."""

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from market import logs
from market.runtime import StartupError, embedded_services
from market.settings import PROJECT_ROOT, Settings
from schemas.enums import ListKind


@contextlib.contextmanager
def running_services() -> Iterator[Settings]:
    """Settings pointing at real services: the configured ones, or embedded ones started for this command."""
    try:
        settings = Settings()
    except ValidationError as exc:  # e.g. a placeholder SECRET_KEY: one line, no traceback
        raise StartupError("; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())) from None
    logs.configure(settings.log_level, settings.log_format)
    with embedded_services(settings) as env:
        os.environ.update(env)  # child processes (the worker under `dev`) inherit the same services
        yield Settings()


def alembic_config(database_url: str):
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))  # configparser interpolates %
    return config


def migrate(settings: Settings, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(settings.database_url), revision)


def server_options(settings: Settings) -> dict:
    """uvicorn's options for `market serve`."""
    trusted = settings.forwarded_allow_ips.strip()
    return {"host": settings.host, "port": settings.port, "log_config": None, "proxy_headers": bool(trusted),
            "forwarded_allow_ips": trusted or None, "timeout_keep_alive": settings.keep_alive_seconds}


def serve(settings: Settings) -> None:
    import uvicorn

    from market.app import create_app
    from market.runtime.meili import port_is_free

    if not port_is_free(settings.port) and settings.host in ("127.0.0.1", "0.0.0.0", "localhost"):
        raise StartupError(f"port {settings.port} is taken: stop what uses it or set PORT")
    options = server_options(settings)
    if settings.web_concurrency > 1:  # each process builds its app from the same environment
        uvicorn.run("market.app:from_environment", factory=True, workers=settings.web_concurrency, **options)
    else:
        uvicorn.run(create_app(settings), **options)


def cmd_serve(args) -> None:
    with running_services() as settings:
        if args.migrate:
            migrate(settings)
        serve(settings)


def cmd_dev(args) -> None:
    """What `make run` does: embedded services, migrations, demo data, a worker, the API."""
    from market.runtime.meili import _die_with_parent

    with running_services() as settings:
        migrate(settings)
        asyncio.run(_seed(settings, demo=True))
        asyncio.run(_createadmin(settings, "admin@market.example.cn", None))
        worker = subprocess.Popen([sys.executable, "-m", "market.cli", "worker"], preexec_fn=_die_with_parent)
        try:
            print(f"\n  科创通 Market on http://{settings.host}:{settings.port}/docs\n", flush=True)
            serve(settings)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(15)


def cmd_worker(args) -> None:
    from market.runtime.priority import lower_priority
    from services.worker import log as worker_log
    from services.worker import run_worker

    try:
        with running_services() as settings:
            lower_priority(settings.worker_nice)  # after starting any embedded service: they keep theirs
            asyncio.run(run_worker(settings, once=args.once))
    except KeyboardInterrupt:  # SIGTERM or Ctrl-C: the stop asked for
        pass
    # Everything is closed and stopped by now. The interpreter's own teardown would free the segmenter's
    # dictionary, the thesaurus and the cached term answers object by object: seconds at nice 10 on a busy
    # machine, after a SIGTERM. The process ends here, without it, the logs flushed (so `main(["worker"])`
    # is for a process of its own, as `market worker` is).
    worker_log.info("worker stopped")
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def cmd_migrate(args) -> None:
    with running_services() as settings:
        migrate(settings, args.revision)
        print(f"migrated to {args.revision}")


async def _seed(settings: Settings, demo: bool) -> None:
    from services.seed import load_seed

    async with _context(settings) as ctx:
        with progress_bar("listing") as bar:
            counts = await load_seed(ctx, demo=demo, progress=bar)
    print("seeded: " + ", ".join(f"{k} {v}" for k, v in counts.items()), flush=True)


async def _createadmin(settings: Settings, email: str, password: str | None) -> None:
    from services.identity.organisations import ensure_operator_admin

    async with _context(settings) as ctx:
        created, password = await ensure_operator_admin(ctx.sessions, email, password)
    print(f"operator admin: {email} / password: {password}" if created
          else f"operator admin {email} exists (its password was printed when it was created)", flush=True)


@contextlib.asynccontextmanager
async def _context(settings: Settings):
    from services.context import ServiceContext

    async with ServiceContext.open(settings) as ctx:
        yield ctx


def cmd_seed(args) -> None:
    with running_services() as settings:
        asyncio.run(_seed(settings, demo=args.demo))


def cmd_createadmin(args) -> None:
    with running_services() as settings:
        asyncio.run(_createadmin(settings, args.email, args.password))


class Bar:
    """services.progress.Progress drawn as a tqdm bar on the terminal."""

    def __init__(self, unit: str):
        self.unit = unit
        self._bar = None

    def start(self, total: int | None) -> None:
        from tqdm import tqdm

        self.close()
        self._bar = tqdm(total=total, unit=self.unit)

    def advance(self, done: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@contextlib.contextmanager
def progress_bar(unit: str) -> Iterator[Bar]:
    bar = Bar(unit)
    try:
        yield bar
    finally:
        bar.close()


async def _import(settings: Settings, path: str, reference: str, kind: str) -> None:
    from services.errors import NotFound
    from services.imports import find_organisation, import_in_chunks, parse

    file = Path(path)
    rows = await asyncio.to_thread(parse, await asyncio.to_thread(file.read_bytes),
                                   "csv" if file.suffix.lower() == ".csv" else "jsonl")
    async with _context(settings) as ctx:
        async with ctx.sessions() as session:
            try:
                organisation = await find_organisation(session, reference)
            except NotFound as exc:
                raise StartupError(exc.detail) from exc
        with progress_bar("row") as bar:
            report = await import_in_chunks(ctx, organisation, ListKind(kind), rows, bar)
    print(report.model_dump_json(indent=1))


def cmd_import(args) -> None:
    with running_services() as settings:
        asyncio.run(_import(settings, args.file, args.org, args.kind))


async def _reindex(settings: Settings) -> None:
    from services.search.sync import rebuild

    async with _context(settings) as ctx:
        with progress_bar("listing") as bar:
            counts = await rebuild(ctx, bar)
    print("reindexed: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def cmd_reindex(args) -> None:
    with running_services() as settings:
        asyncio.run(_reindex(settings))


async def _match_all(settings: Settings, processes: int) -> None:
    from services.context import ServiceContext
    from services.matching.batch import CONCURRENCY, match_all

    async with ServiceContext.open(settings, pool_size=CONCURRENCY + 2) as ctx:
        started = time.perf_counter()
        with progress_bar("listing") as bar:
            count = await match_all(ctx, bar, processes=processes)
        elapsed = time.perf_counter() - started
    print(f"matched {count} listings in {elapsed:.1f} s ({count / elapsed if elapsed else 0:.1f} listings/s)")


def cmd_match(args) -> None:
    with running_services() as settings:
        asyncio.run(_match_all(settings, args.processes))


async def _learn(settings: Settings) -> None:
    from services.matching.outcomes import MIN_SUPPORT, learn

    async with _context(settings) as ctx, ctx.sessions() as session, session.begin():
        count = await learn(session)
    print(f"learned {count} term associations (minimum support {MIN_SUPPORT})")


def cmd_learn(args) -> None:
    with running_services() as settings:
        asyncio.run(_learn(settings))


def _terminate(*_) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="market", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="serve the API (embedded services when DATABASE_URL/MEILI_URL are unset)")
    p.add_argument("--migrate", action="store_true", help="apply migrations first")
    p.set_defaults(func=cmd_serve)
    sub.add_parser("dev", help="embedded services + migrations + demo data + worker + API").set_defaults(func=cmd_dev)
    p = sub.add_parser("worker", help="drain the outbox: search index sync and lead recomputation")
    p.add_argument("--once", action="store_true", help="drain what is there and exit")
    p.set_defaults(func=cmd_worker)
    p = sub.add_parser("migrate", help="apply Alembic migrations")
    p.add_argument("revision", nargs="?", default="head")
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser("seed", help="load the taxonomy (and with --demo the demo data) from seed/")
    p.add_argument("--demo", action="store_true")
    p.set_defaults(func=cmd_seed)
    p = sub.add_parser("import", help="bulk upsert listings from a JSON Lines or CSV file")
    p.add_argument("file")
    p.add_argument("--org", required=True, help="id or credit code of the owning organisation")
    p.add_argument("--kind", choices=["achievements", "needs"], required=True)
    p.set_defaults(func=cmd_import)
    sub.add_parser("reindex", help="rebuild the search indexes from PostgreSQL, then swap").set_defaults(
        func=cmd_reindex)
    p = sub.add_parser("match", help="recompute leads")
    p.add_argument("--all", action="store_true", required=True)
    p.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                   help="processes matching at once (default: one a core)")
    p.set_defaults(func=cmd_match)
    sub.add_parser("learn", help="learn term associations from won leads").set_defaults(func=cmd_learn)
    p = sub.add_parser("createadmin", help="create the first operator account")
    p.add_argument("--email", default="admin@market.example.cn")
    p.add_argument("--password", default=None, help="generated and printed when omitted")
    p.set_defaults(func=cmd_createadmin)
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the embedded services are stopped by their context managers.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        args.func(args)
    except StartupError as exc:
        print(f"market: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
