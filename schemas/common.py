"""Shapes shared by every resource: the problem document, pages, money."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, ClassVar, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
)
from typing_extensions import TypeAliasType

from schemas.validators import storable_datetime

T = TypeVar("T")

# Any JSON value, named, so clients get a recursive type instead of `unknown` (audit changes).
JsonValue = TypeAliasType(
    "JsonValue", "str | int | float | bool | None | list[JsonValue] | dict[str, JsonValue]")

# Money travels as a decimal string with two places ("1500000.00"): exact, and safe for JavaScript.
Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2, examples=["500000.00"]),
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json"),
]

# A datetime from a client (body or query): its UTC instant must exist, or the database driver fails.
Instant = Annotated[datetime, AfterValidator(storable_datetime)]


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. `body.price.min`")
    message: str
    type: str = Field(description="Machine-readable reason, e.g. `missing`, `string_too_long`")


class Problem(BaseModel):
    """RFC 9457 problem details, the one error format of the API."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "https://market.example.cn/problems/need.not_found",
                    "title": "Not Found",
                    "status": 404,
                    "detail": "need 5f0c… not found",
                    "code": "need.not_found",
                    "request_id": "b7c1e0a2c3d44c0e",
                }
            ]
        }
    )

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    code: str = Field(description="Stable, machine-readable error code a client can switch on")
    instance: str | None = None
    request_id: str | None = None
    field: str | None = Field(None, description="The offending field, when there is one")
    errors: list[FieldError] | None = Field(None, description="Every offending field, for validation errors")


class Page(BaseModel, Generic[T]):
    """A page of a list in a stable order; pass `next_cursor` back as `cursor` for the next one."""

    items: list[T]
    next_cursor: str | None = Field(None, description="Opaque cursor of the next page; null on the last")


class Patch(BaseModel):
    """A PATCH body: only the fields sent change, and `null` only clears a field that may be empty."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*")
    @classmethod
    def _null_only_where_allowed(cls, value, info: ValidationInfo):
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("cannot be null; leave the field out to keep it")
        return value
