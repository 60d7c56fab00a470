"""A small async Meilisearch client for the request path and the workers.

Transport: one shared ``httpx.AsyncHTTPTransport`` (a pool of kept-alive HTTP/1.1 connections), every
request sent with ``Accept-Encoding: identity``. Why that header matters (measured in bench/meili_client.py):

httpx (and aiohttp) advertise ``Accept-Encoding: gzip, deflate`` by default. Meilisearch then
gzips its answer and streams it as ``transfer-encoding: chunked``; once the answer is over ~1 KB it
writes the headers in one ``send`` and the gzip chunks in later small sends. Meilisearch does not
set TCP_NODELAY, so Nagle holds those small sends until the client ACKs the headers, and the
client's kernel delays that ACK (~40 ms) on a warm connection. Hence the 40 ms stall: kept-alive
connections only (a fresh one starts in quick-ACK mode), answers over ~1 KB only (measured: 0.9 ms
at 0.8 KB, 44 ms at 1.1 KB), and TCP_NODELAY on the client changes nothing. curl and http.client
don't ask for compression, so they get one ``content-length`` write and no stall. Asking for
``identity`` does the same here (~1 ms, like curl) while httpx keeps doing the pooling, concurrency,
chunked/content-length parsing and dropping of dead connections. Compression buys nothing on the
loopback / LAN link to Meilisearch anyway.

A transport's pool belongs to the event loop that first used it: create one MeiliClient per loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx
import orjson

__all__ = ["MeiliClient", "SearchError", "SearchTaskFailed", "SearchUnavailable"]

Json = Any  # parsed JSON: dict | list | str | int | float | bool | None


class SearchUnavailable(Exception):
    """Meilisearch cannot be reached: connection refused/reset, timeout, or a bare 502/503/504."""


class SearchError(Exception):
    """An error answered by Meilisearch's API, e.g. ``code == "index_not_found"``."""

    def __init__(self, code: str, message: str, status: int | None, type: str | None = None) -> None:
        super().__init__(f"{code}: {message}" + (f" (HTTP {status})" if status else ""))
        self.code = code
        self.message = message
        self.status = status  # None when the error comes from a task, not a response
        self.type = type  # Meilisearch's error type: invalid_request, internal, auth, system


class SearchTaskFailed(SearchError):
    """A task that ended ``failed``; ``code``/``message`` are the task's error, ``task`` the task."""

    def __init__(self, task: Mapping[str, Any]) -> None:
        err = task.get("error") or {}
        super().__init__(
            err.get("code", "task_failed"),
            err.get("message", f"task {task.get('uid')} failed"),
            None,
            err.get("type"),
        )
        self.task = dict(task)


_FINISHED = frozenset({"succeeded", "failed", "canceled"})

# Called after every Meilisearch call with (method, path, seconds, outcome); services.metrics adds one.
RequestHook = Callable[[str, str, float, str], None]
REQUEST_HOOKS: list[RequestHook] = []


def _seg(value: str | int) -> str:
    """Quote one path segment (index uids are safe, document ids may not be)."""
    return quote(str(value), safe="")


