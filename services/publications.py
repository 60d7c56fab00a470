"""Numbered, frozen versions of the two lists: a snapshot of what was published at that moment, its
diff against the previous version, and downloads as CSV, XLSX and JSON."""

import asyncio
import hashlib
import json
import uuid
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.enums import LABELS, ListingStatus, ListKind
from schemas.tables import Organisation, Publication, PublicationEntry
from services import audit, exports, kinds
from services.errors import Conflict, Forbidden, Invalid, NotFound
from services.listings import SPECS
from services.principal import ANONYMOUS, Principal
from services.taxonomy import taxonomy

# Review bookkeeping is not part of what the list publishes, and must not count as a change.
NOT_PUBLISHED = {"status", "rejection_reason", "submitted_at", "created_at", "updated_at", "contact"}


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


async def publish(session: AsyncSession, principal: Principal, kind: ListKind, field: str | None,
                  force: bool = False) -> Publication:
    """The next version of a list; refused (409 `publication.no_changes`) when it would equal the previous
    one, unless `force` (a city may ask for a re-issue with a new number)."""
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
    if previous is not None and hashes == before and not force:
        raise Conflict(f"nothing changed since version {previous.version}; send force to publish anyway",
                       code="publication.no_changes", field="body.force")
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


async def list_publications(session: AsyncSession, kind: ListKind | None, field: str | None = None,
                            limit: int = 500) -> list[Publication]:
    """Newest first; `field` selects one field's own lists (not the whole list's versions)."""
    stmt = select(Publication).order_by(Publication.published_at.desc(), Publication.version.desc())
    if kind:
        stmt = stmt.where(Publication.list_kind == kind)
    if field:
        stmt = stmt.where(Publication.field == taxonomy().check_field(field, "query.field"))
    return list((await session.scalars(stmt.limit(limit))).all())


async def get(session: AsyncSession, publication_id: uuid.UUID) -> Publication:
    publication = await session.get(Publication, publication_id)
    if publication is None:
        raise NotFound("publication not found", code="publication.not_found")
    return publication


async def _before(session: AsyncSession, publication: Publication) -> Publication | None:
    return await session.scalar(
        select(Publication).where(Publication.list_kind == publication.list_kind,
                                  func.coalesce(Publication.field, "") == (publication.field or ""),
                                  Publication.version == publication.version - 1))


async def diff(session: AsyncSession, publication: Publication) -> dict[str, list[uuid.UUID]]:
    """Which listings were added, removed and changed against the version before this one."""
    current = await _entries(session, publication.id)
    before_pub = await _before(session, publication)
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


async def _titles(session: AsyncSession, publication_id: uuid.UUID | None, ids: list[uuid.UUID]) -> dict[str, str]:
    if publication_id is None or not ids:
        return {}
    rows = await session.execute(select(PublicationEntry.listing_id, PublicationEntry.content["title"].astext)
                                 .where(PublicationEntry.publication_id == publication_id,
                                        PublicationEntry.listing_id.in_(ids)))
    return {str(i): title for i, title in rows.all()}


async def download(session: AsyncSession, publication: Publication, fmt: str) -> bytes:
    """The frozen list as a file; the XLSX has a second sheet with the diff against the previous version.
    Rendering is CPU work, done in a thread so the event loop keeps serving."""
    kind = ListKind(publication.list_kind)
    listed = await contents(session, publication)
    if fmt != "xlsx":
        return await asyncio.to_thread(render, kind, listed, fmt)
    changes = await diff(session, publication)
    before = await _before(session, publication)
    titles = {str(c["id"]): c["title"] for c in listed} | await _titles(
        session, before.id if before else None, changes["removed_ids"])
    lines = [[label, str(i), titles.get(str(i), "")]
             for label, key in (("新增", "added_ids"), ("移除", "removed_ids"), ("变更", "changed_ids"))
             for i in changes[key]]
    return await asyncio.to_thread(render, kind, listed, fmt, lines)



