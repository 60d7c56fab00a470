"""The turnover statistics the city measures itself by: 成交额 and 技术交易额 of signed contracts.

Counted: deals signed, performing or completed, grouped by their signing date. 技术交易额 is the
certified technical income once a contract is registered, else the technology part as agreed. Every
sum is taken in SQL over NUMERIC, so the figures reconcile with the deals table to the cent.
Who sees what: operators the platform; a broker the deals attributed to them; an organisation the
deals it is a party to; the public only the platform's yearly totals an operator made public.
"""

from datetime import date
from decimal import Decimal

from sqlalchemy import Select, String, and_, case, cast, delete, extract, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.deals import COUNTED, Deal, StatsPublicYear
from schemas.enums import CONTRACT_TYPE_LABELS, LABELS, RegistrationState, SellerType
from schemas.stats import Dimension, GrowthRow, GrowthTable, StatRow, StatTable, StatTotals
from schemas.tables import Organisation, User
from services import audit
from services.deals import visible
from services.principal import Principal
from services.taxonomy import taxonomy

UNKNOWN = "未填写"
TECHNOLOGY = case(
    (and_(Deal.registration_state == RegistrationState.registered, Deal.certified_income.is_not(None)),
     Deal.certified_income), else_=Deal.technology_amount)
ACADEMIC = (SellerType.university, SellerType.institute)
HEADERS = {"key": "代码", "label": "名称", "deals": "合同数（项）", "turnover": "成交额（元）",
           "technology_turnover": "技术交易额（元）"}
GROWTH_HEADERS = {"year": "年度", "deals": "合同数（项）", "turnover": "成交额（元）",
                  "technology_turnover": "技术交易额（元）", "growth": "成交额同比增长", "target": "增长目标",
                  "target_met": "是否达标", "academic_turnover": "高校院所成交额（元）",
                  "academic_share": "高校院所占比"}


def scope_of(principal: Principal) -> str:
    if principal.is_operator or principal.kind == "anonymous":  # anonymous: only ever the public years
        return "platform"
    return "broker" if principal.is_broker else "organisation"


def counted(principal: Principal, stmt: Select, since: date | None = None, until: date | None = None) -> Select:
    stmt = stmt.where(Deal.status.in_(COUNTED), Deal.signed_on.is_not(None))
    if since is not None:
        stmt = stmt.where(Deal.signed_on >= since)
    if until is not None:
        stmt = stmt.where(Deal.signed_on <= until)
    if principal.kind == "anonymous":
        return stmt
    if principal.is_broker and not principal.is_operator:  # a broker's own figures, not their agency's
        return stmt.where(Deal.broker_id == principal.user_id)
    return visible(principal, stmt)


def _sums():
    return (func.count(Deal.id), func.coalesce(func.sum(Deal.amount), 0), func.coalesce(func.sum(TECHNOLOGY), 0))


def _key(dimension: Dimension):
    """The SQL grouping key of a dimension, and the joins it needs."""
    if dimension == Dimension.year:
        return func.to_char(Deal.signed_on, "YYYY"), []
    if dimension == Dimension.quarter:
        return func.to_char(Deal.signed_on, 'YYYY-"Q"Q'), []
    if dimension == Dimension.month:
        return func.to_char(Deal.signed_on, "YYYY-MM"), []
    if dimension == Dimension.field:
        return func.nullif(func.split_part(Deal.field, ".", 1), ""), []  # the top-level field
    if dimension == Dimension.contract_type:
        return Deal.contract_type, []
    if dimension == Dimension.seller_type:
        return Deal.seller_type, []
    if dimension == Dimension.seller:
        return cast(Deal.seller_id, String), []
    if dimension == Dimension.buyer_region:
        return Organisation.region, [(Organisation, Organisation.id == Deal.buyer_id)]
    return cast(Deal.broker_id, String), []


