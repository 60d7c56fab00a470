"""Opaque cursors for keyset pagination: the sort key of the last row, base64-encoded JSON."""

import base64
import json
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_

from schemas.validators import has_forbidden_characters, storable_datetime
from services.errors import Invalid


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def bigint(value: Any) -> int:
    """An integer PostgreSQL can compare with a BIGINT column."""
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ValueError("out of range")
    return number


def instant(value: Any) -> datetime:
    """A timestamp with its zone that the database driver can convert to UTC."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return storable_datetime(moment)


def finite(value: Any) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("not finite")
    return number


def decode_cursor(cursor: str | None, types: tuple[Callable[[Any], Any], ...]) -> list[Any] | None:
    """The sort key of a cursor, each value converted by its type; anything else is a 422, never a 500."""
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError("wrong shape")
        if any(isinstance(value, str) and has_forbidden_characters(value) for value in values):
            raise ValueError("control characters")
        return [None if value is None else kind(value) for kind, value in zip(types, values, strict=True)]
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise Invalid("cursor is not one this API issued", code="pagination.invalid_cursor",
                      field="query.cursor") from exc


def page(rows: list, limit: int, key) -> tuple[list, str | None]:
    """Rows were fetched with limit + 1: the extra row only says whether a next page exists."""
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(key(rows[-1]))
    return rows, None


def after_key(column, id_column, value, last_id, descending: bool):
    """Keyset condition for (column, id) with nulls last, in either direction."""
    if value is None:  # we are inside the trailing nulls: only the id decides
        return and_(column.is_(None), id_column < last_id if descending else id_column > last_id)
    if descending:
        return or_(column < value, and_(column == value, id_column < last_id), column.is_(None))
    return or_(column > value, and_(column == value, id_column > last_id), column.is_(None))
