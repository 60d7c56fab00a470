"""`market serve` with WEB_CONCURRENCY > 1: several API processes, each building its app from the
environment the CLI prepared, answering on one port."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx

from market.runtime.meili import free_port


def _api_processes(pid: int) -> int:
    """The spawned uvicorn workers among the children (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return sum(b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes() for child in children)


async def test_serve_starts_one_api_process_per_web_concurrency(settings):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": settings.database_url, "MEILI_URL": settings.meili_url,
           "MEILI_MASTER_KEY": settings.meili_master_key, "MEILI_INDEX_PREFIX": settings.meili_index_prefix,
           "SECRET_KEY": settings.secret_key, "ENVIRONMENT": "test", "HOST": "127.0.0.1", "PORT": str(port),
           "WEB_CONCURRENCY": "2", "LOG_LEVEL": "WARNING"}
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "market.cli", "serve", env=env,
                                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http, asyncio.timeout(120):
            while True:  # until the port accepts: the server's start is the event
                try:
                    response = await http.get("/health")
                    break
                except httpx.TransportError:
                    assert process.returncode is None, "market serve exited"
                    await asyncio.sleep(0.1)  # wait-ok: polling a starting process's port
            assert response.status_code == 200
            assert (await http.get("/v1/taxonomy/regions")).status_code == 200
        assert _api_processes(process.pid) == 2

    finally:
        process.terminate()
        await process.wait()
