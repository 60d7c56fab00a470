"""Who is calling (the Principal) and the one place that says which kind of caller a route admits.

A route states its rule in its signature with one of the aliases below; a route without one is public
and must be on `PUBLIC_OPERATIONS` (a test walks the route table). Object-level rules (whose listing,
which lead) live in the services, next to the queries they guard.
"""

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from market.api.deps import Session
from services.errors import Forbidden, RateLimited, Unauthenticated
from services.identity import principals
from services.principal import ANONYMOUS, Principal

_bearer = HTTPBearer(auto_error=False, description="Access token from `POST /v1/auth/token`")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False,
                        description="An organisation's API key (`kct_<prefix>_<secret>`)")

PUBLIC_OPERATIONS = {
    "health_live", "health_ready", "auth_login", "auth_refresh", "auth_logout", "taxonomy_fields",
    "taxonomy_regions", "achievements_list", "achievements_get", "needs_list", "needs_get",
    "search_achievements", "search_needs", "publications_list", "publications_get", "publications_download",
    "organisations_list", "organisations_get", "needs_matches", "achievements_matches",
    "achievements_sync_status", "needs_sync_status",
    "stats_public",
    "brokers_list", "brokers_get",
    "metrics_read",  # guarded by address or token (METRICS_ALLOW / METRICS_TOKEN), not by a principal
}


def client_address(request: Request) -> str:
    """The caller's address. X-Forwarded-For counts only from the proxies in FORWARDED_ALLOW_IPS (none by
    default): the server rewrites `request.client` from it then, and never otherwise."""
    return request.client.host if request.client else "unknown"


async def current_principal(
    request: Request,
    session: Session,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
    api_key: Annotated[str | None, Security(_api_key)] = None,
) -> Principal:
    settings = request.app.state.settings
    if api_key:
        principal = await principals.principal_from_api_key(session, api_key)
        bucket = f"key:{principal.api_key_id}"
    elif bearer:
        principal = await principals.principal_from_bearer(session, settings, bearer.credentials)
        bucket = f"user:{principal.user_id}"
    else:
        principal = ANONYMOUS
        bucket = f"ip:{client_address(request)}"
    try:  # in memory: a request costs no database write (services/ratelimit.py says how replicas share it)
        request.state.ratelimit = request.app.state.ratelimiter.hit(bucket, settings.rate_limit_per_minute)
    except RateLimited as exc:
        request.state.ratelimit = exc.extra["quota"]
        raise
    return principal.with_request(request.state.request_id)


def _rule(name: str, check, message: str, code: str):
    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.is_anonymous:
            raise Unauthenticated("sign in or send an API key")
        if not check(principal):
            raise Forbidden(message, code=code)
        return principal

    dependency.rule = name  # read by the route-table test
    return dependency


Anyone = Annotated[Principal, Depends(current_principal)]
Authenticated = Annotated[Principal, Depends(_rule("authenticated", lambda p: True, "", ""))]
ListingWriter = Annotated[Principal, Depends(_rule(
    "listing_writer", lambda p: p.can_write_listings or p.is_operator,
    "posting listings needs an organisation member or an API key with the write scope",
    "auth.write_forbidden"))]
OrgManager = Annotated[Principal, Depends(_rule(
    "org_manager", lambda p: p.kind == "user" and (p.is_operator or "org_admin" in p.roles),
    "this needs an organisation admin", "auth.admin_required"))]
Operator = Annotated[Principal, Depends(_rule(
    "operator", lambda p: p.is_operator, "operators only", "auth.operator_required"))]
Broker = Annotated[Principal, Depends(_rule(
    "broker_only", lambda p: p.is_broker, "brokers only", "auth.broker_required"))]
BrokerOrOperator = Annotated[Principal, Depends(_rule(
    "broker", lambda p: p.is_broker or p.is_operator, "brokers and operators only", "auth.broker_required"))]
