"""Bulk import of listings (JSON Lines or CSV, up to 10,000 rows); large files become background jobs."""

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile, status
from fastapi.responses import JSONResponse, Response

from market.api.deps import AppSettings, Session
from market.auth import Authenticated, ListingWriter
from schemas.enums import ImportFormat, ListKind
from schemas.imports import ImportJobRead, ImportReport
from services import imports

router = APIRouter(prefix="/v1/imports", tags=["imports"])
IMPORT_DESCRIPTION = """Upsert listings of the caller's organisation by `external_id`: the same file twice changes
nothing. Valid rows land; each invalid row is reported with its row number, field and reason.

The answer's `status` says what happened: `accepted` (every row landed), `partial` (some rows are in
`errors`); `items` gives the id and external id of every row created, updated or unchanged. When no
row lands the answer is `422` problem `import.rejected`, whose `errors` name each row's problem
(`row 3.field`). A published listing's substantive change waits for review as a revision.

A file of more than `IMPORT_SYNC_MAX_ROWS` rows (default 1,000) is a background job: `202` with the
job, which `GET /v1/imports/jobs/{id}` follows until `done` (with this same report) or `failed`.

Fields, regions, stages, modes and IP types may be given by code or by Chinese name in either
script. Example CSV: `seed/examples/achievements.csv`.

## CSV columns
""" + imports.CSV_COLUMNS


@router.post("/{list_kind}", response_model=ImportReport, description=IMPORT_DESCRIPTION, responses={
    202: {"model": ImportJobRead, "description": "A large file: queued as a job; poll its `Location`"}})
async def imports_create(
    list_kind: ListKind, principal: ListingWriter, session: Session, settings: AppSettings,
    file: Annotated[UploadFile, File(description="JSON Lines (one listing a line) or CSV with a header row")],
    format: Annotated[ImportFormat | None, Query(description="Default: from the file name")] = None,
    submit: Annotated[bool, Query(description="New listings go to review (else they stay drafts)")] = True,
    organisation_id: Annotated[uuid.UUID | None, Query(
        description="Operators: import for this organisation (audited as the operator acting for it)")] = None,
):
    """Upsert listings by `external_id` (see the description for the answer, the jobs and CSV)."""
    fmt = format or ("csv" if (file.filename or "").lower().endswith(".csv") else "jsonl")
    result = await imports.import_listings(session, principal, list_kind, await file.read(), fmt, submit,
                                           organisation_id, settings.import_sync_max_rows)
    if isinstance(result, ImportJobRead):
        return JSONResponse(result.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED,
                            headers={"Location": f"/v1/imports/jobs/{result.id}"})
    return result


@router.get("/jobs/{job_id}", response_model=ImportJobRead)
async def import_jobs_get(job_id: uuid.UUID, principal: Authenticated, session: Session):
    """A background import: `queued`, `running` (with `processed` of `total` rows), `done` (with the
    report) or `failed` (with the reason). The organisation's users and keys, and operators."""
    job, report = await imports.get_job(session, principal, job_id)
    # The report as stored, not validated again (see imports.get_job), spliced into the job's JSON: PostgreSQL's
    # JSON text, the same fields with its own key order and spacing.
    return Response(f'{job.model_dump_json(exclude={"report"})[:-1]},"report":{report or "null"}}}',
                    media_type="application/json")
