"""Bulk upsert of listings from JSON Lines or CSV, the way universities post from their own systems.

Upsert by (organisation, external_id): running the same file again changes nothing. Every row is
validated before anything is written; a bad row is reported (row number, field, reason) and
skipped whole, and the good rows land, each reported with its id. A file of more than
`import_sync_max_rows` rows becomes a background job (stored here, imported by the worker in chunks).

CSV files may be UTF-8 (with or without BOM), GB18030/GBK or Big5, as Chinese office software and
university systems write them; the columns are described in `CSV_COLUMNS` (and in the API docs).
"""

import asyncio
import codecs
import csv
import dataclasses
import functools
import io
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Text, cast, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from schemas.enums import ListingStatus, ListKind
from schemas.imports import ImportedRow, ImportJob, ImportJobRead, ImportReport, ImportStatus, JobStatus, RowError
from schemas.listings import AchievementCreate, NeedCreate
from schemas.tables import Organisation
from schemas.validators import FORBIDDEN_CHARACTERS_MESSAGE, find_forbidden_characters
from services import audit, outbox
from services.errors import DomainError, Forbidden, Invalid, NotFound
from services.listings import SPECS
from services.listings.rules import today, validate_codes
from services.listings.writes import edit
from services.principal import Principal
from services.progress import SILENT, Progress

MAX_ROWS = 10_000
CHUNK_ROWS = 500
# Rows written between two flushes. A flush's round trips hand the event loop to the other requests. A row
# costs ~2.5 ms of ORM work on the loop: a thousand flushed at the commit held an API process for ~2.5 s
# (`/health` included), 20 per flush ~50 ms at a time, 5 per flush ~14 ms (the import takes as long). The
# worker's jobs and `market import` flush as often: a round trip per 5 rows, ~1.5 s more per 10,000 rows.
ROWS_PER_FLUSH = 5
CREATE_MODELS = {ListKind.achievements: AchievementCreate, ListKind.needs: NeedCreate}
LIST_SEPARATORS = (";", "；", "|", "、")
CSV_LISTS = {"keywords", "secondary_fields", "transfer_modes", "team", "cooperation_modes"}
CSV_GROUPS = {"price": "price_", "budget": "budget_", "contact": "contact_", "challenge": "challenge_"}
CSV_COLUMNS = """\
One row a listing, a header row naming the columns (any order; empty cells are left out). The file may
be UTF-8 (with or without BOM), GB18030 / GBK or Big5.

| column | example | notes |
|---|---|---|
| `external_id` | `SCU-2024-001` | required: the id in your own system, the upsert key |
| `title`, `summary`, `description` | | text |
| `field`, `region` | `现代农业`, `郫都区` | a code or a Chinese name, either script |
| `keywords`, `team`, `secondary_fields` | `膜电极;燃料电池` | lists: separated by `;` `；` `\\|` or `、` |
| `transfer_modes` / `cooperation_modes` | `许可;合作开发` | codes or Chinese labels |
| `trl`, `required_trl` | `6` | 1–9 |
| `stage` | `中试` | `lab` `bench` `pilot` `production` or 实验室 小试 中试 产业化 |
| `price_negotiable`, `price_min`, `price_max` | `false`, `500000.00` | also `budget_…` for needs; `是`/`否` work |
| `contact_name`, `contact_phone`, `contact_email` | `张老师` | |
| `ip` | `发明专利:ZL202110123456.7:一种嫩芽识别方法; 软件著作权:2023SR0123456` | see below |
| `attachments` | `成果简介:https://example.cn/a.pdf; 检测报告:https://example.cn/b.pdf` | `title:url`; `;` between |
| `deadline`, `challenge_reward`, `challenge_opens`, `challenge_closes` | `2027-06-30` | needs |
| `confidential` | `是` | needs |

IP records (`ip`): separated by `;` `；` or `|`, each `type:number:title` (`：` works too; number and title
may be left out: `技术秘密`). The type is a code (`invention_patent`) or its label (发明专利, 實用新型,
软件著作权, 集成电路布图设计, 植物新品种, 技术秘密); patent numbers are checked (check digit).
"""
_IP_SEPARATORS = re.compile(r"[;；|\n]")
_ATTACHMENT = re.compile(r"^(.*?)\s*[:：]\s*(https?://\S+)$")


