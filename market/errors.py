"""problem+json (RFC 9457): the error types, their codes, and the handlers — in one place."""

import logging
from functools import cache
from http import HTTPStatus

import yaml
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from market.settings import PROJECT_ROOT
from schemas.common import FieldError, Problem
from services.db import DATABASE_ERRORS, is_connection_error
from services.errors import DomainError, RateLimited
from services.search.client import SearchError, SearchUnavailable

log = logging.getLogger("market.errors")
PROBLEM_TYPE_BASE = "https://market.example.cn/problems/"
MEDIA_TYPE = "application/problem+json"

_HTTP_CODES = {
    400: "bad_request", 401: "auth.unauthenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 413: "request.too_large", 415: "request.unsupported_media_type",
    429: "rate_limited",
}


@cache
def problem_messages() -> dict:
    """Chinese titles by status and details by code: data, in seed/i18n/problems.zh.yaml."""
    return yaml.safe_load((PROJECT_ROOT / "seed/i18n/problems.zh.yaml").read_text(encoding="utf-8"))


def wants_chinese(accept_language: str) -> bool:
    """True when the caller's most preferred language (RFC 9110 q-values) is Chinese."""
    best, best_q = "", 0.0
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        try:
            q = float(params.strip().removeprefix("q=")) if params.strip().startswith("q=") else 1.0
        except ValueError:
            continue
        if q > best_q or (q == best_q and position == 0):
            best, best_q = tag.strip().lower(), q
    return best_q > 0 and (best == "zh" or best.startswith("zh-"))


def problem(request: Request, status: int, code: str, detail: str | None = None, **fields) -> JSONResponse:
    title = HTTPStatus(status).phrase
    if wants_chinese(request.headers.get("accept-language", "")):
        messages = problem_messages()  # codes stay the same in every language; only the words change
        title = messages["titles"].get(status, title)
        detail = messages["details"].get(code, detail)
    body = Problem(
        type=PROBLEM_TYPE_BASE + code,
        title=title,
        status=status,
        detail=detail,
        code=code,
        instance=request.url.path,
        request_id=getattr(request.state, "request_id", None),
        **fields,
    )
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, media_type=MEDIA_TYPE)


def _loc(loc: tuple) -> str:
    return ".".join(str(part) for part in loc)


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [FieldError(field=_loc(e["loc"]), message=e["msg"], type=e["type"]) for e in exc.errors()]
    first = errors[0].field if errors else None
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
    return problem(request, 422, "validation_failed", detail, field=first, errors=errors)


async def _domain(request: Request, exc: DomainError) -> JSONResponse:
    response = problem(request, exc.status, exc.code, exc.detail, field=exc.field, errors=exc.extra.get("errors"))
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.extra.get("retry_after", 60))
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    detail = exc.detail if isinstance(exc.detail, str) else None
    response = problem(request, exc.status_code, code, detail)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


async def _search_down(request: Request, exc: SearchUnavailable) -> JSONResponse:
    log.warning("search unavailable: %s", exc)
    return problem(request, 503, "search.unavailable", "Search is temporarily unavailable; listings are safe")


async def _search_error(request: Request, exc: SearchError) -> JSONResponse:
    """Meilisearch refused a request we built: our bug or its state, never the caller's."""
    log.error("search error: %s", exc)
    return problem(request, 503, "search.unavailable", "Search cannot answer this request right now")


class DatabaseFailure(Exception):
    """What the log keeps of a failed statement: PostgreSQL's own text names row values
    (`DETAIL: Failing row contains (…)`: password hashes, contact details), so only its kind is kept."""


def _loggable(exc: BaseException) -> BaseException:
    """The exception as it may be logged: a database error (anywhere in the chain) reduced to its
    SQLSTATE, constraint and statement, with the original traceback."""
    seen, current = set(), exc
    while current is not None and not isinstance(current, DBAPIError) and id(current) not in seen:
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    if not isinstance(current, DBAPIError):
        return exc
    driver = getattr(current.orig, "__cause__", None) or current.orig  # asyncpg's error under SQLAlchemy's
    sqlstate = getattr(driver, "sqlstate", None)
    constraint = getattr(driver, "constraint_name", None)
    statement = " ".join(str(current.statement or "").split())[:500]
    summary = DatabaseFailure(f"{type(driver).__name__} (SQLSTATE {sqlstate}, constraint {constraint}) "
                              f"in: {statement}")
    return summary.with_traceback(exc.__traceback__)


def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """PostgreSQL unreachable (restarting, down, pool exhausted): a 503 the client may retry, not a bug."""
    log.warning("database unavailable: %s", type(exc).__name__)
    response = problem(request, 503, "database.unavailable", "The database is temporarily unavailable; retry shortly")
    response.headers["Retry-After"] = "5"
    return response


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    """The answer to anything no other handler took (also used by `UnexpectedErrors`): 503 when the
    database is unreachable, else the 500 of a bug, logged with the request id."""
    if is_connection_error(exc):
        return _database_unavailable(request, exc)
    request_id = getattr(request.state, "request_id", None)
    logged = _loggable(exc)
    log.error("unhandled error", exc_info=(type(logged), logged, logged.__traceback__),
              extra={"request_id": request_id})
    response = problem(request, 500, "internal_error", "An unexpected error occurred; quote the request id")
    # This handler runs outside the request-id middleware (see market.middleware.UnexpectedErrors): add it here.
    response.headers["x-request-id"] = request_id or ""
    # The connection may be in an unknown state after a bug: tell the client not to reuse it.
    response.headers["connection"] = "close"
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(SearchUnavailable, _search_down)
    app.add_exception_handler(SearchError, _search_error)
    for error in DATABASE_ERRORS:  # inside the request-id middleware, unlike the catch-all below
        app.add_exception_handler(error, unexpected)
    app.add_exception_handler(Exception, unexpected)
