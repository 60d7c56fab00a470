"""Opaque cursors for keyset pagination: the sort key of the last row, base64-encoded JSON."""

import base64
import json
from typing import Any

from services.errors import Invalid


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError as exc:
        raise Invalid("cursor is not one this API issued", code="pagination.invalid_cursor", field="cursor") from exc
    if not isinstance(values, list):
        raise Invalid("cursor is not one this API issued", code="pagination.invalid_cursor", field="cursor")
    return values


def page(rows: list, limit: int, key) -> tuple[list, str | None]:
    """Rows were fetched with limit + 1: the extra row only says whether a next page exists."""
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(key(rows[-1]))
    return rows, None
