"""Dependencies declared once: the request's database session, settings, search, pagination."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from market.settings import Settings
from services.errors import Invalid
from services.exports import MEDIA
from services.search.cache import SearchCache
from services.search.indexes import SearchIndexes


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    # scope="function": the commit runs when the route returns, before the response is sent, so a
    # failed commit becomes an error response instead of a success the database never saw.
    async with request.app.state.sessions() as session:
        yield session
        await session.commit()


# Every dependency is `async def`: FastAPI runs a plain `def` (or a class) in a thread pool, a thread
# hand-off per request for what is a dictionary lookup.
async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _search(request: Request) -> SearchIndexes:
    return request.app.state.search


async def _search_cache(request: Request) -> SearchCache:
    return request.app.state.search_cache


Session = Annotated[AsyncSession, Depends(_session, scope="function")]
AppSettings = Annotated[Settings, Depends(_settings)]
Search = Annotated[SearchIndexes, Depends(_search)]
SearchAnswers = Annotated[SearchCache, Depends(_search_cache)]


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def reject_unknown_parameters(request: Request) -> None:
    """Every route: a query parameter the route does not declare is a 422 naming it, never silently
    ignored (a misspelt filter would otherwise return everything)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    unknown = sorted(set(request.query_params) - _query_names(route.dependant))
    if unknown:
        raise Invalid(f"unknown query parameter {unknown[0]!r}; see this operation in /docs",
                      code="request.unknown_parameter", field=f"query.{unknown[0]}")


PAGE_LIMIT = "Page size, 1 to the server's cap (`PAGE_SIZE_MAX`, 100 by default); above the cap is a 422"


def page_limit(request: Request, limit: int) -> int:
    """One rule for every list and search: a page larger than the cap is refused, not silently cut."""
    cap = request.app.state.settings.page_size_max
    if limit > cap:
        raise Invalid(f"limit is at most {cap}", code="pagination.limit_too_large", field="query.limit")
    return limit


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None


async def _pagination(
    request: Request,
    limit: Annotated[int, Query(ge=1, description=PAGE_LIMIT)] = 20,
    cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page")] = None,
) -> PageParams:
    """`limit` up to the configured cap; `cursor` is the opaque `next_cursor` of the previous page."""
    return PageParams(page_limit(request, limit), cursor)


Pagination = Annotated[PageParams, Depends(_pagination)]


def amount_query(description: str = "Amount in CNY") -> Any:
    """A money amount in a query: two decimals, at most what a NUMERIC(14, 2) column holds."""
    return Query(ge=0, le=Decimal("999999999999.99"), max_digits=14, decimal_places=2, description=description)


FILE_SCHEMAS = {"csv": {"type": "string"}, "xlsx": {"type": "string", "format": "binary"}}


def file_content(*formats: str) -> dict:
    """The OpenAPI content of a download in these formats (a generated client reads a string or a blob)."""
    return {MEDIA[f].split(";")[0]: {"schema": FILE_SCHEMAS[f]} for f in formats}
