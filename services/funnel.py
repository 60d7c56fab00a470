"""The brokers' funnel and leaderboard: how leads move new → contacted → introduced → negotiating → won.

Read from the pipeline's history (`lead_stage_change`, services.pipeline): a lead reached a stage when a
change moved it there; the days in a stage run from the change that entered it (for `new`, the claim)
to the change that left it. Leads worked are those a broker claimed or moved.
"""

from decimal import Decimal

from sqlalchemy import String, case, cast, distinct, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.brokers import BrokerRating, LeadStageChange
from schemas.deals import COUNTED, Deal
from schemas.enums import LABELS, LeadStage, Role
from schemas.stats import FunnelBy, FunnelRow, FunnelStage, FunnelTable, Leaderboard, LeaderboardRow
from schemas.tables import Achievement, Lead, Need, User
from services.principal import Principal
from services.stats import TECHNOLOGY, UNKNOWN, scope_of
from services.taxonomy import taxonomy

STAGES = (LeadStage.new, LeadStage.contacted, LeadStage.introduced, LeadStage.negotiating, LeadStage.won)
DAY = 86400.0


def _scoped(principal: Principal, stmt):
    if principal.is_operator:
        return stmt
    if principal.is_broker:
        return stmt.where(Lead.claimed_by == principal.user_id)
    owners = select(Need.id).where(Need.organisation_id == principal.organisation_id)
    mine = select(Achievement.id).where(Achievement.organisation_id == principal.organisation_id)
    return stmt.where(or_(Lead.need_id.in_(owners), Lead.achievement_id.in_(mine)))


def _group(by: FunnelBy):
    if by == FunnelBy.field:
        return func.nullif(func.split_part(Need.field, ".", 1), "")
    if by == FunnelBy.broker:
        return cast(Lead.claimed_by, String)
    return literal("platform")


