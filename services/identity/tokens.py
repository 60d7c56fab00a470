"""Access and refresh tokens (JWT): login, rotation on refresh, logout."""

import uuid
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.tables import RefreshToken, User
from services.errors import Unauthenticated
from services.identity.passwords import verify_password


def issue_access_token(settings, user: User) -> tuple[str, int]:
    lifetime = settings.access_token_minutes * 60
    now = datetime.now(UTC)
    claims = {"sub": str(user.id), "typ": "access", "iat": now, "exp": now + timedelta(seconds=lifetime)}
    return jwt.encode(claims, settings.secret_key, algorithm="HS256"), lifetime


async def issue_token_pair(session: AsyncSession, settings, user: User) -> dict:
    refresh = RefreshToken(user_id=user.id, expires_at=datetime.now(UTC) + timedelta(days=settings.refresh_token_days))
    session.add(refresh)
    await session.flush()
    refresh_token = jwt.encode(
        {"sub": str(user.id), "jti": str(refresh.id), "typ": "refresh", "exp": refresh.expires_at},
        settings.secret_key, algorithm="HS256",
    )
    access, lifetime = issue_access_token(settings, user)
    return {"access_token": access, "refresh_token": refresh_token, "token_type": "bearer", "expires_in": lifetime}


def decode_token(settings, token: str, typ: str) -> dict:
    try:
        claims = jwt.decode(token, settings.secret_key, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("token expired", code="auth.token_expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthenticated("token invalid", code="auth.token_invalid") from exc
    if claims.get("typ") != typ:
        raise Unauthenticated(f"not an {typ} token", code="auth.token_invalid")
    try:  # ids we issued are UUIDs; anything else was made by someone holding the key, or is garbage
        claims["sub"] = uuid.UUID(str(claims["sub"]))
        if typ == "refresh":
            claims["jti"] = uuid.UUID(str(claims["jti"]))
    except (KeyError, ValueError) as exc:
        raise Unauthenticated("token invalid", code="auth.token_invalid") from exc
    return claims


async def login(session: AsyncSession, settings, email: str, password: str) -> dict:
    user = await session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if not await verify_password(user.password_hash if user else None, password) or not user or not user.active:
        raise Unauthenticated("email or password is wrong", code="auth.invalid_credentials")
    return await issue_token_pair(session, settings, user)


async def refresh(session: AsyncSession, settings, token: str) -> dict:
    """Rotates the refresh token: the old one is revoked, a reused one is refused."""
    claims = decode_token(settings, token, "refresh")
    row = await session.get(RefreshToken, claims["jti"], with_for_update=True)
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("refresh token revoked", code="auth.token_revoked")
    row.revoked_at = datetime.now(UTC)
    user = await session.get(User, row.user_id)
    if user is None or not user.active:
        raise Unauthenticated("user is not active", code="auth.token_revoked")
    return await issue_token_pair(session, settings, user)


async def logout(session: AsyncSession, settings, token: str) -> None:
    claims = decode_token(settings, token, "refresh")
    await session.execute(
        update(RefreshToken).where(RefreshToken.id == claims["jti"]).values(revoked_at=datetime.now(UTC))
    )
