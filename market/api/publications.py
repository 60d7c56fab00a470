"""The published two lists (两张清单) and their downloads."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from market.api.deps import Session, file_content
from market.auth import Operator
from schemas.enums import DownloadFormat, ListKind
from schemas.publications import PublicationCreate, PublicationDetail, PublicationRead
from services import publications
from services.exports import MEDIA

router = APIRouter(prefix="/v1/publications", tags=["publications"])


@router.post("", response_model=PublicationDetail, status_code=status.HTTP_201_CREATED)
async def publications_create(body: PublicationCreate, principal: Operator, session: Session):
    """Publish the next numbered version of a list (optionally one field's): a frozen snapshot of the
    listings published right now, with what was added, removed and changed since the previous one.
    When nothing changed the answer is 409 `publication.no_changes`; send `"force": true` to re-issue."""
    publication = await publications.publish(session, principal, body.list_kind, body.field, body.force)
    return PublicationDetail(**PublicationRead.model_validate(publication, from_attributes=True).model_dump(),
                             **await publications.diff(session, publication))


@router.get("", response_model=list[PublicationRead])
async def publications_list(
    session: Session, list_kind: ListKind | None = None,
    field: Annotated[str | None, Query(max_length=80, description="Only the lists of this one field")] = None,
):
    """Every published version, newest first (the latest 500)."""
    return [PublicationRead.model_validate(p, from_attributes=True)
            for p in await publications.list_publications(session, list_kind, field)]


@router.get("/{publication_id}", response_model=PublicationDetail)
async def publications_get(publication_id: uuid.UUID, session: Session):
    """One version with the ids added, removed and changed against the version before it."""
    publication = await publications.get(session, publication_id)
    return PublicationDetail(**PublicationRead.model_validate(publication, from_attributes=True).model_dump(),
                             **await publications.diff(session, publication))


# The JSON download is the frozen listings as they were published (the public read shape).
JSON_SCHEMA = {"type": "array", "items": {"anyOf": [{"$ref": "#/components/schemas/AchievementRead"},
                                                    {"$ref": "#/components/schemas/NeedRead"}]}}


@router.get("/{publication_id}/download", response_class=Response,
            responses={200: {"content": {**file_content("csv", "xlsx"), MEDIA["json"]: {"schema": JSON_SCHEMA}},
                             "description": "The frozen list as a file"}})
async def publications_download(
    publication_id: uuid.UUID, session: Session,
    format: Annotated[DownloadFormat, Query(description="File format")] = DownloadFormat.csv,
):
    """Download a version (older versions stay downloadable, unchanged). CSV and XLSX have Chinese headers
    and labels; in the XLSX, TRL and amounts are number cells (面议 where negotiable) and a second sheet
    lists what was added (新增), removed (移除) and changed (变更) against the previous version. Text is
    never a formula: XLSX cells are typed text, CSV cells that could start one are prefixed with `'`."""
    publication = await publications.get(session, publication_id)
    body = await publications.download(session, publication, format)
    name = f"{publication.list_kind}-v{publication.version}{'-' + publication.field if publication.field else ''}"
    return Response(body, media_type=MEDIA[format],
                    headers={"Content-Disposition": f'attachment; filename="{name}.{format}"'})