# --- reading a file -----------------------------------------------------------------------------

def _plausibility(text: str) -> float:
    """The share of a text's CJK characters that are common ones (GB2312 level 1 or Big5 level 1):
    text decoded with the wrong table turns into rare characters, kana and symbols."""
    cjk = common = 0
    for char in text:
        if char.isascii() or not char.isprintable() and char not in "\r\n\t":
            continue
        cjk += 1
        try:
            if 0xB0 <= char.encode("gb2312")[0] <= 0xD7:
                common += 1
                continue
        except UnicodeEncodeError:
            pass
        try:
            if 0xA4 <= char.encode("big5")[0] <= 0xC6:
                common += 1
        except UnicodeEncodeError:
            pass
    return common / cjk if cjk else 1.0


def decode(content: bytes) -> str:
    """UTF-8 (BOM or not), else whichever of GB18030 and Big5 decodes strictly into the more plausible
    Chinese text (GB18030 on a tie: it is what mainland office software writes)."""
    if content.startswith(codecs.BOM_UTF8):
        content = content[len(codecs.BOM_UTF8):]
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    decoded = []
    for rank, encoding in enumerate(("gb18030", "big5")):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        decoded.append((_plausibility(text), -rank, text))
    if not decoded:
        raise Invalid("the file is neither UTF-8, GB18030 nor Big5 text", code="import.bad_encoding", field="file")
    return max(decoded)[2]


def parse(content: bytes, fmt: str) -> list[dict[str, Any]]:
    """Rows as dicts; a row that is not even JSON becomes a dict with `__error__`."""
    text = decode(content)
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


def _ip_records(value: str) -> list[dict[str, str]]:
    """`发明专利:ZL202110123456.7:一种嫩芽识别方法; 软件著作权:2023SR0123456` → IP records."""
    records = []
    for entry in _IP_SEPARATORS.split(value):
        parts = [p.strip() for p in re.split(r"[:：]", entry.strip(), maxsplit=2)]
        if parts[0]:
            record = {"type": parts[0]}
            if len(parts) > 1 and parts[1]:
                record["number"] = parts[1]
            if len(parts) > 2 and parts[2]:
                record["title"] = parts[2]
            records.append(record)
    return records


def _attachments(value: str) -> list[dict[str, str]] | str:
    found = [_ATTACHMENT.match(entry.strip()) for entry in re.split(r"[;；\n]", value) if entry.strip()]
    if not all(found):
        return value  # left for validation to refuse, naming the column
    return [{"title": m.group(1) or m.group(2), "url": m.group(2)} for m in found]


def _csv_row(row: dict[str, str | None]) -> dict[str, Any]:
    """Flat CSV columns (`price_min`, `contact_name`, `keywords` as `a;b`, `ip`) to the JSON shape."""
    out: dict[str, Any] = {}
    for key, raw in row.items():
        if key is None or raw is None or raw.strip() == "":
            continue
        key = key.strip()
        value: Any = raw.strip()
        if key in CSV_LISTS:
            value = _split(value)
        elif key == "ip":
            value = _ip_records(value)
        elif key == "attachments":
            value = _attachments(value)
        elif value.lower() in ("true", "false", "是", "否"):
            value = value.lower() in ("true", "是")
        group = next((g for g, prefix in CSV_GROUPS.items() if key.startswith(prefix)), None)
        if group:
            out.setdefault(group, {})[key[len(CSV_GROUPS[group]):]] = value
        else:
            out[key] = value
    return out


