"""Bulk upsert of listings from JSON Lines or CSV, the way universities post from their own systems.

Upsert by (organisation, external_id): running the same file again changes nothing. Every row is
validated before anything is written; a bad row is reported (row number, field, reason) and
skipped whole, and the good rows land.
"""

import csv
import functools
import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.enums import ListingStatus, ListKind
from schemas.imports import ImportReport, RowError
from schemas.listings import AchievementCreate, NeedCreate
from schemas.tables import Organisation
from schemas.validators import FORBIDDEN_CHARACTERS_MESSAGE, find_forbidden_characters
from services import audit, listings, outbox
from services.errors import DomainError, Forbidden, Invalid, NotFound
from services.listings import SPECS, validate_codes
from services.principal import Principal
from services.progress import SILENT, Progress

MAX_ROWS = 10_000
CREATE_MODELS = {ListKind.achievements: AchievementCreate, ListKind.needs: NeedCreate}
LIST_SEPARATORS = (";", "；", "|", "、")
CSV_LISTS = {"keywords", "secondary_fields", "transfer_modes", "team", "cooperation_modes"}
CSV_GROUPS = {"price": "price_", "budget": "budget_", "contact": "contact_", "challenge": "challenge_"}


def parse(content: bytes, fmt: str) -> list[dict[str, Any]]:
    """Rows as dicts; a row that is not even JSON becomes a dict with `__error__`."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid("the file is not UTF-8 text", code="import.bad_encoding", field="file") from exc
    if fmt == "jsonl":
        rows = []
        for line in text.split("\n"):  # not splitlines(): U+2028, U+0085 … are text inside a JSON string
            if not line.strip():
                continue
            try:
                value = json.loads(line)
                rows.append(value if isinstance(value, dict) else {"__error__": "a line must be a JSON object"})
            except json.JSONDecodeError as exc:
                rows.append({"__error__": f"not JSON: {exc.msg}"})
        return rows
    if fmt == "csv":
        return [_csv_row(row) for row in csv.DictReader(io.StringIO(text))]
    raise Invalid("format is jsonl or csv", code="import.bad_format", field="format")


def _split(value: str) -> list[str]:
    for separator in LIST_SEPARATORS:
        value = value.replace(separator, ";")
    return [part.strip() for part in value.split(";") if part.strip()]


def _csv_row(row: dict[str, str | None]) -> dict[str, Any]:
    """Flat CSV columns (`price_min`, `contact_name`, `keywords` as `a;b`) to the JSON shape."""
    out: dict[str, Any] = {}
    for key, raw in row.items():
        if key is None or raw is None or raw.strip() == "":
            continue
        value: Any = raw.strip()
        if key in CSV_LISTS:
            value = _split(value)
        elif value.lower() in ("true", "false", "是", "否"):
            value = value.lower() in ("true", "是")
        group = next((g for g, prefix in CSV_GROUPS.items() if key.startswith(prefix)), None)
        if group:
            out.setdefault(group, {})[key[len(CSV_GROUPS[group]):]] = value
        else:
            out[key] = value
    return out


@dataclass
class Plan:
    report: ImportReport
    valid: list[tuple[int, Any, dict]] = field(default_factory=list)  # (row number, model, raw row)


def _fail(report: ImportReport, number: int, external_id: str | None, field_name: str | None, message: str) -> None:
    report.errors.append(RowError(row=number, external_id=external_id, field=field_name, message=message))


def validate(kind: ListKind, rows: list[dict], ignore: set[str] = frozenset()) -> Plan:
    plan = Plan(ImportReport(total=len(rows), created=0, updated=0, unchanged=0, failed=0, errors=[]))
    seen: set[str] = set()
    for number, raw in enumerate(rows, 1):
        external_id = raw.get("external_id") if isinstance(raw.get("external_id"), str) else None
        fail = functools.partial(_fail, plan.report, number, external_id)
        if "__error__" in raw:
            fail(None, raw["__error__"])
            continue
        if (bad := find_forbidden_characters(raw)) is not None:
            fail(".".join(str(part) for part in bad) or None, FORBIDDEN_CHARACTERS_MESSAGE)
            continue
        if not external_id:
            fail("external_id", "every imported row needs its external_id (the upsert key)")
            continue
        if external_id in seen:
            fail("external_id", "this external_id appears earlier in the file")
            continue
        seen.add(external_id)
        try:
            values = {k: v for k, v in raw.items() if k not in ignore}
            validate_codes(SPECS[kind], values)
            model = CREATE_MODELS[kind].model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            fail(".".join(str(p) for p in first["loc"]) or None, first["msg"])
            continue
        except DomainError as exc:
            fail((exc.field or "").removeprefix("body.") or None, exc.detail)
            continue
        plan.valid.append((number, model, raw))
    return plan


async def apply(session: AsyncSession, principal: Principal, kind: ListKind, plan: Plan,
                status_of: Callable[[dict], ListingStatus]) -> ImportReport:
    """Write the valid rows of a plan for the principal's organisation, in the caller's transaction."""
    spec = SPECS[kind]
    org = await session.get(Organisation, principal.organisation_id) if principal.organisation_id else None
    if org is None or org.kind not in spec.posters:
        raise Forbidden(f"{spec.noun}s are posted by organisations of kind {sorted(spec.posters)}",
                        code=f"{spec.noun}.poster_forbidden")
    # One import per organisation at a time: a retried upload waits for the first instead of racing it
    # into a duplicate external_id.
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"import:{org.id}"})
    ids = [model.external_id for _, model, _ in plan.valid]
    existing = {row.external_id: row for row in (await session.scalars(
        select(spec.table).where(spec.table.organisation_id == org.id, spec.table.external_id.in_(ids))
    )).all()}
    report = plan.report
    now = datetime.now(UTC)
    for number, model, raw in plan.valid:
        values = spec.columns(model)
        row = existing.get(model.external_id)
        if row is None:
            status = status_of(raw)
            row = spec.table(organisation_id=org.id, status=status, **values)
            if status in (ListingStatus.submitted, ListingStatus.published):
                row.submitted_at = now
            if status == ListingStatus.published:
                row.published_at = now
            session.add(row)
            audit.record(session, principal, f"{spec.noun}.created", spec.noun, row.id, audit.diff({}, values))
            outbox.emit(session, f"{spec.noun}.created", spec.noun, row.id)
            report.created += 1
            continue
        try:
            async with session.begin_nested():
                changed = listings.edit(session, principal, spec, row, values)
        except DomainError as exc:
            report.errors.append(RowError(row=number, external_id=model.external_id,
                                          field=(exc.field or "").removeprefix("body.") or None, message=exc.detail))
            continue
        if not changed:
            report.unchanged += 1
            continue
        report.updated += 1
    report.errors.sort(key=lambda e: e.row)
    report.failed = len(report.errors)
    return report


async def import_listings(session: AsyncSession, principal: Principal, kind: ListKind, content: bytes, fmt: str,
                          submit: bool) -> ImportReport:
    rows = parse(content, fmt)
    if len(rows) > MAX_ROWS:
        raise Invalid(f"at most {MAX_ROWS} rows per file; split it", code="import.too_many_rows", field="file")
    status = ListingStatus.submitted if submit else ListingStatus.draft
    return await apply(session, principal, kind, validate(kind, rows), lambda _: status)


async def find_organisation(session: AsyncSession, reference: str) -> Organisation:
    """An organisation by id or by unified social credit code (what an operator has at hand)."""
    try:
        condition = Organisation.id == uuid.UUID(reference)
    except ValueError:
        condition = Organisation.credit_code == reference.strip().upper()
    organisation = await session.scalar(select(Organisation).where(condition))
    if organisation is None:
        raise NotFound(f"no organisation {reference}", code="organisation.not_found", field="org")
    return organisation


async def import_in_chunks(ctx, organisation: Organisation, kind: ListKind, rows: list[dict],
                           progress: Progress = SILENT, chunk_size: int = 500) -> ImportReport:
    """`market import`: the same upsert as the API, one transaction per chunk, so a large file lands
    piece by piece; new listings go to review."""
    principal = Principal(kind="system", organisation_id=organisation.id, org_kind=organisation.kind)
    totals = ImportReport(total=len(rows), created=0, updated=0, unchanged=0, failed=0, errors=[])
    progress.start(len(rows))
    for start in range(0, len(rows), chunk_size):
        chunk = rows[start:start + chunk_size]
        plan = validate(kind, chunk)
        async with ctx.sessions() as session, session.begin():
            report = await apply(session, principal, kind, plan, lambda _: ListingStatus.submitted)
        for name in ("created", "updated", "unchanged", "failed"):
            setattr(totals, name, getattr(totals, name) + getattr(report, name))
        totals.errors += [e.model_copy(update={"row": e.row + start}) for e in report.errors]
        progress.advance(len(chunk))
    return totals
