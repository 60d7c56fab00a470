"""Benchmark and self-check of services.search.client.MeiliClient.

    python -m bench.meili_client          # from /work/main

Uses MEILI_URL / MEILI_MASTER_KEY when MEILI_URL is set, else starts its own Meilisearch (the
project's binary, free 127.0.0.1 port, temp db, generated key). Indexes ~2,000 small Chinese
documents in a throwaway index, times one search with a ~5 KB and a ~0.2 KB answer through
MeiliClient, httpx kept-alive (its defaults), httpx with a fresh connection per request and curl.
The client's behaviour (answers, errors, concurrency, restarts) is checked by tests/api/test_search_client.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from market.runtime.meili import EmbeddedMeili, free_port
from market.settings import Settings
from services.search.client import MeiliClient

RUNS = 200  # timed requests per Python transport
CURL_RUNS = 50

WORDS = (
    "人工智能 新材料 石墨烯 锂电池 储能 芯片 半导体 机器人 传感器 生物医药 疫苗 基因编辑 光伏 氢能 "
    "无人机 算法 大数据 云计算 物联网 纳米 复合材料 催化剂 环保 水处理 农业 育种 智能制造 激光 精密仪器 检测"
).split()
FIELDS = ["新能源", "新材料", "生物医药", "电子信息", "先进制造"]


def make_docs(n: int = 2000) -> list[dict]:
    rnd = random.Random(42)  # same corpus every run, so the answer sizes stay comparable
    return [
        {
            "id": i,
            "title": "".join(rnd.sample(WORDS, 2)) + f"技术成果{i}",
            "summary": "，".join(rnd.sample(WORDS, 6)) + "。成果成熟度高，具有良好的产业化前景。",
            "field": rnd.choice(FIELDS),
        }
        for i in range(n)
    ]


# -- timing -----------------------------------------------------------------------------------


def stats_ms(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return statistics.median(s), s[min(len(s) - 1, int(len(s) * 0.95))]


async def time_async(call: Callable[[], Awaitable[object]], runs: int = RUNS) -> tuple[float, float]:
    for _ in range(10):  # warm up: connections, index caches
        await call()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - t) * 1000)
    return stats_ms(samples)


async def time_raw(url: str, key: str | None, path: str, body: bytes) -> tuple[float, float]:
    """What the wire costs without an HTTP library: one kept-alive socket, request in one write."""
    host, port = httpx.URL(url).host, httpx.URL(url).port
    reader, writer = await asyncio.open_connection(host, port)
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    req = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body

    async def call() -> None:
        writer.write(req)
        head = (await reader.readuntil(b"\r\n\r\n")).lower()
        length = int(head.split(b"content-length:")[1].split(b"\r\n")[0])  # Meilisearch sends it
        json.loads(await reader.readexactly(length))

    try:
        return await time_async(call)
    finally:
        writer.close()


def curl_cmd(url: str, key: str | None, body: bytes, repeat: int) -> list[str]:
    cmd = [
        "curl",
        "-s",
        "-w",
        "%{time_total}\\n",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        body.decode(),
    ]
    if key:
        cmd += ["-H", f"Authorization: Bearer {key}"]
    return cmd + ["-o", "/dev/null", url] * repeat  # several URLs in one process reuse the connection


def time_curl(url: str, key: str | None, body: bytes) -> tuple[tuple[float, float], tuple[float, float]]:
    """(fresh connection per process, kept-alive inside one process)."""
    fresh = []
    for _ in range(CURL_RUNS):
        out = subprocess.run(curl_cmd(url, key, body, 1), capture_output=True, text=True, check=True).stdout
        fresh.append(float(out) * 1000)
    out = subprocess.run(curl_cmd(url, key, body, RUNS + 1), capture_output=True, text=True, check=True)
    kept = [float(x) * 1000 for x in out.stdout.split()[1:]]  # the first one opened the connection
    return stats_ms(fresh), stats_ms(kept)


async def bench(client: MeiliClient, url: str, key: str | None, index: str) -> None:
    queries = {
        "~5 KB": {"q": "石墨烯 储能", "limit": 24},
        "~0.2 KB": {"q": "石墨烯 储能", "limit": 1, "attributesToRetrieve": ["id", "title"]},
    }
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    path = f"/indexes/{index}/search"
    rows: dict[str, dict[str, tuple[float, float]]] = {}
    sizes = {}
    proc_ms = {}
    async with (
        httpx.AsyncClient(base_url=url, headers=headers, trust_env=False) as keep,
        httpx.AsyncClient(
            base_url=url, headers=headers, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0)
        ) as fresh,
    ):
        for label, q in queries.items():
            body = json.dumps(q, ensure_ascii=False).encode()
            raw = await keep.post(path, json=q)
            sizes[label] = len(raw.content)
            answer, ours_answer = raw.json(), await client.search(index, q)
            answer.pop("processingTimeMs"), ours_answer.pop("processingTimeMs")
            assert answer["hits"] and answer == ours_answer, "client differs from httpx"
            pts = []

            async def ours(q: dict = q, pts: list = pts) -> None:
                pts.append((await client.search(index, q))["processingTimeMs"])

            rows.setdefault("MeiliClient (this client)", {})[label] = await time_async(ours)
            rows.setdefault("httpx AsyncClient kept-alive", {})[label] = await time_async(
                lambda q=q: keep.post(path, json=q)
            )
            rows.setdefault("httpx AsyncClient fresh connection", {})[label] = await time_async(
                lambda q=q: fresh.post(path, json=q)
            )
            c_fresh, c_kept = await asyncio.to_thread(time_curl, url + path, key, body)
            floor = await time_raw(url, key, path, body)
            rows.setdefault("raw asyncio stream, 1 write (floor)", {})[label] = floor
            rows.setdefault("curl, fresh process+connection", {})[label] = c_fresh
            rows.setdefault("curl kept-alive (one process)", {})[label] = c_kept
            proc_ms[label] = statistics.median(pts)

    labels = list(queries)
    head = "".join(f" | {lab} ({sizes[lab]} B) median / p95 ms" for lab in labels)
    print(f"\n| transport{head} |")
    print("|---" * (len(labels) + 1) + "|")
    for name, cols in rows.items():
        print(f"| {name}" + "".join(f" | {cols[lab][0]:.2f} / {cols[lab][1]:.2f}" for lab in labels) + " |")
    print("Meilisearch processingTimeMs (median): " + ", ".join(f"{k}: {v}" for k, v in proc_ms.items()))


async def main() -> None:
    server: EmbeddedMeili | None = None
    url, key = os.environ.get("MEILI_URL"), os.environ.get("MEILI_MASTER_KEY")
    folder = Path(tempfile.mkdtemp(prefix="meili-bench-"))
    if not url:
        key = secrets.token_urlsafe(24)
        server = EmbeddedMeili(folder, free_port(), key, Settings(_env_file=None))
        server.start()
        url = server.url
    index = "bench_" + secrets.token_hex(4)
    docs = make_docs()
    try:
        async with MeiliClient(url, key) as client:
            async with httpx.AsyncClient(trust_env=False) as h:
                auth = {"Authorization": f"Bearer {key}"} if key else {}
                version = (await h.get(url + "/version", headers=auth)).json()
            print(f"Meilisearch {version.get('pkgVersion')} at {url}, index {index}, {len(docs)} documents")
            await client.wait_task(await client.create_index(index, "id"))
            await client.wait_task(
                await client.update_settings(
                    index, {"searchableAttributes": ["title", "summary"], "filterableAttributes": ["field"]}
                )
            )
            t = time.perf_counter()
            await client.wait_task(await client.add_documents(index, docs), timeout=120)
            print(f"indexed in {time.perf_counter() - t:.2f} s")
            await bench(client, url, key, index)
            await client.wait_task(await client.delete_index(index))
    finally:
        if server:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
