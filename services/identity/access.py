"""Which organisation a caller manages: the lookup and the org-admin rule that identity writes start with."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from schemas.enums import Role
from schemas.tables import Organisation
from services.errors import Forbidden, NotFound
from services.principal import Principal


async def get_organisation(session: AsyncSession, org_id: uuid.UUID) -> Organisation:
    org = await session.get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found", code="organisation.not_found")
    return org


async def require_org_admin(session: AsyncSession, principal: Principal, org_id: uuid.UUID) -> None:
    """Operators manage every organisation; an org_admin only their own. Others learn nothing (404)."""
    if principal.is_operator:
        return
    if principal.organisation_id != org_id:
        raise NotFound("organisation not found", code="organisation.not_found")
    if Role.org_admin not in principal.roles:
        raise Forbidden("this needs the org_admin role", code="organisation.admin_required")
