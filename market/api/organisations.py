"""Organisations, their users and their API keys."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from market.api.deps import Pagination, Session
from market.auth import Anyone, Operator, OrgManager
from schemas.common import Page
from schemas.enums import OrgKind
from schemas.identity import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    OrganisationRead,
    OrganisationRegister,
    OrganisationUpdate,
    OrganisationWithAdmin,
    UserCreate,
    UserRead,
    UserUpdate,
)
from services.identity import access, api_keys, organisations, users
from services.pagination import decode_cursor, page
from services.views import api_key_read, organisation_read, user_read

router = APIRouter(prefix="/v1", tags=["organisations"])


@router.post("/organisations", response_model=OrganisationWithAdmin, status_code=status.HTTP_201_CREATED)
async def organisations_create(body: OrganisationRegister, principal: Operator, session: Session):
    """Register an organisation, optionally with its first administrator (operators)."""
    org, admin = await organisations.create_organisation(
        session, principal, OrganisationRegister.model_validate(body.model_dump(exclude={"admin"})), body.admin)
    return OrganisationWithAdmin(organisation=organisation_read(org, principal),
                                 admin=user_read(admin) if admin else None)


@router.get("/organisations", response_model=Page[OrganisationRead])
async def organisations_list(
    principal: Anyone, session: Session, pagination: Pagination,
    kind: Annotated[OrgKind | None, Query(description="Only organisations of this kind")] = None,
):
    """The directory of organisations; contact details only for the organisation itself and operators."""
    after = decode_cursor(pagination.cursor, (str, uuid.UUID))
    rows = await organisations.list_organisations(session, kind, pagination.limit, after)
    rows, cursor = page(rows, pagination.limit, lambda o: [o.name, str(o.id)])
    return Page(items=[organisation_read(o, principal) for o in rows], next_cursor=cursor)


@router.get("/organisations/{organisation_id}", response_model=OrganisationRead)
async def organisations_get(organisation_id: uuid.UUID, principal: Anyone, session: Session):
    """One organisation."""
    return organisation_read(await access.get_organisation(session, organisation_id), principal)


@router.patch("/organisations/{organisation_id}", response_model=OrganisationRead)
async def organisations_update(
    organisation_id: uuid.UUID, body: OrganisationUpdate, principal: OrgManager, session: Session,
):
    """Change the fields sent (the organisation's admins and operators)."""
    org = await organisations.update_organisation(session, principal, organisation_id, body)
    return organisation_read(org, principal)


@router.post("/organisations/{organisation_id}/users", response_model=UserRead,
             status_code=status.HTTP_201_CREATED, tags=["users"])
async def users_create(organisation_id: uuid.UUID, body: UserCreate, principal: OrgManager, session: Session):
    """Add a user to the organisation (its admins and operators)."""
    return user_read(await users.create_user(session, principal, organisation_id, body))


@router.get("/organisations/{organisation_id}/users", response_model=list[UserRead], tags=["users"])
async def users_list(organisation_id: uuid.UUID, principal: OrgManager, session: Session):
    """The organisation's users (its admins and operators)."""
    return [user_read(u) for u in await users.list_users(session, principal, organisation_id)]


@router.patch("/users/{user_id}", response_model=UserRead, tags=["users"])
async def users_update(user_id: uuid.UUID, body: UserUpdate, principal: OrgManager, session: Session):
    """Change a user's name, roles, password or active flag (the organisation's admins and operators)."""
    return user_read(await users.update_user(session, principal, user_id, body))


@router.post("/organisations/{organisation_id}/api-keys", response_model=ApiKeyCreated,
             status_code=status.HTTP_201_CREATED, tags=["api-keys"])
async def api_keys_create(organisation_id: uuid.UUID, body: ApiKeyCreate, principal: OrgManager, session: Session):
    """Create an API key; the whole key is in this answer only, store it now."""
    key, secret = await api_keys.create_api_key(session, principal, organisation_id, body)
    return ApiKeyCreated(**api_key_read(key).model_dump(), key=secret)


@router.get("/organisations/{organisation_id}/api-keys", response_model=list[ApiKeyRead], tags=["api-keys"])
async def api_keys_list(organisation_id: uuid.UUID, principal: OrgManager, session: Session):
    """The organisation's API keys, without their secrets."""
    return [api_key_read(k) for k in await api_keys.list_api_keys(session, principal, organisation_id)]


@router.delete("/api-keys/{api_key_id}", response_model=ApiKeyRead, tags=["api-keys"])
async def api_keys_revoke(api_key_id: uuid.UUID, principal: OrgManager, session: Session):
    """Revoke an API key: it fails from the next request on."""
    return api_key_read(await api_keys.revoke_api_key(session, principal, api_key_id))