async def _labels(session: AsyncSession, dimension: Dimension, keys: list[str | None]) -> dict[str | None, str]:
    present = [k for k in keys if k is not None]
    if dimension == Dimension.field:
        names = {code: node.name for code, node in taxonomy().fields.items()}
    elif dimension == Dimension.contract_type:
        names = CONTRACT_TYPE_LABELS
    elif dimension == Dimension.seller_type:
        names = LABELS
    elif dimension == Dimension.buyer_region:
        names = {code: region.name for code, region in taxonomy().regions.items()}
    elif dimension == Dimension.seller and present:
        rows = await session.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(present)))
        names = {str(i): n for i, n in rows}
    elif dimension == Dimension.broker and present:
        rows = await session.execute(select(User.id, User.display_name).where(User.id.in_(present)))
        names = {str(i): n for i, n in rows}
    else:
        names = {}
    return {k: (names.get(k, k) if k is not None else UNKNOWN) for k in keys}


async def turnover(session: AsyncSession, principal: Principal, dimension: Dimension, since: date | None = None,
                   until: date | None = None) -> StatTable:
    key, joins = _key(dimension)
    stmt = select(key.label("key"), *_sums()).select_from(Deal)
    for table, on in joins:
        stmt = stmt.join(table, on)
    stmt = counted(principal, stmt, since, until).group_by(key).order_by(key.nulls_last())
    rows = (await session.execute(stmt)).all()
    total = (await session.execute(counted(principal, select(*_sums()).select_from(Deal), since, until))).one()
    labels = await _labels(session, dimension, [r[0] for r in rows])
    return StatTable(
        dimension=dimension, scope=scope_of(principal),
        rows=[StatRow(key=k, label=labels[k], deals=n, turnover=t, technology_turnover=tt) for k, n, t, tt in rows],
        total=StatTotals(deals=total[0], turnover=total[1], technology_turnover=total[2]))


async def growth(session: AsyncSession, principal: Principal, target: Decimal,
                 years: set[int] | None = None) -> GrowthTable:
    """Per year: turnover, growth on the year before against the target, and the universities' and
    institutes' share."""
    year = extract("year", Deal.signed_on)
    academic = func.coalesce(func.sum(case((Deal.seller_type.in_(ACADEMIC), Deal.amount), else_=0)), 0)
    stmt = counted(principal, select(year, *_sums(), academic).select_from(Deal)).group_by(year).order_by(year)
    rows, previous = [], None
    for y, deals, amount, technology, academic_amount in (await session.execute(stmt)).all():
        y = int(y)
        change = ((amount - previous) / previous).quantize(Decimal("0.0001")) if previous else None
        previous = amount if amount else None
        if years is not None and y not in years:
            continue
        rows.append(GrowthRow(
            year=y, deals=deals, turnover=amount, technology_turnover=technology, growth=change, target=target,
            target_met=None if change is None else change >= target, academic_turnover=academic_amount,
            academic_share=(academic_amount / amount).quantize(Decimal("0.0001")) if amount else None))
    return GrowthTable(scope=scope_of(principal), rows=rows)


async def public_years(session: AsyncSession) -> set[int]:
    return set((await session.scalars(select(StatsPublicYear.year))).all())


async def set_public(session: AsyncSession, principal: Principal, year: int, public: bool) -> None:
    if public:
        await session.execute(insert(StatsPublicYear).values(year=year, published_by=principal.user_id)
                              .on_conflict_do_nothing())
    else:
        await session.execute(delete(StatsPublicYear).where(StatsPublicYear.year == year))
    audit.record(session, principal, "stats.published" if public else "stats.unpublished", "stats_year", year)


def table_rows(table: StatTable) -> tuple[list[str], list[list]]:
    """A statistic as a sheet: Chinese headers, numbers as numbers, a total line at the bottom."""
    rows = [[r.key, r.label, r.deals, r.turnover, r.technology_turnover] for r in table.rows]
    rows.append([None, "合计", table.total.deals, table.total.turnover, table.total.technology_turnover])
    return list(HEADERS.values()), rows


def growth_rows(table: GrowthTable) -> tuple[list[str], list[list]]:
    met = {True: "是", False: "否", None: None}
    return list(GROWTH_HEADERS.values()), [
        [r.year, r.deals, r.turnover, r.technology_turnover, r.growth, r.target, met[r.target_met],
         r.academic_turnover, r.academic_share] for r in table.rows]
