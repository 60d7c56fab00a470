"""Organisations, users, passwords, tokens and API keys; turning credentials into a Principal."""

import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.enums import OrgKind, Role
from schemas.identity import (
    ApiKeyCreate,
    OrganisationCreate,
    OrganisationUpdate,
    UserCreate,
    UserUpdate,
)
from schemas.tables import ApiKey, Organisation, RefreshToken, User
from services import audit
from services.db import flush_or_conflict
from services.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from services.principal import Principal

_hasher = PasswordHasher()
# Verifying against a real hash when the user does not exist keeps login time the same either way.
_DUMMY_HASH = _hasher.hash("not a password of anyone")
KEY_PREFIX = "kct"
OPERATOR_ROLES = {Role.operator, Role.admin}
ORGANISATION_CONFLICTS = {"organisation_credit_code_key": lambda: Conflict(
    "an organisation with this credit code exists", code="organisation.duplicate_credit_code",
    field="body.credit_code")}


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# --- tokens ---------------------------------------------------------------------------------------

def _now() -> datetime:
    return datetime.now(UTC)


def issue_access_token(settings, user: User) -> tuple[str, int]:
    lifetime = settings.access_token_minutes * 60
    now = _now()
    claims = {"sub": str(user.id), "typ": "access", "iat": now, "exp": now + timedelta(seconds=lifetime)}
    return jwt.encode(claims, settings.secret_key, algorithm="HS256"), lifetime


async def issue_token_pair(session: AsyncSession, settings, user: User) -> dict:
    refresh = RefreshToken(user_id=user.id, expires_at=_now() + timedelta(days=settings.refresh_token_days))
    session.add(refresh)
    await session.flush()
    refresh_token = jwt.encode(
        {"sub": str(user.id), "jti": str(refresh.id), "typ": "refresh", "exp": refresh.expires_at},
        settings.secret_key, algorithm="HS256",
    )
    access, lifetime = issue_access_token(settings, user)
    return {"access_token": access, "refresh_token": refresh_token, "token_type": "bearer", "expires_in": lifetime}


