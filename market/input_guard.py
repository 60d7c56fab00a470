"""Refuses text the service can neither store nor show — control characters (but tab, newline and
carriage return) and lone surrogates — in a JSON body, a query parameter or the path: 422 naming the
field, before any route or service runs. Multipart uploads are left to the import, which reports rows."""

import json
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from market.errors import problem
from schemas.common import FieldError
from schemas.validators import FORBIDDEN_CHARACTERS_MESSAGE, find_forbidden_characters, has_forbidden_characters


class RejectControlCharacters:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        field = _in_path(scope) or _in_query(scope)
        if field is None and _is_json(scope):
            body, receive = await _buffered(receive)
            if body is None:
                return  # the client went away mid-body
            field = _in_body(body)
        if field is None:
            return await self.app(scope, receive, send)
        error = FieldError(field=field, message=FORBIDDEN_CHARACTERS_MESSAGE, type="control_character")
        response = problem(Request(scope), 422, "validation_failed", f"{field}: {error.message}",
                           field=field, errors=[error])
        await response(scope, receive, send)


def _in_path(scope: Scope) -> str | None:
    return "path" if has_forbidden_characters(scope["path"]) else None


def _in_query(scope: Scope) -> str | None:
    query = scope.get("query_string", b"").decode("utf-8", "replace")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if has_forbidden_characters(name) or has_forbidden_characters(value):
            return f"query.{name}"
    return None


def _is_json(scope: Scope) -> bool:
    content_type = dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip().lower()
    return content_type.endswith(b"/json") or content_type.endswith(b"+json")


def _in_body(body: bytes) -> str | None:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the route's own validation answers
    found = find_forbidden_characters(value)
    return None if found is None else ".".join(["body", *(str(part) for part in found)])


async def _buffered(receive: Receive) -> tuple[bytes | None, Receive]:
    """The whole body (already capped by BodySizeLimit), and a receive that hands it to the app again."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None, receive
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay
