"""Table rows to API models, with the explicit field lists that decide what a caller may see."""

from schemas.identity import ApiKeyRead, OrganisationRead, UserRead
from schemas.tables import ApiKey, Organisation, User
from services.principal import Principal


def organisation_read(org: Organisation, principal: Principal) -> OrganisationRead:
    own = principal.is_operator or principal.organisation_id == org.id
    return OrganisationRead(id=org.id, kind=org.kind, name=org.name, credit_code=org.credit_code,
                            region=org.region, contact=org.contact if own else None, created_at=org.created_at)


def user_read(user: User) -> UserRead:
    return UserRead(id=user.id, organisation_id=user.organisation_id, email=user.email,
                    display_name=user.display_name, roles=user.roles, active=user.active,
                    created_at=user.created_at)


def api_key_read(key: ApiKey) -> ApiKeyRead:
    return ApiKeyRead(id=key.id, organisation_id=key.organisation_id, name=key.name, prefix=key.prefix,
                      scopes=key.scopes, created_at=key.created_at, last_used_at=key.last_used_at,
                      revoked_at=key.revoked_at)
