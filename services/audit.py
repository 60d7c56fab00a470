"""The append-only audit log: every write records who did what to which object, before and after."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.tables import AuditEvent
from services.principal import Principal


def jsonable(value: Any) -> Any:
    """Values as they go into JSONB: decimals and dates as strings, enums as their code."""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{field: {before, after}} for the fields whose value changed."""
    return {
        key: {"before": jsonable(before.get(key)), "after": jsonable(after.get(key))}
        for key in after
        if jsonable(before.get(key)) != jsonable(after.get(key))
    }


def record(
    session: AsyncSession, principal: Principal, action: str, object_type: str, object_id: Any,
    changes: dict[str, Any] | None = None,
) -> None:
    """Adds the audit row to the caller's transaction: it commits or rolls back with the write."""
    session.add(AuditEvent(
        actor_type=principal.kind,
        actor_id=principal.actor_id,
        organisation_id=principal.organisation_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        changes=jsonable(changes or {}),
        request_id=principal.request_id,
    ))


async def query(
    session: AsyncSession, *, object_type: str | None, object_id: str | None, actor_id: str | None,
    since: datetime | None, until: datetime | None, limit: int, before_id: int | None,
) -> list[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    for column, value in (
        (AuditEvent.object_type, object_type), (AuditEvent.object_id, object_id), (AuditEvent.actor_id, actor_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if since:
        stmt = stmt.where(AuditEvent.at >= since)
    if until:
        stmt = stmt.where(AuditEvent.at < until)
    if before_id:
        stmt = stmt.where(AuditEvent.id < before_id)
    return list((await session.scalars(stmt)).all())
