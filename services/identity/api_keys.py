"""API keys of an organisation's systems: created (the secret shown once), listed, revoked."""

import hashlib
import secrets
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.identity import ApiKeyCreate
from schemas.tables import ApiKey
from services import audit
from services.errors import NotFound
from services.identity.access import get_organisation, require_org_admin
from services.principal import Principal

KEY_PREFIX = "kct"


def key_hash(secret: str) -> str:
    # Keys are 256-bit random: a plain SHA-256 is enough, and cheap on every request.
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_api_key(session: AsyncSession, principal: Principal, org_id: uuid.UUID, body: ApiKeyCreate):
    await get_organisation(session, org_id)
    await require_org_admin(session, principal, org_id)
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(organisation_id=org_id, created_by=principal.user_id, name=body.name, prefix=prefix,
                 secret_hash=key_hash(secret), scopes=sorted({s.value for s in body.scopes}))
    session.add(key)
    await session.flush()
    audit.record(session, principal, "api_key.created", "api_key", key.id,
                 {"name": {"before": None, "after": key.name}, "scopes": {"before": None, "after": key.scopes}})
    return key, f"{KEY_PREFIX}_{prefix}_{secret}"


async def list_api_keys(session: AsyncSession, principal: Principal, org_id: uuid.UUID) -> list[ApiKey]:
    await require_org_admin(session, principal, org_id)
    stmt = select(ApiKey).where(ApiKey.organisation_id == org_id).order_by(ApiKey.created_at)
    return list((await session.scalars(stmt)).all())


async def revoke_api_key(session: AsyncSession, principal: Principal, key_id: uuid.UUID) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None or not (principal.is_operator or principal.organisation_id == key.organisation_id):
        raise NotFound("API key not found", code="api_key.not_found")
    await require_org_admin(session, principal, key.organisation_id)
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        audit.record(session, principal, "api_key.revoked", "api_key", key.id,
                     {"revoked_at": {"before": None, "after": key.revoked_at}})
    return key
