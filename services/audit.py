"""The append-only audit log: every write records who did what to which object, before and after; so
does every read of a confidential firm's identity (`record_reveal`). Operators read all of it, an
organisation's admins the entries of their organisation: what its people did, and who saw its identity."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import or_, select
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


REVEALED = "need.identity_revealed"


def record_reveal(session: AsyncSession, principal: Principal, need, lead_id: uuid.UUID | None) -> None:
    """Someone outside a confidential firm saw who it is (today: the broker who claimed a lead on its
    need). Call it wherever the identity is shown; the firm's admins read the entry in their audit trail."""
    record(session, principal, REVEALED, "need", need.id, {
        "lead_id": jsonable(lead_id), "subject_organisation_id": jsonable(need.organisation_id)})


def readable(principal: Principal):
    """Operators read every entry; an organisation what its people and keys did, and the reveals of its
    identity (whose `subject_organisation_id` it is)."""
    stmt = select(AuditEvent)
    if principal.is_operator:
        return stmt
    org = str(principal.organisation_id)
    return stmt.where(or_(AuditEvent.organisation_id == principal.organisation_id,
                          AuditEvent.changes["subject_organisation_id"].astext == org))


async def query(
    session: AsyncSession, principal: Principal, *, object_type: str | None, object_id: str | None,
    actor_id: str | None, since: datetime | None, until: datetime | None, limit: int, before_id: int | None,
) -> list[AuditEvent]:
    stmt = readable(principal).order_by(AuditEvent.id.desc()).limit(limit)
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