# --- validating rows ----------------------------------------------------------------------------

@dataclass
class Plan:
    report: ImportReport
    valid: list[tuple[int, Any, dict]] = field(default_factory=list)  # (row number, model, raw row)


def _fail(report: ImportReport, number: int, external_id: str | None, field_name: str | None, message: str) -> None:
    report.errors.append(RowError(row=number, external_id=external_id, field=field_name, message=message))


def validate(kind: ListKind, rows: list[dict], ignore: set[str] = frozenset(), first_row: int = 1) -> Plan:
    plan = Plan(ImportReport(total=len(rows), created=0, updated=0, unchanged=0, failed=0, errors=[]))
    seen: set[str] = set()
    for number, raw in enumerate(rows, first_row):
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


# --- writing ------------------------------------------------------------------------------------

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
    for position, (number, model, raw) in enumerate(plan.valid):
        if position and not position % ROWS_PER_FLUSH:
            await session.flush()
        values = spec.columns(model)
        row = existing.get(model.external_id)
        fail = functools.partial(_fail, report, number, model.external_id)
        if row is None:
            status = status_of(raw)
            row = spec.table(organisation_id=org.id, status=status, **values)
            if status in (ListingStatus.submitted, ListingStatus.published):
                try:
                    spec.check_publishable(row, today(now))
                except DomainError as exc:
                    fail(exc.field, exc.detail)
                    continue
                row.submitted_at = now
            if status == ListingStatus.published:
                row.published_at = now
            session.add(row)
            audit.record(session, principal, f"{spec.noun}.created", spec.noun, row.id, audit.diff({}, values))
            outbox.emit(session, f"{spec.noun}.created", spec.noun, row.id)
            report.created += 1
            action = "created"
        else:
            try:
                async with session.begin_nested():
                    changed = edit(session, principal, spec, row, values)
            except DomainError as exc:
                fail((exc.field or "").removeprefix("body.") or None, exc.detail)
                continue
            action = "updated" if changed else "unchanged"
            setattr(report, action, getattr(report, action) + 1)
        report.items.append(ImportedRow(row=number, external_id=model.external_id, id=row.id, action=action))
    return report.settle()


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


async def _acting_for(session: AsyncSession, principal: Principal, organisation_id: uuid.UUID | None) -> Principal:
    """The principal the rows are written as: the caller for its own organisation, or an operator acting
    for the organisation named (the audit trail shows the operator, under that organisation)."""
    if organisation_id is None or organisation_id == principal.organisation_id:
        return principal
    if not principal.is_operator:
        raise Forbidden("only operators import for another organisation", code="import.forbidden",
                        field="query.organisation_id")
    org = await session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound("organisation not found", code="organisation.not_found", field="query.organisation_id")
    return dataclasses.replace(principal, organisation_id=org.id, org_kind=org.kind)


def _merge(totals: ImportReport, report: ImportReport) -> None:
    for name in ("created", "updated", "unchanged"):
        setattr(totals, name, getattr(totals, name) + getattr(report, name))
    totals.items += report.items
    totals.errors += report.errors


def rejected(report: ImportReport) -> Invalid:
    """Nothing landed: a 422 whose errors name every row's problem."""
    return Invalid(f"no row was imported: {report.failed} of {report.total} failed", code="import.rejected",
                   field="file", errors=[{"field": f"row {e.row}" + (f".{e.field}" if e.field else ""),
                                          "message": e.message, "type": "import.row"} for e in report.errors])


