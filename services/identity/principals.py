"""Who is calling: a bearer token or an API key turned into a Principal."""

import hmac
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.tables import ApiKey, Organisation, User
from services.errors import Unauthenticated
from services.identity.api_keys import KEY_PREFIX, key_hash
from services.identity.tokens import decode_token
from services.principal import Principal


async def principal_from_bearer(session: AsyncSession, settings, token: str) -> Principal:
    claims = decode_token(settings, token, "access")
    row = (await session.execute(
        select(User, Organisation.kind).join(Organisation).where(User.id == claims["sub"])
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
    if row is None or not hmac.compare_digest(row[0].secret_hash, key_hash(parts[2])):
        raise Unauthenticated("API key invalid", code="auth.key_invalid")
    api_key, org_kind = row
    if api_key.revoked_at is not None:
        raise Unauthenticated("API key revoked", code="auth.key_revoked")
    await session.execute(update(ApiKey).where(ApiKey.id == api_key.id).values(last_used_at=datetime.now(UTC)))
    return Principal(kind="api_key", organisation_id=api_key.organisation_id, org_kind=org_kind,
                     api_key_id=api_key.id, scopes=frozenset(api_key.scopes))