class MeiliClient:
    """Async Meilisearch client; safe for many concurrent calls on one event loop.

    Read-only calls (GETs, search, multi-search) are retried once when a pooled connection turns
    out to be dead (e.g. Meilisearch restarted); writes are not, since a replayed create-index or
    swap would not be harmless.
    """

    def __init__(self, url: str, api_key: str | None, timeout: float = 10.0) -> None:
        headers = {
            "Accept-Encoding": "identity",  # avoids the ~40 ms Nagle/delayed-ACK stall, see top
            "Accept": "application/json",
        }
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._url = url.rstrip("/")
        self._headers = headers
        self._timeout = httpx.Timeout(timeout).as_dict()
        # The transport, not an AsyncClient over it: a client's redirects, cookies, auth flow and URL merging are
        # unused here, and it keeps every response in a reference cycle (response → stream → response) that only
        # the cyclic collector frees (~45 objects a request; bench/README.md, "Round trips off a match's path").
        # retries=1: one more connect attempt (a restarting server); trust_env=False: a proxy from HTTP_PROXY
        # must never sit between us and Meilisearch.
        self._transport = httpx.AsyncHTTPTransport(
            retries=1, limits=httpx.Limits(max_connections=100, max_keepalive_connections=20), trust_env=False)

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> MeiliClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- transport ---------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        body: Json = None,
        params: Mapping[str, str | int] | None = None,
        *,
        idempotent: bool = False,
    ) -> Json:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await self._send(method, path, body, params, idempotent)
            outcome = "ok"
            return result
        finally:
            for hook in REQUEST_HOOKS:
                hook(method, path, time.perf_counter() - started, outcome)

    async def _send(self, method: str, path: str, body: Json, params: Mapping[str, str | int] | None,
                    idempotent: bool) -> Json:
        content = None
        headers = self._headers
        if body is not None:
            # Compact UTF-8 (Chinese text stays 3 bytes a character instead of 6 as \uXXXX), by orjson: a
            # rebuild's batch of 2,000 documents carries a million vector floats, ~0.9 s of CPU for the
            # stdlib's float formatting against ~0.15 s (bench/README.md, "Index build").
            content = orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
            headers = {**headers, "Content-Type": "application/json"}
        request = httpx.Request(method, httpx.URL(self._url + path, params=params), headers=headers, content=content,
                                extensions={"timeout": self._timeout})
        for attempt in (0, 1):
            try:
                resp = await self._transport.handle_async_request(request)
                try:
                    await resp.aread()
                finally:
                    await resp.aclose()
                break
            except httpx.TimeoutException as exc:
                raise SearchUnavailable(f"Meilisearch timed out: {method} {path}") from exc
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                # A kept-alive connection closed under us; a fresh one will be used on retry.
                if idempotent and attempt == 0:
                    continue
                raise SearchUnavailable(f"Meilisearch connection lost: {exc!r}") from exc
            except httpx.TransportError as exc:  # ConnectError and the like: server down
                raise SearchUnavailable(f"Meilisearch unreachable: {exc!r}") from exc
        if resp.status_code >= 400:
            raise self._error(resp)
        if not resp.content:  # 204
            return None
        return orjson.loads(resp.content)  # a live match's answer is ~350 hits: 3x faster than the stdlib

    @staticmethod
    def _error(resp: httpx.Response) -> Exception:
        try:
            data = resp.json()
        except ValueError:
            data = None
        if isinstance(data, dict) and "code" in data:
            return SearchError(data["code"], data.get("message", ""), resp.status_code, data.get("type"))
        if resp.status_code in (502, 503, 504):  # a proxy or a server still starting
            return SearchUnavailable(f"Meilisearch answered HTTP {resp.status_code}")
        return SearchError("http_error", resp.text[:500], resp.status_code)

    # -- tasks -------------------------------------------------------------------------------

    async def health(self) -> Json:
        return await self._request("GET", "/health", idempotent=True)

    async def get_task(self, uid: int) -> Json:
        return await self._request("GET", f"/tasks/{int(uid)}", idempotent=True)

    # A timeout argument, not asyncio.timeout: a task outliving it is an error with its own code.
    async def wait_task(self, uid: int | Mapping[str, Any], timeout: float = 30.0) -> Json:  # noqa: ASYNC109
        """Poll a task until it is finished; returns it (also when canceled).

        Accepts a task uid or a write method's answer. Raises SearchTaskFailed when the task
        failed, and SearchError(code="task_timeout") when it is not finished after `timeout` s.
        """
        if isinstance(uid, Mapping):
            uid = uid["taskUid"]
        deadline = time.monotonic() + timeout
        delay = 0.005  # most tasks finish in a few ms; the first write to a new index takes ~2 s
        while True:
            task = await self.get_task(uid)
            status = task.get("status")
            if status == "failed":
                raise SearchTaskFailed(task)
            if status in _FINISHED:
                return task
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SearchError("task_timeout", f"task {uid} still {status} after {timeout} s", None)
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.25)

    # -- indexes -----------------------------------------------------------------------------

    async def create_index(self, uid: str, primary_key: str | None = None) -> Json:
        body: dict[str, Any] = {"uid": uid}
        if primary_key is not None:
            body["primaryKey"] = primary_key
        return await self._request("POST", "/indexes", body)

    async def delete_index(self, uid: str) -> Json:
        return await self._request("DELETE", f"/indexes/{_seg(uid)}")

    async def list_indexes(self, limit: int = 1000, offset: int = 0) -> Json:
        """Meilisearch's page: ``{"results": [...], "offset", "limit", "total"}``."""
        params = {"limit": limit, "offset": offset}
        return await self._request("GET", "/indexes", params=params, idempotent=True)

    async def get_stats(self, uid: str) -> Json:
        return await self._request("GET", f"/indexes/{_seg(uid)}/stats", idempotent=True)

    async def swap_indexes(self, pairs: Iterable[Sequence[str]]) -> Json:
        """Atomically swap each (a, b) pair of indexes."""
        body = [{"indexes": [a, b]} for a, b in pairs]
        return await self._request("POST", "/swap-indexes", body)

    async def update_settings(self, uid: str, settings: Mapping[str, Any]) -> Json:
        return await self._request("PATCH", f"/indexes/{_seg(uid)}/settings", dict(settings))

    async def get_settings(self, uid: str) -> Json:
        return await self._request("GET", f"/indexes/{_seg(uid)}/settings", idempotent=True)

    # -- documents ---------------------------------------------------------------------------

    async def add_documents(
        self, uid: str, docs: Sequence[Mapping[str, Any]], primary_key: str | None = None
    ) -> Json:
        """Add or replace documents (whole documents, by primary key)."""
        params = {"primaryKey": primary_key} if primary_key else None
        return await self._request("POST", f"/indexes/{_seg(uid)}/documents", list(docs), params)

    async def delete_documents(self, uid: str, ids: Iterable[str | int]) -> Json:
        return await self._request("POST", f"/indexes/{_seg(uid)}/documents/delete-batch", list(ids))

    async def delete_all_documents(self, uid: str) -> Json:
        return await self._request("DELETE", f"/indexes/{_seg(uid)}/documents")

    async def get_document(self, uid: str, id: str | int, params: Mapping[str, str] | None = None) -> Json:
        """``params``: e.g. ``{"fields": "id", "retrieveVectors": "true"}``."""
        return await self._request("GET", f"/indexes/{_seg(uid)}/documents/{_seg(id)}", params=params,
                                   idempotent=True)

    # -- search ------------------------------------------------------------------------------

    async def search(self, uid: str, params: Mapping[str, Any]) -> Json:
        """``params`` is Meilisearch's search body: q, filter, limit, showRankingScore, ..."""
        return await self._request("POST", f"/indexes/{_seg(uid)}/search", dict(params), idempotent=True)

    async def multi_search(
        self, queries: Sequence[Mapping[str, Any]], federation: Mapping[str, Any] | None = None
    ) -> Json:
        """Each query carries its ``indexUid``. Without federation: ``{"results": [...]}`` one per
        query; with a federation dict (``{}`` for defaults): one merged ``{"hits": [...]}``."""
        body: dict[str, Any] = {"queries": [dict(q) for q in queries]}
        if federation is not None:
            body["federation"] = dict(federation)
        return await self._request("POST", "/multi-search", body, idempotent=True)
