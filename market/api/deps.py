"""Dependencies declared once: the request's database session, settings, search, pagination."""

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from market.settings import Settings
from services.search.indexes import SearchIndexes


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    # scope="function": the commit runs when the route returns, before the response is sent, so a
    # failed commit becomes an error response instead of a success the database never saw.
    async with request.app.state.sessions() as session:
        yield session
        await session.commit()


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _search(request: Request) -> SearchIndexes:
    return request.app.state.search


Session = Annotated[AsyncSession, Depends(_session, scope="function")]
AppSettings = Annotated[Settings, Depends(_settings)]
Search = Annotated[SearchIndexes, Depends(_search)]


class PageParams:
    """`limit` capped by settings; `cursor` is the opaque `next_cursor` of the previous page."""

    def __init__(
        self,
        request: Request,
        limit: Annotated[int, Query(ge=1, description="Page size (capped by the server)")] = 20,
        cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page")] = None,
    ):
        self.limit = min(limit, request.app.state.settings.page_size_max)
        self.cursor = cursor


Pagination = Annotated[PageParams, Depends()]


def amount_query(description: str = "Amount in CNY") -> Any:
    """A money amount in a query: two decimals, at most what a NUMERIC(14, 2) column holds."""
    return Query(ge=0, le=Decimal("999999999999.99"), max_digits=14, decimal_places=2, description=description)