def _ratio(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001")) if whole else None


async def funnel(session: AsyncSession, principal: Principal, by: FunnelBy) -> FunnelTable:
    group = _group(by).label("grp")
    worked = or_(Lead.claimed_by.is_not(None), Lead.stage != LeadStage.new)
    leads = _scoped(principal, select(Lead.id, Lead.stage, Lead.claimed_at, Lead.created_at, group)
                    .join(Need, Need.id == Lead.need_id).where(worked)).subquery()
    reached = {}
    for stage in STAGES:
        moved = select(LeadStageChange.lead_id).where(LeadStageChange.to_stage == stage)
        condition = literal(True) if stage == LeadStage.new else or_(leads.c.stage == stage, leads.c.id.in_(moved))
        reached[stage] = func.count(case((condition, 1)))
    lost = func.count(case((leads.c.stage == LeadStage.lost, 1)))
    counts = {row[0]: row[1:] for row in (await session.execute(
        select(leads.c.grp, *reached.values(), lost).group_by(leads.c.grp))).all()}

    # Days in each stage: from the change that entered it (lag) to the change that left it.
    entered = func.lag(LeadStageChange.at).over(partition_by=LeadStageChange.lead_id, order_by=LeadStageChange.at)
    changes = (select(LeadStageChange.lead_id, LeadStageChange.from_stage, LeadStageChange.at, entered.label("entered"))
               .subquery())
    start = func.coalesce(changes.c.entered, leads.c.claimed_at, leads.c.created_at)
    seconds = func.extract("epoch", changes.c.at - start)
    medians = {(g, s): float(m) / DAY if m is not None else None for g, s, m in (await session.execute(
        select(leads.c.grp, changes.c.from_stage, func.percentile_cont(0.5).within_group(seconds))
        .join(changes, changes.c.lead_id == leads.c.id).group_by(leads.c.grp, changes.c.from_stage))).all()}

    labels = await _labels(session, by, list(counts))
    rows = []
    for key, values in sorted(counts.items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
        stages, previous = [], None
        for stage, count in zip(STAGES, values[:-1], strict=True):
            stages.append(FunnelStage(stage=stage, label=LABELS[stage], leads=count,
                                      conversion=None if previous is None else _ratio(count, previous),
                                      median_days=None if stage == LeadStage.won else medians.get((key, stage))))
            previous = count
        rows.append(FunnelRow(key=key, label=labels[key], stages=stages, lost=values[-1],
                              won_rate=_ratio(values[-2], values[0])))
    return FunnelTable(by=by, scope=scope_of(principal), rows=rows)


async def _labels(session: AsyncSession, by: FunnelBy, keys: list) -> dict:
    names: dict = {"platform": "全平台"}
    if by == FunnelBy.field:
        names = {code: node.name for code, node in taxonomy().fields.items()}
    elif by == FunnelBy.broker and any(keys):
        names = {str(i): n for i, n in await session.execute(
            select(User.id, User.display_name).where(User.id.in_([k for k in keys if k])))}
    return {k: names.get(k, k) if k is not None else UNKNOWN for k in keys}


async def leaderboard(session: AsyncSession) -> Leaderboard:
    """Every broker with their counted deals, turnover, leads won and the parties' ratings."""
    deals = (select(Deal.broker_id.label("broker_id"), func.count(Deal.id).label("deals"),
                    func.coalesce(func.sum(Deal.amount), 0).label("turnover"),
                    func.coalesce(func.sum(TECHNOLOGY), 0).label("technology"))
             .where(Deal.status.in_(COUNTED), Deal.broker_id.is_not(None)).group_by(Deal.broker_id).subquery())
    won_at = (select(LeadStageChange.lead_id, func.min(LeadStageChange.at).label("at"))
              .where(LeadStageChange.to_stage == LeadStage.won).group_by(LeadStageChange.lead_id).subquery())
    days = func.extract("epoch", won_at.c.at - Lead.claimed_at) / DAY
    leads = (select(Lead.claimed_by.label("broker_id"), func.count(distinct(Lead.id)).label("leads"),
                    func.count(won_at.c.lead_id).label("won"),
                    func.percentile_cont(0.5).within_group(days).label("median_days"))
             .outerjoin(won_at, won_at.c.lead_id == Lead.id)
             .where(Lead.claimed_by.is_not(None)).group_by(Lead.claimed_by).subquery())
    score = (BrokerRating.responsiveness + BrokerRating.expertise + BrokerRating.integrity) / 3.0
    ratings = (select(BrokerRating.broker_id, func.avg(score).label("rating"), func.count().label("ratings"))
               .group_by(BrokerRating.broker_id).subquery())
    stmt = (select(User.id, User.display_name, func.coalesce(deals.c.deals, 0), func.coalesce(deals.c.turnover, 0),
                   func.coalesce(deals.c.technology, 0), func.coalesce(leads.c.leads, 0),
                   func.coalesce(leads.c.won, 0), leads.c.median_days, ratings.c.rating,
                   func.coalesce(ratings.c.ratings, 0))
            .outerjoin(deals, deals.c.broker_id == User.id).outerjoin(leads, leads.c.broker_id == User.id)
            .outerjoin(ratings, ratings.c.broker_id == User.id)
            .where(User.roles.contains([Role.broker.value]),
                   or_(deals.c.deals.is_not(None), leads.c.leads.is_not(None)))
            .order_by(func.coalesce(deals.c.turnover, 0).desc(), User.id))
    return Leaderboard(rows=[
        LeaderboardRow(broker_id=str(i), name=name, deals=n, turnover=t, technology_turnover=tt, leads=worked,
                       won=won, conversion=_ratio(won, worked),
                       median_days_to_close=float(median) if median is not None else None,
                       rating=round(float(rating), 2) if rating is not None else None, ratings=count)
        for i, name, n, t, tt, worked, won, median, rating, count in (await session.execute(stmt)).all()])


def funnel_rows(table: FunnelTable) -> tuple[list[str], list[list]]:
    header = ["分组", "名称", "阶段", "线索数", "转化率", "中位停留天数"]
    return header, [[row.key, row.label, s.label, s.leads, s.conversion, s.median_days]
                    for row in table.rows for s in row.stages]


def leaderboard_rows(board: Leaderboard) -> tuple[list[str], list[list]]:
    header = ["经纪人", "姓名", "成交合同数", "成交额（元）", "技术交易额（元）", "经手线索", "成交线索", "转化率",
              "成交中位天数", "评分", "评价数"]
    return header, [[r.broker_id, r.name, r.deals, r.turnover, r.technology_turnover, r.leads, r.won, r.conversion,
                     r.median_days_to_close, r.rating, r.ratings] for r in board.rows]
