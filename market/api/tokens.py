"""Log in, refresh, log out, and who am I."""

from fastapi import APIRouter, Request, status

from market.api.deps import AppSettings, Session
from market.auth import Authenticated, client_address
from schemas.identity import LoginRequest, Me, RefreshRequest, TokenPair
from schemas.tables import User
from services import login_guard, ratelimit
from services.identity import access, tokens
from services.views import organisation_read, user_read

router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.post("/token", response_model=TokenPair, responses={401: {}, 429: {}})
async def auth_login(body: LoginRequest, request: Request, session: Session, settings: AppSettings) -> TokenPair:
    """Exchange email and password for a short-lived access token and a refresh token.
    Attempts are limited per address; after a few failed ones for an account from one address, that
    address waits longer before each next attempt for it (429 with Retry-After); other addresses don't."""
    engine = request.app.state.engine
    address = client_address(request)
    await ratelimit.hit(engine, f"login-ip:{address}", settings.login_attempts_per_minute * 10)
    return TokenPair(**await login_guard.guarded(
        engine, body.email, address, lambda: tokens.login(session, settings, body.email, body.password)))


@router.post("/refresh", response_model=TokenPair, responses={401: {}})
async def auth_refresh(body: RefreshRequest, session: Session, settings: AppSettings) -> TokenPair:
    """Exchange a refresh token for a new pair; the old refresh token stops working."""
    return TokenPair(**await tokens.refresh(session, settings, body.refresh_token))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses={401: {}})
async def auth_logout(body: RefreshRequest, session: Session, settings: AppSettings) -> None:
    """Revoke a refresh token."""
    await tokens.logout(session, settings, body.refresh_token)


@router.get("/me", response_model=Me)
async def auth_me(principal: Authenticated, session: Session) -> Me:
    """The calling user or API key, its organisation, roles and scopes."""
    org = await access.get_organisation(session, principal.organisation_id)
    user = await session.get(User, principal.user_id) if principal.user_id else None
    return Me(kind=principal.kind, user=user_read(user) if user else None, api_key_id=principal.api_key_id,
              organisation=organisation_read(org, principal), roles=sorted(principal.roles),
              scopes=sorted(principal.scopes))
