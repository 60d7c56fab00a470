"""Numbered, frozen versions of the two lists: a snapshot of what was published at that moment, its
diff against the previous version, and downloads as CSV, XLSX and JSON."""

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Iterable

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.enums import LABELS, ListingStatus, ListKind
from schemas.tables import Organisation, Publication, PublicationEntry
from services import audit
from services.errors import Forbidden, Invalid, NotFound
from services.listings import SPECS
from services.principal import ANONYMOUS, Principal
from services.taxonomy import taxonomy

# Review bookkeeping is not part of what the list publishes, and must not count as a change.
NOT_PUBLISHED = {"status", "rejection_reason", "submitted_at", "created_at", "updated_at", "contact"}
COLUMNS = {
    ListKind.achievements: ["id", "title", "organisation_name", "field", "field_name", "region", "trl", "stage",
                            "transfer_modes", "price", "keywords", "summary", "published_at"],
    ListKind.needs: ["id", "title", "organisation_name", "field", "field_name", "region", "required_trl",
                     "cooperation_modes", "budget", "deadline", "keywords", "description", "published_at"],
}


def _content(kind: ListKind, row, org_name: str) -> dict:
    public = SPECS[kind].read(row, org_name, ANONYMOUS).model_dump(mode="json", exclude=NOT_PUBLISHED)
    return public


def _hash(content: dict) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


async def _previous(session: AsyncSession, kind: ListKind, field: str | None) -> Publication | None:
    stmt = (select(Publication).where(Publication.list_kind == kind,
                                      Publication.field.is_(None) if field is None else Publication.field == field)
            .order_by(Publication.version.desc()).limit(1))
    return await session.scalar(stmt)


async def _entries(session: AsyncSession, publication_id: uuid.UUID | None) -> dict[uuid.UUID, str]:
    if publication_id is None:
        return {}
    rows = await session.execute(select(PublicationEntry.listing_id, PublicationEntry.content_hash)
                                 .where(PublicationEntry.publication_id == publication_id))
    return dict(rows.all())


async def publish(session: AsyncSession, principal: Principal, kind: ListKind, field: str | None) -> Publication:
    if not principal.is_operator:
        raise Forbidden("operators publish the lists", code="auth.operator_required")
    if field:
        taxonomy().check_field(field, "body.field")
    # One publisher per list at a time, so versions are consecutive and diffs compare with the right one.
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"{kind}:{field}"})
    spec = SPECS[kind]
    table = spec.table
    stmt = (select(table, Organisation.name).join(Organisation, Organisation.id == table.organisation_id)
            .where(table.status == ListingStatus.published).order_by(table.published_at, table.id))
    if field:
        stmt = stmt.where((table.field == field) | table.field.startswith(field + "."))
    snapshot = {row.id: _content(kind, row, name) for row, name in (await session.execute(stmt)).all()}
    previous = await _previous(session, kind, field)
    before = await _entries(session, previous.id if previous else None)
    hashes = {listing_id: _hash(content) for listing_id, content in snapshot.items()}
    publication = Publication(
        list_kind=kind, field=field, version=(previous.version + 1) if previous else 1, published_by=principal.user_id,
        total=len(snapshot), added=len(hashes.keys() - before.keys()), removed=len(before.keys() - hashes.keys()),
        changed=sum(1 for i, h in hashes.items() if i in before and before[i] != h),
    )
    session.add(publication)
    await session.flush()
    session.add_all(PublicationEntry(publication_id=publication.id, listing_id=i, content_hash=hashes[i],
                                     content=snapshot[i]) for i in snapshot)
    audit.record(session, principal, "publication.published", "publication", publication.id,
                 {"version": {"before": None, "after": publication.version},
                  "list_kind": {"before": None, "after": kind.value}})
    return publication


async def list_publications(session: AsyncSession, kind: ListKind | None) -> list[Publication]:
    stmt = select(Publication).order_by(Publication.published_at.desc(), Publication.version.desc())
    if kind:
        stmt = stmt.where(Publication.list_kind == kind)
    return list((await session.scalars(stmt.limit(500))).all())


async def get(session: AsyncSession, publication_id: uuid.UUID) -> Publication:
    publication = await session.get(Publication, publication_id)
    if publication is None:
        raise NotFound("publication not found", code="publication.not_found")
    return publication


async def diff(session: AsyncSession, publication: Publication) -> dict[str, list[uuid.UUID]]:
    """Which listings were added, removed and changed against the version before this one."""
    current = await _entries(session, publication.id)
    before_pub = await session.scalar(
        select(Publication).where(Publication.list_kind == publication.list_kind,
                                  func.coalesce(Publication.field, "") == (publication.field or ""),
                                  Publication.version == publication.version - 1))
    before = await _entries(session, before_pub.id if before_pub else None)
    return {
        "added_ids": sorted(current.keys() - before.keys()),
        "removed_ids": sorted(before.keys() - current.keys()),
        "changed_ids": sorted(i for i, h in current.items() if i in before and before[i] != h),
    }


async def contents(session: AsyncSession, publication: Publication) -> list[dict]:
    rows = await session.scalars(select(PublicationEntry.content)
                                 .where(PublicationEntry.publication_id == publication.id))
    return sorted(rows.all(), key=lambda c: (c.get("published_at") or "", c["id"]))


def _cell(name: str, content: dict) -> str:
    if name == "field_name":
        node = taxonomy().fields.get(content.get("field"))
        return node.name if node else ""
    value = content.get(name)
    if name in ("price", "budget") and isinstance(value, dict):
        if value.get("min") is None and value.get("max") is None:
            return "面议"
        return f"{value.get('min') or ''}–{value.get('max') or ''}"
    if isinstance(value, list):
        return "、".join(LABELS.get(v, v) if isinstance(v, str) else str(v) for v in value)
    if name == "stage" and value:
        return LABELS.get(value, value)
    return "" if value is None else str(value)


def rows(kind: ListKind, contents: Iterable[dict]) -> tuple[list[str], list[list[str]]]:
    header = COLUMNS[kind]
    return header, [[_cell(name, content) for name in header] for content in contents]


def render(kind: ListKind, contents: list[dict], fmt: str) -> bytes:
    if fmt == "json":
        return json.dumps(contents, ensure_ascii=False, indent=1).encode()
    header, body = rows(kind, contents)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(body)
        return ("\ufeff" + buffer.getvalue()).encode()  # BOM: Excel opens UTF-8 Chinese correctly
    if fmt == "xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(kind.value)
        sheet.append(header)
        for line in body:
            sheet.append(line)
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()
    raise Invalid("format is csv, xlsx or json", code="publication.invalid_format", field="query.format")
