"""The audit log: operators read all of it, organisation admins their own organisation's."""

from typing import Annotated

from fastapi import APIRouter, Query

from market.api.deps import Pagination, Session
from market.auth import OrgManager
from schemas.common import Instant, Page
from schemas.identity import AuditEventRead
from services import audit
from services.pagination import bigint, decode_cursor, page

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("", response_model=Page[AuditEventRead])
async def audit_list(
    principal: OrgManager, session: Session, pagination: Pagination,
    object_type: Annotated[str | None, Query(max_length=40, examples=["need"])] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    actor_id: Annotated[str | None, Query(max_length=64, description="A user or API key id")] = None,
    since: Annotated[Instant | None, Query(description="From this time (inclusive)")] = None,
    until: Annotated[Instant | None, Query(description="Up to this time (exclusive)")] = None,
):
    """Every write, newest first, filtered by object, actor and time range; and every read of a
    confidential firm's identity (`need.identity_revealed`: who, when, through which `lead_id`).
    Operators see all entries; an organisation's admins those of their organisation: what its people
    and API keys did, and who saw its identity."""
    cursor = decode_cursor(pagination.cursor, (bigint,))
    rows = await audit.query(session, principal, object_type=object_type, object_id=object_id, actor_id=actor_id,
                             since=since, until=until, limit=pagination.limit + 1,
                             before_id=cursor[0] if cursor else None)
    rows, next_cursor = page(rows, pagination.limit, lambda e: [e.id])
    return Page(items=[AuditEventRead.model_validate(e, from_attributes=True) for e in rows],
                next_cursor=next_cursor)