async def import_listings(session: AsyncSession, principal: Principal, kind: ListKind, content: bytes, fmt: str,
                          submit: bool, organisation_id: uuid.UUID | None = None,
                          sync_max_rows: int = MAX_ROWS) -> ImportReport | ImportJobRead:
    """A file up to `sync_max_rows` rows is imported now (parsed off the event loop); a larger one is
    stored as a job for the worker, and the job is returned."""
    acting = await _acting_for(session, principal, organisation_id)
    rows = await asyncio.to_thread(parse, content, fmt)
    if len(rows) > MAX_ROWS:
        raise Invalid(f"at most {MAX_ROWS} rows per file; split it", code="import.too_many_rows", field="file")
    spec = SPECS[kind]
    org = await session.get(Organisation, acting.organisation_id) if acting.organisation_id else None
    if org is None or org.kind not in spec.posters:
        raise Forbidden(f"{spec.noun}s are posted by organisations of kind {sorted(spec.posters)}",
                        code=f"{spec.noun}.poster_forbidden")
    if len(rows) > sync_max_rows:
        return await _queue(session, acting, kind, content, fmt, submit, len(rows))
    status = ListingStatus.submitted if submit else ListingStatus.draft
    plan = await asyncio.to_thread(validate, kind, rows)
    report = await apply(session, acting, kind, plan, lambda _: status)
    if report.status == ImportStatus.rejected:
        raise rejected(report)
    _record(session, acting, org.id, report)
    return report


def _record(session: AsyncSession, acting: Principal, org_id: uuid.UUID, report: ImportReport) -> None:
    audit.record(session, acting, "import.completed", "organisation", org_id, {
        name: {"before": None, "after": getattr(report, name)}
        for name in ("status", "total", "created", "updated", "unchanged", "failed")})


async def import_in_chunks(ctx, organisation: Organisation, kind: ListKind, rows: list[dict],
                           progress: Progress = SILENT, chunk_size: int = CHUNK_ROWS) -> ImportReport:
    """`market import`: the same upsert as the API, one transaction per chunk, so a large file lands
    piece by piece; new listings go to review."""
    principal = Principal(kind="system", organisation_id=organisation.id, org_kind=organisation.kind)
    totals = ImportReport(total=len(rows), created=0, updated=0, unchanged=0, failed=0, errors=[])
    progress.start(len(rows))
    for start in range(0, len(rows), chunk_size):
        chunk = rows[start:start + chunk_size]
        plan = await asyncio.to_thread(validate, kind, chunk, frozenset(), start + 1)
        async with ctx.sessions() as session, session.begin():
            _merge(totals, await apply(session, principal, kind, plan, lambda _: ListingStatus.submitted))
        progress.advance(len(chunk))
    return totals.settle()


# --- background jobs ----------------------------------------------------------------------------

async def _queue(session: AsyncSession, acting: Principal, kind: ListKind, content: bytes, fmt: str, submit: bool,
                 total: int) -> ImportJobRead:
    job = ImportJob(organisation_id=acting.organisation_id, list_kind=kind.value, format=fmt, submit=submit,
                    content=content, total=total, actor={
                        "kind": acting.kind, "user_id": str(acting.user_id) if acting.user_id else None,
                        "api_key_id": str(acting.api_key_id) if acting.api_key_id else None,
                        "request_id": acting.request_id})
    session.add(job)
    await session.flush()
    audit.record(session, acting, "import_job.queued", "import_job", job.id,
                 {"total": {"before": None, "after": total}, "list_kind": {"before": None, "after": kind.value}})
    outbox.emit(session, "import_job.queued", "import_job", job.id)
    return job_read(job)


def _submitted(_: dict) -> ListingStatus:
    return ListingStatus.submitted


def _draft(_: dict) -> ListingStatus:
    return ListingStatus.draft


def job_read(job: ImportJob) -> ImportJobRead:
    """The job, its report aside (see get_job)."""
    return ImportJobRead(id=job.id, list_kind=job.list_kind, organisation_id=job.organisation_id, status=job.status,
                         total=job.total, processed=job.processed, error=job.error,
                         created_at=job.created_at, finished_at=job.finished_at)


