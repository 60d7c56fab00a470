"""Bulk import: the report of an import, and the table and API model of a background import job."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Column, DateTime, LargeBinary
from sqlmodel import Field as ColumnField
from sqlmodel import SQLModel

from schemas.enums import RowAction
from schemas.tables import _json, _now_column


class RowError(BaseModel):
    row: int = Field(description="1-based row number in the file (the CSV header is row 0)")
    external_id: str | None
    field: str | None = Field(description="The offending field, e.g. `price.min`")
    message: str


class ImportedRow(BaseModel):
    row: int
    external_id: str
    id: uuid.UUID = Field(description="The listing's id")
    action: RowAction = Field(
        description="`updated` on a published listing may mean its substantive edit waits as a revision")


class ImportStatus(StrEnum):
    accepted = "accepted"  # every row landed (created, updated or unchanged)
    partial = "partial"  # some rows landed, the others are in `errors`
    rejected = "rejected"  # nothing landed; a synchronous import answers 422 `import.rejected`


class ImportReport(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "status": "partial", "total": 3, "created": 1, "updated": 1, "unchanged": 0, "failed": 1,
        "items": [
            {"row": 1, "external_id": "SCU-1", "id": "0b6f0c6e-8f4e-4c1e-9d43-0c4b8e2f5a11", "action": "created"},
            {"row": 2, "external_id": "SCU-2", "id": "5c1d2e3f-1111-4c1e-9d43-0c4b8e2f5a12", "action": "updated"}],
        "errors": [{"row": 3, "external_id": "SCU-9", "field": "field", "message": "unknown field 'x'"}]}]}}
    status: ImportStatus = ImportStatus.accepted
    total: int
    created: int
    updated: int
    unchanged: int
    failed: int
    items: list[ImportedRow] = Field(default_factory=list, description="Every row that landed, with its id")
    errors: list[RowError]

    def settle(self) -> "ImportReport":
        """Counts and status from the rows; errors in file order."""
        self.errors.sort(key=lambda e: e.row)
        self.items.sort(key=lambda i: i.row)
        self.failed = len(self.errors)
        landed = self.created + self.updated + self.unchanged
        self.status = (ImportStatus.rejected if not landed else
                       ImportStatus.partial if self.failed else ImportStatus.accepted)
        return self


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class ImportJob(SQLModel, table=True):
    """A large file, stored here until the worker has imported it chunk by chunk."""

    __tablename__ = "import_job"
    id: uuid.UUID = ColumnField(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = ColumnField(foreign_key="organisation.id", index=True)
    list_kind: str
    format: str
    submit: bool = True
    status: str = JobStatus.queued
    content: bytes = ColumnField(sa_column=Column(LargeBinary, nullable=False))
    actor: dict[str, Any] = ColumnField(default_factory=dict, sa_column=_json())  # who asked, for the audit
    total: int = 0
    processed: int = 0
    report: dict[str, Any] | None = ColumnField(default=None, sa_column=_json(nullable=True))
    error: str | None = None
    created_at: datetime = ColumnField(sa_column=_now_column())
    finished_at: datetime | None = ColumnField(default=None, sa_column=Column(DateTime(timezone=True)))


class ImportJobRead(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "id": "7d3c7a1e-2f4b-4c55-8a57-1d2b3c4d5e6f", "list_kind": "achievements",
        "organisation_id": "0b6f0c6e-8f4e-4c1e-9d43-0c4b8e2f5a11", "status": "running", "total": 10000,
        "processed": 3500, "report": None, "error": None, "created_at": "2026-12-01T08:00:00+00:00",
        "finished_at": None}]}}
    id: uuid.UUID
    list_kind: str
    organisation_id: uuid.UUID
    status: JobStatus
    total: int = Field(description="Rows in the file")
    processed: int = Field(description="Rows done so far")
    report: ImportReport | None = Field(None, description="When done: the same report a small import answers")
    error: str | None = Field(None, description="When failed: why")
    created_at: datetime
    finished_at: datetime | None
