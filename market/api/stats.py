"""Statistics: technology-contract turnover (成交额 / 技术交易额), growth against the target, public totals."""

import asyncio
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from market.api.deps import AppSettings, Session, file_content
from market.auth import Authenticated, BrokerOrOperator, Operator
from schemas.enums import DownloadFormat
from schemas.stats import Dimension, FunnelBy, FunnelTable, GrowthTable, Leaderboard, PublicYear, StatTable
from services import exports, funnel, stats
from services.exports import MEDIA
from services.principal import ANONYMOUS

router = APIRouter(prefix="/v1/stats", tags=["statistics"])
Format = Annotated[DownloadFormat, Query(description="json, or a file: csv (UTF-8 with BOM) or xlsx")]
Year = Annotated[int, Path(ge=1985, le=2100)]
FILES = {200: {"content": file_content("csv", "xlsx"),
               "description": "The statistic, as JSON or as a CSV / XLSX file with Chinese headers"}}


async def _file(fmt: str, name: str, header: list[str], rows: list[list]) -> Response:
    body = await asyncio.to_thread(exports.render, fmt, name, header, rows)  # a workbook is CPU work: off the loop
    return Response(body, media_type=MEDIA[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


@router.get("/turnover", response_model=StatTable, responses=FILES)
async def stats_turnover(
    principal: Authenticated, session: Session,
    by: Annotated[Dimension, Query(description="Group by year, quarter, month, field (top level), contract "
                                               "type, seller type, seller, buyer region or broker")] = Dimension.year,
    since: Annotated[date | None, Query(description="Signed on or after")] = None,
    until: Annotated[date | None, Query(description="Signed on or before")] = None,
    format: Format = DownloadFormat.json,
):
    """成交额, 技术交易额 and the number of signed contracts, grouped by one dimension, with the total.
    Operators see the platform; a broker the deals attributed to them; an organisation its own deals."""
    table = await stats.turnover(session, principal, by, since, until)
    return table if format == "json" else await _file(format, f"turnover-by-{by.value}", *stats.table_rows(table))


@router.get("/growth", response_model=GrowthTable, responses=FILES)
async def stats_growth(principal: Authenticated, session: Session, settings: AppSettings,
                       format: Format = DownloadFormat.json):
    """Per year: turnover, its growth on the year before against the target (setting
    `TURNOVER_GROWTH_TARGET`, +10 %), and the share from universities and institutes."""
    table = await stats.growth(session, principal, settings.turnover_growth_target)
    return table if format == "json" else await _file(format, "growth", *stats.growth_rows(table))


@router.get("/public", response_model=GrowthTable, responses=FILES)
async def stats_public(session: Session, settings: AppSettings, format: Format = DownloadFormat.json):
    """The platform's yearly totals, for the years an operator has made public (no sign-in needed)."""
    table = await stats.growth(session, ANONYMOUS, settings.turnover_growth_target,
                               years=await stats.public_years(session))
    return table if format == "json" else await _file(format, "public", *stats.growth_rows(table))


@router.put("/public/{year}", response_model=PublicYear)
async def stats_publish_year(year: Year, principal: Operator, session: Session):
    """Make one year's platform totals public (operators)."""
    await stats.set_public(session, principal, year, True)
    return PublicYear(year=year, public=True)


@router.delete("/public/{year}", status_code=status.HTTP_204_NO_CONTENT)
async def stats_unpublish_year(year: Year, principal: Operator, session: Session):
    """Withdraw one year's platform totals from the public (operators)."""
    await stats.set_public(session, principal, year, False)


@router.get("/funnel", response_model=FunnelTable, responses=FILES)
async def stats_funnel(
    principal: Authenticated, session: Session,
    by: Annotated[FunnelBy, Query(description="platform, per field (the need's) or per broker")] = FunnelBy.platform,
    format: Format = DownloadFormat.json,
):
    """Leads worked → contacted → introduced → negotiating → won, with the conversion from each stage to the
    next and the median days spent in each. Operators see every lead, a broker their own, an organisation
    the leads on its listings."""
    table = await funnel.funnel(session, principal, by)
    return table if format == "json" else await _file(format, f"funnel-by-{by.value}", *funnel.funnel_rows(table))


@router.get("/brokers", response_model=Leaderboard, responses=FILES)
async def stats_brokers(principal: BrokerOrOperator, session: Session, format: Format = DownloadFormat.json):
    """The broker leaderboard (brokers and operators): deals, turnover, leads won, conversion, median days
    from claim to won, and the parties' average rating; by turnover."""
    board = await funnel.leaderboard(session)
    return board if format == "json" else await _file(format, "brokers", *funnel.leaderboard_rows(board))