async def get_job(session: AsyncSession, principal: Principal, job_id: uuid.UUID) -> tuple[ImportJobRead, str | None]:
    """The organisation's own jobs and, for operators, every job; others learn nothing (404). The job, and its
    report as PostgreSQL's JSON text, to be passed on as it is: a done job's report lists up to 10,000 rows,
    and read, validated and serialised again it held an API process's event loop for ~80 ms (`/health`
    included). The file itself is not read."""
    found = (await session.execute(
        select(ImportJob, cast(ImportJob.report, Text)).options(defer(ImportJob.content), defer(ImportJob.report))
        .where(ImportJob.id == job_id))).first()
    if found is None or not (principal.is_operator or principal.organisation_id == found[0].organisation_id):
        raise NotFound("import job not found", code="import_job.not_found")
    job, report = found
    return job_read(job), report


def _job_principal(job: ImportJob, org: Organisation) -> Principal:
    actor = job.actor or {}
    return Principal(kind=actor.get("kind") or "system", organisation_id=org.id, org_kind=org.kind,
                     user_id=uuid.UUID(actor["user_id"]) if actor.get("user_id") else None,
                     api_key_id=uuid.UUID(actor["api_key_id"]) if actor.get("api_key_id") else None,
                     request_id=actor.get("request_id"))


async def handle_import_jobs(ctx, events) -> None:
    """Outbox handler (aggregate_type `import_job`): import each queued job in chunks, one transaction a
    chunk with the job's progress, so a crash resumes where it stopped (rows upsert, so a chunk done
    twice changes nothing). A job that cannot run (its organisation may no longer post) fails."""
    for job_id in dict.fromkeys(uuid.UUID(e.aggregate_id) for e in events):
        async with ctx.sessions() as session:
            job = await session.get(ImportJob, job_id)
            if job is None or job.status in (JobStatus.done, JobStatus.failed):
                continue
            org = await session.get(Organisation, job.organisation_id)
            content, fmt, kind, submit = job.content, job.format, ListKind(job.list_kind), job.submit
        principal = _job_principal(job, org)
        status_of = _submitted if submit else _draft
        try:
            rows = await asyncio.to_thread(parse, content, fmt)
            while True:
                async with ctx.sessions() as session, session.begin():
                    job = await session.get(ImportJob, job_id, with_for_update=True)
                    start = job.processed
                    if start >= len(rows):
                        break
                    chunk = rows[start:start + CHUNK_ROWS]
                    plan = await asyncio.to_thread(validate, kind, chunk, frozenset(), start + 1)
                    report = await apply(session, principal, kind, plan, status_of)
                    totals = ImportReport.model_validate(job.report) if job.report else ImportReport(
                        total=len(rows), created=0, updated=0, unchanged=0, failed=0, errors=[])
                    _merge(totals, report)
                    job.report = totals.settle().model_dump(mode="json")
                    job.status, job.processed = JobStatus.running, start + len(chunk)
        except DomainError as exc:
            async with ctx.sessions() as session, session.begin():
                job = await session.get(ImportJob, job_id, with_for_update=True)
                job.status, job.error, job.finished_at = JobStatus.failed, exc.detail, datetime.now(UTC)
                job.content = b""
                audit.record(session, principal, "import_job.failed", "import_job", job.id,
                             {"error": {"before": None, "after": exc.detail}})
            continue
        async with ctx.sessions() as session, session.begin():
            job = await session.get(ImportJob, job_id, with_for_update=True)
            if job.status in (JobStatus.done, JobStatus.failed):
                continue
            totals = ImportReport.model_validate(job.report) if job.report else ImportReport(
                total=0, created=0, updated=0, unchanged=0, failed=0, errors=[])
            job.report = totals.settle().model_dump(mode="json")
            job.status, job.finished_at, job.content = JobStatus.done, datetime.now(UTC), b""
            _record(session, principal, job.organisation_id, totals)
            audit.record(session, principal, "import_job.done", "import_job", job.id,
                         {"status": {"before": None, "after": totals.status.value}})
