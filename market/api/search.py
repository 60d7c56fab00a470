"""Full-text search over the published two lists, in both scripts."""

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from market.api.deps import PAGE_LIMIT, Search, SearchAnswers, amount_query, page_limit
from market.auth import Anyone
from schemas.enums import ListKind, Stage, TransferMode
from schemas.search import SearchPage
from services.search import queries

router = APIRouter(prefix="/v1/search", tags=["search"])


async def _search_query(
    request: Request,
    q: Annotated[str, Query(max_length=200, description="Words in simplified or traditional characters",
                            examples=["氫能儲運"])] = "",
    field: Annotated[str | None, Query(max_length=80, description="Field code, includes sub-fields")] = None,
    region: Annotated[str | None, Query(max_length=40)] = None,
    trl_min: Annotated[int | None, Query(ge=1, le=9)] = None,
    trl_max: Annotated[int | None, Query(ge=1, le=9)] = None,
    mode: TransferMode | None = None,
    stage: Stage | None = None,
    amount_min: Annotated[Decimal | None, amount_query(description="Price/budget range reaches this")] = None,
    amount_max: Annotated[Decimal | None, amount_query()] = None,
    sort: Annotated[str | None, Query(pattern=r"^-?[a-z_]+$", examples=["-published_at"])] = None,
    limit: Annotated[int, Query(ge=1, description=PAGE_LIMIT)] = 20,
    offset: Annotated[int, Query(ge=0, le=4900)] = 0,
) -> queries.SearchParams:
    """Query parameters shared by both searches; every filter value is validated before use."""
    return queries.SearchParams(q=q, field=field, region=region, trl_min=trl_min, trl_max=trl_max, mode=mode,
                                stage=stage, amount_min=amount_min, amount_max=amount_max, sort=sort,
                                limit=page_limit(request, limit), offset=offset)


async def _need_filters(
    challenge: Annotated[bool | None, Query(description="Only 揭榜挂帅 needs (true) or only the others")] = None,
    deadline_after: Annotated[date | None, Query(
        description="Still open on this day: deadline on or after it, or no deadline")] = None,
) -> dict:
    """What only needs have: the challenge (揭榜挂帅) and the deadline."""
    return {"challenge": challenge, "deadline_after": deadline_after}


SearchQuery = Annotated[queries.SearchParams, Depends(_search_query)]
NeedFilters = Annotated[dict, Depends(_need_filters)]


@router.get("/achievements", response_model=SearchPage)
async def search_achievements(principal: Anyone, search: Search, answers: SearchAnswers, query: SearchQuery):
    """Search published achievements: relevance-ranked hits with highlights, and facet counts
    (field, region, stage, TRL, transfer mode). 503 problem+json while search is down. The same
    search within a few seconds (`SEARCH_CACHE_SECONDS`) gets the same answer."""
    return await answers.search(search, ListKind.achievements, query)


@router.get("/needs", response_model=SearchPage)
async def search_needs(principal: Anyone, search: Search, answers: SearchAnswers, query: SearchQuery,
                       needs: NeedFilters):
    """Search published needs (confidential firms appear as 某企业), optionally only challenges or only
    those still open on a day. The same search within a few seconds gets the same answer."""
    return await answers.search(search, ListKind.needs, replace(query, **needs))
