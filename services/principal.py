"""Who is calling, as the services see it: a user, an API key, or nobody."""

import uuid
from dataclasses import dataclass, field

from schemas.enums import KeyScope, Role


@dataclass(frozen=True)
class Principal:
    kind: str  # anonymous | user | api_key | system
    organisation_id: uuid.UUID | None = None
    org_kind: str | None = None
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] = field(default_factory=frozenset)
    request_id: str | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.kind == "anonymous"

    @property
    def is_operator(self) -> bool:
        return bool(self.roles & {Role.operator, Role.admin}) or self.kind == "system"

    @property
    def is_broker(self) -> bool:
        return Role.broker in self.roles

    @property
    def can_write_listings(self) -> bool:
        """Members and admins of an organisation, or its API keys with the write scope."""
        if self.kind == "api_key":
            return KeyScope.write in self.scopes
        return bool(self.roles & {Role.org_admin, Role.org_member})

    @property
    def actor_id(self) -> str | None:
        return str(self.user_id or self.api_key_id) if (self.user_id or self.api_key_id) else None

    def with_request(self, request_id: str | None) -> "Principal":
        from dataclasses import replace

        return replace(self, request_id=request_id)


ANONYMOUS = Principal(kind="anonymous")
