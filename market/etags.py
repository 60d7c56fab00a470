"""ETags and conditional requests, for every resource at once.

A GET or PATCH answered 200 carries `ETag`: a hash of the body the caller received (so it changes with
any field the caller can see). `If-None-Match` on a GET answers 304 without the body. A PATCH with
`If-Match` is first compared with the ETag of a GET of the same URL by the same caller; a stale one
answers 412 `precondition_failed` and nothing is written — two operators editing one listing no longer
overwrite each other silently. (Two PATCHes racing within the same instant can still both pass; the
check narrows the window from minutes of editing to milliseconds.)
"""

import hashlib

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from market import errors


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(header: str, etag: str) -> bool:
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


class ETags:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method")
        if scope["type"] != "http" or method not in ("GET", "PATCH"):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if method == "PATCH" and b"if-match" in headers:
            status, body = await self._current(scope)
            if status == 200 and not _matches(headers[b"if-match"].decode("latin-1"), etag_of(body)):
                response = errors.problem(Request(scope), 412, "precondition_failed",
                                          "the resource changed since you read it; read it again and retry")
                return await response(scope, receive, send)
        start: Message = {}
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                if message["status"] != 200:
                    await send(message)
                return
            if start["status"] != 200:
                return await send(message)
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                await self._finish(start, b"".join(chunks), headers.get(b"if-none-match"), method, send)

        await self.app(scope, receive, buffer)

    async def _current(self, scope: Scope) -> tuple[int, bytes]:
        """The caller's GET of the same URL, answered by the app itself."""
        get_scope = {**scope, "method": "GET",
                     "headers": [(k, v) for k, v in scope["headers"] if k not in (b"content-length", b"content-type")]}
        answer: dict = {"status": 0, "body": b""}

        async def empty() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            else:
                answer["body"] += message.get("body", b"")

        await self.app(get_scope, empty, capture)
        return answer["status"], answer["body"]

    @staticmethod
    async def _finish(start: Message, body: bytes, if_none_match: bytes | None, method: str, send: Send) -> None:
        etag = etag_of(body)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"etag"]
        headers.append((b"etag", etag.encode()))
        if method == "GET" and if_none_match is not None and _matches(if_none_match.decode("latin-1"), etag):
            headers = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"content-type")]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})