def _decode(settings, token: str, typ: str) -> dict:
    try:
        claims = jwt.decode(token, settings.secret_key, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("token expired", code="auth.token_expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthenticated("token invalid", code="auth.token_invalid") from exc
    if claims.get("typ") != typ:
        raise Unauthenticated(f"not an {typ} token", code="auth.token_invalid")
    return claims


async def login(session: AsyncSession, settings, email: str, password: str) -> dict:
    user = await session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if not verify_password(user.password_hash if user else _DUMMY_HASH, password) or not user or not user.active:
        raise Unauthenticated("email or password is wrong", code="auth.invalid_credentials")
    return await issue_token_pair(session, settings, user)


async def refresh(session: AsyncSession, settings, token: str) -> dict:
    """Rotates the refresh token: the old one is revoked, a reused one is refused."""
    claims = _decode(settings, token, "refresh")
    row = await session.get(RefreshToken, uuid.UUID(claims["jti"]), with_for_update=True)
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("refresh token revoked", code="auth.token_revoked")
    row.revoked_at = _now()
    user = await session.get(User, row.user_id)
    if user is None or not user.active:
        raise Unauthenticated("user is not active", code="auth.token_revoked")
    return await issue_token_pair(session, settings, user)


async def logout(session: AsyncSession, settings, token: str) -> None:
    claims = _decode(settings, token, "refresh")
    await session.execute(
        update(RefreshToken).where(RefreshToken.id == uuid.UUID(claims["jti"])).values(revoked_at=_now())
    )


# --- API keys -------------------------------------------------------------------------------------

def _key_hash(secret: str) -> str:
    # Keys are 256-bit random: a plain SHA-256 is enough, and cheap on every request.
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_api_key(session: AsyncSession, principal: Principal, org_id: uuid.UUID, body: ApiKeyCreate):
    await _require_org_admin(session, principal, org_id)
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(organisation_id=org_id, created_by=principal.user_id, name=body.name, prefix=prefix,
                 secret_hash=_key_hash(secret), scopes=sorted({s.value for s in body.scopes}))
    session.add(key)
    await session.flush()
    audit.record(session, principal, "api_key.created", "api_key", key.id,
                 {"name": {"before": None, "after": key.name}, "scopes": {"before": None, "after": key.scopes}})
    return key, f"{KEY_PREFIX}_{prefix}_{secret}"


async def list_api_keys(session: AsyncSession, principal: Principal, org_id: uuid.UUID) -> list[ApiKey]:
    await _require_org_admin(session, principal, org_id)
    stmt = select(ApiKey).where(ApiKey.organisation_id == org_id).order_by(ApiKey.created_at)
    return list((await session.scalars(stmt)).all())


async def revoke_api_key(session: AsyncSession, principal: Principal, key_id: uuid.UUID) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None or not (principal.is_operator or principal.organisation_id == key.organisation_id):
        raise NotFound("API key not found", code="api_key.not_found")
    await _require_org_admin(session, principal, key.organisation_id)
    if key.revoked_at is None:
        key.revoked_at = _now()
        audit.record(session, principal, "api_key.revoked", "api_key", key.id,
                     {"revoked_at": {"before": None, "after": key.revoked_at}})
    return key


# --- who is calling -------------------------------------------------------------------------------

async def principal_from_bearer(session: AsyncSession, settings, token: str) -> Principal:
    claims = _decode(settings, token, "access")
    row = (await session.execute(
        select(User, Organisation.kind).join(Organisation).where(User.id == uuid.UUID(claims["sub"]))
    )).first()
    if row is None or not row[0].active:
        raise Unauthenticated("user is not active", code="auth.token_revoked")
    user, org_kind = row
    return Principal(kind="user", organisation_id=user.organisation_id, org_kind=org_kind, user_id=user.id,
                     roles=frozenset(user.roles))


async def principal_from_api_key(session: AsyncSession, key: str) -> Principal:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        raise Unauthenticated("API key invalid", code="auth.key_invalid")
    row = (await session.execute(
        select(ApiKey, Organisation.kind).join(Organisation).where(ApiKey.prefix == parts[1])
    )).first()
    if row is None or not hmac.compare_digest(row[0].secret_hash, _key_hash(parts[2])):
        raise Unauthenticated("API key invalid", code="auth.key_invalid")
    api_key, org_kind = row
    if api_key.revoked_at is not None:
        raise Unauthenticated("API key revoked", code="auth.key_revoked")
    await session.execute(update(ApiKey).where(ApiKey.id == api_key.id).values(last_used_at=_now()))
    return Principal(kind="api_key", organisation_id=api_key.organisation_id, org_kind=org_kind,
                     api_key_id=api_key.id, scopes=frozenset(api_key.scopes))


# --- organisations and users ----------------------------------------------------------------------

def _org_values(org: Organisation) -> dict:
    return {"kind": org.kind, "name": org.name, "credit_code": org.credit_code, "region": org.region,
            "contact": org.contact}


async def create_organisation(
    session: AsyncSession, principal: Principal, body: OrganisationCreate, admin: UserCreate | None = None,
) -> tuple[Organisation, User | None]:
    if not principal.is_operator:
        raise Forbidden("only operators register organisations", code="organisation.forbidden")
    org = Organisation(kind=body.kind.value, name=body.name, credit_code=body.credit_code, region=body.region,
                       contact=body.contact.model_dump(exclude_none=True))
    session.add(org)
    await flush_or_conflict(session, ORGANISATION_CONFLICTS)
    audit.record(session, principal, "organisation.created", "organisation", org.id, audit.diff({}, _org_values(org)))
    user = await create_user(session, principal, org.id, admin) if admin else None
    return org, user


async def get_organisation(session: AsyncSession, org_id: uuid.UUID) -> Organisation:
    org = await session.get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found", code="organisation.not_found")
    return org


async def list_organisations(session: AsyncSession, kind: OrgKind | None, limit: int, after: list | None):
    stmt = select(Organisation).order_by(Organisation.name, Organisation.id).limit(limit + 1)
    if kind:
        stmt = stmt.where(Organisation.kind == kind.value)
    if after:
        name, last_id = after
        stmt = stmt.where(tuple_(Organisation.name, Organisation.id) > tuple_(name, last_id))
    return list((await session.scalars(stmt)).all())


async def update_organisation(
    session: AsyncSession, principal: Principal, org_id: uuid.UUID, body: OrganisationUpdate,
) -> Organisation:
    org = await get_organisation(session, org_id)
    await _require_org_admin(session, principal, org_id)
    before = _org_values(org)
    changes = body.model_dump(exclude_unset=True)
    for key, value in changes.items():
        setattr(org, key, value if key != "contact" else (value or {}))
    await flush_or_conflict(session, ORGANISATION_CONFLICTS)
    audit.record(session, principal, "organisation.updated", "organisation", org.id,
                 audit.diff(before, _org_values(org)))
    return org


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
    await _require_org_admin(session, principal, org_id)
    roles = {r.value for r in body.roles}
    _assignable(principal, roles, org.kind)
    user = User(organisation_id=org_id, email=body.email.lower(), display_name=body.display_name,
                password_hash=hash_password(body.password), roles=sorted(roles))
    session.add(user)
    await flush_or_conflict(session, {"user_account_email_key": lambda: Conflict(
        "a user with this email exists", code="user.duplicate_email", field="body.email")})
    audit.record(session, principal, "user.created", "user", user.id,
                 audit.diff({}, {"email": user.email, "roles": user.roles, "organisation_id": org_id}))
    _record_grants(session, principal, user, roles)
    return user


async def list_users(session: AsyncSession, principal: Principal, org_id: uuid.UUID) -> list[User]:
    await _require_org_admin(session, principal, org_id)
    stmt = select(User).where(User.organisation_id == org_id).order_by(User.created_at, User.id)
    return list((await session.scalars(stmt)).all())


async def update_user(session: AsyncSession, principal: Principal, user_id: uuid.UUID, body: UserUpdate) -> User:
    user = await session.get(User, user_id)
    if user is None or not (principal.is_operator or principal.organisation_id == user.organisation_id):
        raise NotFound("user not found", code="user.not_found")
    await _require_org_admin(session, principal, user.organisation_id)
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
        user.password_hash = hash_password(changes.pop("password"))
    for key, value in changes.items():
        setattr(user, key, value)
    if "password" in body.model_fields_set or user.active is False:  # sessions elsewhere end too
        await session.execute(update(RefreshToken).where(RefreshToken.user_id == user.id,
                                                         RefreshToken.revoked_at.is_(None)).values(revoked_at=_now()))
    after = {"display_name": user.display_name, "roles": user.roles, "active": user.active}
    audit.record(session, principal, "user.updated", "user", user.id, audit.diff(before, after))
    return user


async def _require_org_admin(session: AsyncSession, principal: Principal, org_id: uuid.UUID) -> None:
    """Operators manage every organisation; an org_admin only their own. Others learn nothing (404)."""
    if principal.is_operator:
        return
    if principal.organisation_id != org_id:
        raise NotFound("organisation not found", code="organisation.not_found")
    if Role.org_admin not in principal.roles:
        raise Forbidden("this needs the org_admin role", code="organisation.admin_required")


async def ensure_operator_admin(sessions, email: str, password: str | None) -> tuple[bool, str | None]:
    """The first operator account (`market createadmin`): created once, its password printed once."""
    async with sessions() as session, session.begin():
        if await session.scalar(select(User).where(User.email == email.lower())):
            return False, None
        org = await session.scalar(select(Organisation).where(Organisation.kind == OrgKind.operator))
        if org is None:
            org = Organisation(kind=OrgKind.operator, name="科创生态岛 平台运营", region="cd.hightech")
            session.add(org)
            await session.flush()
        password = password or secrets.token_urlsafe(12)
        user = User(organisation_id=org.id, email=email.lower(), display_name="平台管理员",
                    password_hash=hash_password(password), roles=[Role.admin, Role.operator])
        session.add(user)
        await session.flush()
        audit.record(session, Principal(kind="system"), "user.created", "user", user.id,
                     {"email": {"before": None, "after": user.email}})
        return True, password

