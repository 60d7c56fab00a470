"""Bulk import of listings (JSON Lines or CSV, up to 10,000 rows)."""

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile

from market.api.deps import Session
from market.auth import ListingWriter
from schemas.enums import ImportFormat, ListKind
from schemas.imports import ImportReport
from services import imports

router = APIRouter(prefix="/v1/imports", tags=["imports"])


@router.post("/{list_kind}", response_model=ImportReport)
async def imports_create(
    list_kind: ListKind, principal: ListingWriter, session: Session,
    file: Annotated[UploadFile, File(description="JSON Lines (one listing a line) or CSV with a header row")],
    format: Annotated[ImportFormat | None, Query(description="Default: from the file name")] = None,
    submit: Annotated[bool, Query(description="New listings go to review (else they stay drafts)")] = True,
):
    """Upsert listings of the caller's organisation by `external_id`: the same file twice changes
    nothing. Valid rows land; each invalid row is reported with its row number, field and reason.
    CSV: list columns separated by `;`, money as `price_min`/`price_max`, contact as `contact_name` …"""
    fmt = format or ("csv" if (file.filename or "").lower().endswith(".csv") else "jsonl")
    return await imports.import_listings(session, principal, list_kind, await file.read(), fmt, submit)