# Cells are text, numbers (TRL, amounts) or empty; user text is always text, never a formula.
Cell = str | int | Decimal | None
NEGOTIABLE = "面议"


def _label(value: str | None) -> str:
    return LABELS.get(value, value) if value else ""


def _labels(values: list[str] | None) -> str:
    return "、".join(_label(v) for v in values or [])


def _field(code: str | None) -> str:
    node = taxonomy().fields.get(code) if code else None
    return node.name if node else (code or "")


def _region(code: str | None) -> str:
    region = taxonomy().regions.get(code) if code else None
    return region.name if region else (code or "")


def _amount(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _range(end: str) -> Callable[[dict], Cell]:
    """One end of a price or budget: a number, 面议 when negotiable, empty when that end is open."""
    def cell(money: dict | None) -> Cell:
        money = money or {}
        if money.get("negotiable", True) and money.get("min") is None and money.get("max") is None:
            return NEGOTIABLE
        return _amount(money.get(end))
    return cell


def _ip(records: list[dict] | None) -> str:
    return "；".join(" ".join(filter(None, [_label(r.get("type")), r.get("number"),
                                           f"（{r['title']}）" if r.get("title") else None]))
                    for r in records or [])


def _text(value) -> str:
    return "" if value is None else str(value)


def _challenge(key: str, convert: Callable = _text) -> Callable[[dict], Cell]:
    return lambda challenge: convert(challenge[key]) if challenge else None


_MIN, _MAX = _range("min"), _range("max")
# (header, content key, how the value becomes a cell): what an operator hands to the city.
COLUMNS: dict[ListKind, list[tuple[str, str, Callable]]] = {
    ListKind.achievements: [
        ("编号", "id", _text), ("成果名称", "title", _text), ("完成单位", "organisation_name", _text),
        ("技术领域", "field", _field), ("所在地区", "region", _region), ("技术成熟度(TRL)", "trl", lambda v: v),
        ("所处阶段", "stage", _label), ("转化方式", "transfer_modes", _labels),
        ("转让价格最低(元)", "price", _MIN), ("转让价格最高(元)", "price", _MAX), ("知识产权", "ip", _ip),
        ("关键词", "keywords", _labels), ("成果简介", "summary", _text), ("发布时间", "published_at", _text),
    ],
    ListKind.needs: [
        ("编号", "id", _text), ("需求名称", "title", _text), ("需求单位", "organisation_name", _text),
        ("技术领域", "field", _field), ("所在地区", "region", _region),
        ("最低技术成熟度(TRL)", "required_trl", lambda v: v), ("合作方式", "cooperation_modes", _labels),
        ("预算最低(元)", "budget", _MIN), ("预算最高(元)", "budget", _MAX), ("截止日期", "deadline", _text),
        ("揭榜挂帅", "challenge", lambda c: "是" if c else "否"),
        ("揭榜奖金(元)", "challenge", _challenge("reward", _amount)),
        ("揭榜开始", "challenge", _challenge("opens")), ("揭榜截止", "challenge", _challenge("closes")),
        ("关键词", "keywords", _labels), ("需求描述", "description", _text), ("发布时间", "published_at", _text),
    ],
}
DIFF_HEADER = ["变动", "编号", "名称"]


def rows(kind: ListKind, contents: list[dict]) -> tuple[list[str], list[list[Cell]]]:
    columns = COLUMNS[kind]
    return [h for h, _, _ in columns], [[convert(c.get(key)) for _, key, convert in columns] for c in contents]


def render(kind: ListKind, contents: list[dict], fmt: str, changes: list[list[str]] | None = None) -> bytes:
    if fmt == "json":
        return json.dumps(contents, ensure_ascii=False, indent=1).encode()
    header, body = rows(kind, contents)
    if fmt == "csv":
        return exports.to_csv(header, body)
    if fmt == "xlsx":
        return exports.to_xlsx((kinds.of(kind).list_title, header, body), ("与上一版比较", DIFF_HEADER, changes or []))
    raise Invalid("format is csv, xlsx or json", code="publication.invalid_format", field="query.format")
