"""API models for organisations, users, credentials and the audit log."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from schemas.common import JsonValue, Patch
from schemas.enums import CallerKind, KeyScope, OrgKind, Role
from schemas.validators import validate_credit_code

_FORBID = ConfigDict(extra="forbid")  # a field the client may not set is a 422, never silently applied


class Contact(BaseModel):
    model_config = _FORBID
    name: str | None = Field(None, max_length=100, examples=["张老师"])
    phone: str | None = Field(None, max_length=40, examples=["028-85400000"])
    email: str | None = Field(None, max_length=200, examples=["tto@scu.example.cn"])


class OrganisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "kind": "university", "name": "四川大学", "credit_code": "12100000450718488J", "region": "cd.wuhou",
        "contact": {"name": "张老师", "phone": "028-85400000", "email": "tto@scu.example.cn"},
    }]})
    kind: OrgKind
    name: str = Field(min_length=2, max_length=200)
    credit_code: str | None = Field(None, description="统一社会信用代码, 18 characters, check digit validated")
    region: str | None = Field(None, max_length=40, examples=["cd.wuhou"])
    contact: Contact = Contact()

    @field_validator("credit_code")
    @classmethod
    def _credit_code(cls, value: str | None) -> str | None:
        return validate_credit_code(value) if value is not None else None


class OrganisationUpdate(Patch):
    nullable = frozenset({"credit_code", "region"})
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"region": "cd.hightech"}]})
    name: str | None = Field(None, min_length=2, max_length=200)
    credit_code: str | None = None
    region: str | None = Field(None, max_length=40)
    contact: Contact | None = None

    @field_validator("credit_code")
    @classmethod
    def _credit_code(cls, value: str | None) -> str | None:
        return validate_credit_code(value) if value is not None else None


class OrganisationRead(BaseModel):
    id: uuid.UUID
    kind: OrgKind
    name: str
    credit_code: str | None
    region: str | None
    contact: Contact | None = Field(None, description="Only for the organisation itself and operators")
    created_at: datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "email": "li.wei@scu.example.cn", "display_name": "李伟", "password": "correct horse battery",
        "roles": ["org_member"],
    }]})
    email: EmailStr
    display_name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=10, max_length=200)
    roles: list[Role] = Field(default_factory=lambda: [Role.org_member], min_length=1)


class UserUpdate(Patch):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"roles": ["org_admin"]}]})
    display_name: str | None = Field(None, min_length=1, max_length=100)
    roles: list[Role] | None = Field(None, min_length=1)
    active: bool | None = None
    password: str | None = Field(None, min_length=10, max_length=200)


class UserRead(BaseModel):
    id: uuid.UUID
    organisation_id: uuid.UUID
    email: str
    display_name: str
    roles: list[Role]
    active: bool
    created_at: datetime


class OrganisationWithAdmin(BaseModel):
    organisation: OrganisationRead
    admin: UserRead | None


class OrganisationRegister(OrganisationCreate):
    """An organisation with its first administrator (created by operators)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "kind": "enterprise", "name": "成都天府茶业有限公司", "credit_code": "91510100MA6C4XKX8Q",
        "region": "cd.pujiang", "admin": {"email": "boss@tea.example.cn", "display_name": "王总",
                                          "password": "correct horse battery", "roles": ["org_admin"]},
    }]})
    admin: UserCreate | None = None


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "email": "admin@market.example.cn", "password": "the printed password"}]})
    email: str = Field(max_length=200)
    password: str = Field(max_length=200)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "refresh_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9…"}]})
    refresh_token: str = Field(max_length=2000)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires", examples=[900])


class Me(BaseModel):
    kind: CallerKind = Field(examples=["user"])
    user: UserRead | None
    api_key_id: uuid.UUID | None
    organisation: OrganisationRead
    roles: list[str]
    scopes: list[str]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "科研管理系统同步", "scopes": ["read", "write"]}]})
    name: str = Field(min_length=1, max_length=100)
    scopes: list[KeyScope] = Field(default_factory=lambda: [KeyScope.read], min_length=1)


class ApiKeyRead(BaseModel):
    id: uuid.UUID
    organisation_id: uuid.UUID
    name: str
    prefix: str = Field(description="The visible part of the key, to tell keys apart")
    scopes: list[KeyScope]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The whole key, shown once: send it as the `X-API-Key` header")


class AuditEventRead(BaseModel):
    id: int
    at: datetime
    actor_type: str
    actor_id: str | None
    organisation_id: uuid.UUID | None
    action: str
    object_type: str
    object_id: str
    changes: dict[str, JsonValue]
    request_id: str | None
