"""Users of an organisation and the roles they may be given (who may grant which)."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.enums import OrgKind, Role
from schemas.identity import UserCreate, UserUpdate
from schemas.tables import RefreshToken, User
from services import audit
from services.db import flush_or_conflict
from services.errors import Conflict, Forbidden, Invalid, NotFound
from services.identity.access import get_organisation, require_org_admin
from services.identity.passwords import hash_password
from services.principal import Principal

OPERATOR_ROLES = {Role.operator, Role.admin}
# Roles that widen what a user sees beyond their own organisation (#12): only an operator grants them.
WIDENING_ROLES = {Role.broker, Role.operator, Role.admin}


def _assignable(principal: Principal, roles: set[str], org_kind: str) -> None:
    if roles & WIDENING_ROLES and not principal.is_operator:
        raise Forbidden("the broker, operator and admin roles are granted by operators", code="user.role_forbidden",
                        field="roles")
    if roles & OPERATOR_ROLES and not (principal.is_operator and org_kind == OrgKind.operator):
        raise Forbidden("operator roles are given by operators, to platform staff only", code="user.role_forbidden",
                        field="roles")
    if Role.admin in roles and Role.admin not in principal.roles and principal.kind != "system":
        raise Forbidden("only an admin makes another admin", code="user.role_forbidden", field="roles")
    if Role.broker in roles and org_kind not in (OrgKind.agency, OrgKind.operator):
        raise Invalid("brokers belong to a technology-transfer agency", code="user.broker_needs_agency",
                      field="roles")


def _record_grants(session: AsyncSession, principal: Principal, user: User, granted: set[str]) -> None:
    """A grant that widens access gets its own audit row, so a search for role grants finds every one."""
    for role in sorted(granted & WIDENING_ROLES):
        audit.record(session, principal, "user.role_granted", "user", user.id,
                     {"role": {"before": None, "after": role}})


async def create_user(session: AsyncSession, principal: Principal, org_id: uuid.UUID, body: UserCreate) -> User:
    org = await get_organisation(session, org_id)
    await require_org_admin(session, principal, org_id)
    roles = {r.value for r in body.roles}
    _assignable(principal, roles, org.kind)
    user = User(organisation_id=org_id, email=body.email.lower(), display_name=body.display_name,
                password_hash=await hash_password(body.password), roles=sorted(roles))
    session.add(user)
    await flush_or_conflict(session, {"user_account_email_key": lambda: Conflict(
        "a user with this email exists", code="user.duplicate_email", field="body.email")})
    audit.record(session, principal, "user.created", "user", user.id,
                 audit.diff({}, {"email": user.email, "roles": user.roles, "organisation_id": org_id}))
    _record_grants(session, principal, user, roles)
    return user


async def list_users(session: AsyncSession, principal: Principal, org_id: uuid.UUID) -> list[User]:
    await require_org_admin(session, principal, org_id)
    stmt = select(User).where(User.organisation_id == org_id).order_by(User.created_at, User.id)
    return list((await session.scalars(stmt)).all())


async def update_user(session: AsyncSession, principal: Principal, user_id: uuid.UUID, body: UserUpdate) -> User:
    user = await session.get(User, user_id)
    if user is None or not (principal.is_operator or principal.organisation_id == user.organisation_id):
        raise NotFound("user not found", code="user.not_found")
    await require_org_admin(session, principal, user.organisation_id)
    if Role.admin in user.roles and Role.admin not in principal.roles:
        raise Forbidden("only an admin changes an admin's account", code="user.admin_protected")
    org = await get_organisation(session, user.organisation_id)
    before = {"display_name": user.display_name, "roles": user.roles, "active": user.active}
    changes = body.model_dump(exclude_unset=True)
    if "roles" in changes:
        roles = {r.value if hasattr(r, "value") else r for r in changes.pop("roles")}
        _assignable(principal, roles - set(user.roles), org.kind)
        _record_grants(session, principal, user, roles - set(user.roles))
        user.roles = sorted(roles)
    if "password" in changes:
        user.password_hash = await hash_password(changes.pop("password"))
    for key, value in changes.items():
        setattr(user, key, value)
    if "password" in body.model_fields_set or user.active is False:  # sessions elsewhere end too
        await session.execute(update(RefreshToken).where(RefreshToken.user_id == user.id,
                                                         RefreshToken.revoked_at.is_(None)).values(revoked_at=datetime.now(UTC)))
    after = {"display_name": user.display_name, "roles": user.roles, "active": user.active}
    audit.record(session, principal, "user.updated", "user", user.id, audit.diff(before, after))
    return user
