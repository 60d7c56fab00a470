"""`Idempotency-Key` on POST: a retry with the same key replays the first answer (24 hours) instead of
creating a second listing, lead, organisation or import. Generic, so every POST route (deals too) gets it.

The caller is the user behind the token (stable across token refreshes) or the API key; anonymous
POSTs and the auth endpoints are not keyed. The same key with a different body (or path) answers 422
`idempotency.key_reused`; while the first request still runs, a retry answers 409 `idempotency.in_progress`.
Answers worth retrying (5xx, 401, 429) are not kept.
"""

import hashlib

import jwt
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from market import errors
from services import idempotency

HEADER = b"idempotency-key"
NOT_KEPT = {401, 408, 429}


def caller_of(headers: dict[bytes, bytes], secret: str) -> str | None:
    if api_key := headers.get(b"x-api-key"):
        return "key:" + hashlib.sha256(api_key).hexdigest()
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    if not authorization.lower().startswith("bearer "):
        return None
    token = authorization[7:].strip()
    try:  # the user, not the token: a retry after a refresh is the same caller
        return "user:" + str(jwt.decode(token, secret, algorithms=["HS256"], options={"verify_exp": False})["sub"])
    except (jwt.PyJWTError, KeyError):
        return "token:" + hashlib.sha256(token.encode()).hexdigest()


class IdempotencyKeys:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].startswith("/v1/auth/"):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        key = headers.get(HEADER, b"").decode("latin-1").strip()
        state = scope["app"].state
        caller = caller_of(headers, state.settings.secret_key) if key else None
        if not caller:
            return await self.app(scope, receive, send)
        request = Request(scope)
        if len(key) > 200:
            return await errors.problem(request, 422, "validation_failed", "Idempotency-Key: at most 200 characters",
                                        field="header.Idempotency-Key")(scope, receive, send)
        body = await _read_body(receive)
        fingerprint = hashlib.sha256(b"\n".join([scope["path"].encode(), scope.get("query_string", b""), body]))
        stored = await idempotency.claim(state.engine, caller, key, fingerprint.hexdigest())
        if stored is not None:
            return await self._answer_retry(stored, fingerprint.hexdigest(), request, scope, receive, send)
        await self._first(scope, body, caller, key, send)

    async def _first(self, scope: Scope, body: bytes, caller: str, key: str, send: Send) -> None:
        engine = scope["app"].state.engine
        sent = False

        async def replay_body() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        answer: dict = {"status": 500, "headers": [], "body": b""}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"], answer["headers"] = message["status"], message.get("headers", [])
            else:
                answer["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        except BaseException:
            await idempotency.release(engine, caller, key)
            raise
        status = answer["status"]
        if status >= 500 or status in NOT_KEPT:
            await idempotency.release(engine, caller, key)
            return
        response_headers = {k.lower(): v.decode("latin-1") for k, v in answer["headers"]}
        await idempotency.store(engine, caller, key, status, response_headers.get(b"content-type"),
                                response_headers.get(b"location"), answer["body"])

    @staticmethod
    async def _answer_retry(stored: idempotency.Stored, fingerprint: str, request: Request,
                            scope: Scope, receive: Receive, send: Send) -> None:
        if stored.fingerprint != fingerprint:
            response = errors.problem(request, 422, "idempotency.key_reused",
                                      "this Idempotency-Key was used for a different request",
                                      field="header.Idempotency-Key")
        elif stored.status is None:
            response = errors.problem(request, 409, "idempotency.in_progress",
                                      "the first request with this Idempotency-Key is still running; retry later")
        else:
            headers = [(b"idempotency-replayed", b"true")]
            for name, value in ((b"content-type", stored.content_type), (b"location", stored.location)):
                if value:
                    headers.append((name, value.encode("latin-1")))
            body = stored.body or b""
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": stored.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)
