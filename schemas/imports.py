"""API models of bulk import."""

from pydantic import BaseModel, Field


class RowError(BaseModel):
    row: int = Field(description="1-based row number in the file (the CSV header is row 0)")
    external_id: str | None
    field: str | None = Field(description="The offending field, e.g. `price.min`")
    message: str


class ImportReport(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "total": 3, "created": 1, "updated": 1, "unchanged": 0, "failed": 1,
        "errors": [{"row": 3, "external_id": "SCU-9", "field": "field", "message": "unknown field code 'x'"}]}]}}
    total: int
    created: int
    updated: int
    unchanged: int
    failed: int
    errors: list[RowError]
