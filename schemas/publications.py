"""API models of the published two lists (两张清单)."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from schemas.enums import ListKind


class PublicationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"list_kind": "achievements"}, {"list_kind": "needs", "field": "advanced_energy"}]})
    list_kind: ListKind
    field: str | None = Field(None, max_length=80, description="Publish the list of one field (with sub-fields)")
    force: bool = Field(False, description="Publish a new version even when nothing changed since the previous "
                                          "one (otherwise 409 `publication.no_changes`)")


class PublicationRead(BaseModel):
    id: uuid.UUID
    list_kind: ListKind
    field: str | None
    version: int = Field(description="1, 2, 3… per list (and per field)")
    published_at: datetime
    total: int
    added: int = Field(description="Listings new since the previous version")
    removed: int
    changed: int


class PublicationDetail(PublicationRead):
    added_ids: list[uuid.UUID]
    removed_ids: list[uuid.UUID]
    changed_ids: list[uuid.UUID]
