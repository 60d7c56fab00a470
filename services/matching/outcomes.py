"""Outcomes feed ranking. A lead won, lost (with a reason) or dismissed by a party as not relevant is a
labelled pair (`lead_outcome`). From the won ones `learn` derives which need words went with which
achievement words (counts, a minimum support) into `term_association`, data beside the thesaurus that
term expansion uses ("similar firms adopted this"); a dismissed pair's score is lowered, its reason kept.
"""

import json
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.enums import ListKind
from schemas.outcomes import BandRates, LeadOutcome, LeadOutcomeRow, MatchingQuality, TermAssociation
from schemas.tables import Achievement, Lead, Need
from services import audit, kinds
from services.errors import Forbidden, NotFound
from services.matching import ENGINE_VERSION
from services.principal import Principal
from services.text import extract_terms, normalise

DISMISSED_FACTOR = 0.5  # a pair a party called not relevant keeps half its score, and says why
MIN_SUPPORT = 2  # won leads that must share an association before it is used
LEARNED_PER_TERM = 3
LEARN_EVERY = timedelta(hours=24)
BANDS = [(0.8, 1.01), (0.65, 0.8), (0.5, 0.65), (0.0, 0.5)]


async def record_outcome(session: AsyncSession, lead_id: uuid.UUID, outcome: LeadOutcome | str, reason: str = "",
                         principal: Principal | None = None) -> LeadOutcomeRow:
    """Record what became of a lead (won, lost with a reason, dismissed), as a labelled pair. Called by the
    brokers' stage changes (won/lost) and by a party's dismissal; never commits."""
    lead = await session.get(Lead, lead_id)
    if lead is None:
        raise NotFound("lead not found", code="lead.not_found")
    row = LeadOutcomeRow(lead_id=lead.id, need_id=lead.need_id, achievement_id=lead.achievement_id,
                         outcome=LeadOutcome(outcome), reason=reason, score=lead.score,
                         engine_version=lead.engine_version,
                         recorded_by=principal.user_id if principal is not None else None)
    session.add(row)
    if outcome == LeadOutcome.dismissed:  # at once, not at the next refresh
        lead.score = round(lead.score * DISMISSED_FACTOR, 4)
        lead.reasons = {**lead.reasons, "score": lead.score, "dismissed": _dismissed(reason)}
    await session.flush()
    return row


async def dismiss(session: AsyncSession, principal: Principal, lead_id: uuid.UUID, reason: str) -> None:
    """A party of the lead (the firm or the achievement's owner) says the pair is not relevant."""
    row = (await session.execute(select(Lead, Need.organisation_id, Achievement.organisation_id)
                                 .join(Need, Need.id == Lead.need_id)
                                 .join(Achievement, Achievement.id == Lead.achievement_id)
                                 .where(Lead.id == lead_id).with_for_update(of=Lead))).first()
    if row is None or principal.organisation_id not in (row[1], row[2]):
        if row is not None and (principal.is_broker or principal.is_operator):
            raise Forbidden("only a party of the lead dismisses it", code="lead.not_a_party")
        raise NotFound("lead not found", code="lead.not_found")
    await record_outcome(session, lead_id, LeadOutcome.dismissed, reason, principal)
    audit.record(session, principal, "lead.dismissed", "lead", lead_id,
                 {"outcome": {"before": None, "after": "dismissed"}, "reason": {"before": None, "after": reason}})


def _dismissed(reason: str) -> dict:
    return {"factor": DISMISSED_FACTOR, "reason": reason, "detail": "a party said this pair is not relevant"}


async def dismissed(session: AsyncSession, kind: ListKind, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Those of these listings that have a dismissed pair (the others need no `apply_dismissals`)."""
    column = LeadOutcomeRow.need_id if kind == ListKind.needs else LeadOutcomeRow.achievement_id
    return set((await session.scalars(select(column).distinct().where(
        column.in_(ids), LeadOutcomeRow.outcome == LeadOutcome.dismissed))).all())


async def apply_dismissals(session: AsyncSession, kind: ListKind, listing_id: uuid.UUID, matches: list) -> list:
    """Lower the score of pairs a party dismissed (keeping the reason), and re-rank."""
    about = kinds.of(kind)
    column, other = getattr(LeadOutcomeRow, about.lead_column), getattr(LeadOutcomeRow, about.other().lead_column)
    reasons = dict((await session.execute(
        select(other, LeadOutcomeRow.reason).where(column == listing_id,
                                                   LeadOutcomeRow.outcome == LeadOutcome.dismissed)
        .order_by(LeadOutcomeRow.created_at))).all())
    return lower_dismissed(matches, reasons)


def dismissal_reason(kind: ListKind, listing_id: uuid.UUID, counterpart_id):
    """The latest reason a party dismissed the pair (listing, counterpart) for, as a column of a statement
    over the counterparts (`counterpart_id`: their id column; NULL: not dismissed), so that a live match
    reads it with the counterparts' summaries."""
    about = kinds.of(kind)
    column, other = getattr(LeadOutcomeRow, about.lead_column), getattr(LeadOutcomeRow, about.other().lead_column)
    return (select(LeadOutcomeRow.reason).where(column == listing_id, other == counterpart_id,
                                                LeadOutcomeRow.outcome == LeadOutcome.dismissed)
            .order_by(LeadOutcomeRow.created_at.desc()).limit(1).scalar_subquery())


def lower_dismissed(matches: list, reasons: dict[uuid.UUID, str]) -> list:
    """`apply_dismissals` with the dismissed pairs' reasons already read (counterpart id → reason)."""
    if not reasons:
        return matches
    for match in matches:
        if match.id in reasons:
            match.score = round(match.score * DISMISSED_FACTOR, 4)
            match.reasons = {**match.reasons, "score": match.score, "dismissed": _dismissed(reasons[match.id])}
    return sorted(matches, key=lambda m: -m.score)


# --- learning from won leads ------------------------------------------------------------------------

def _need_terms(need: Need) -> set[str]:
    return {normalise(k) for k in need.keywords} | {t for t, _ in extract_terms(f"{need.title}。{need.description}", 8)}


def _achievement_terms(achievement: Achievement) -> set[str]:
    return {normalise(k) for k in achievement.keywords} | {t for t, _ in extract_terms(achievement.title, 6)}


async def learn(session: AsyncSession, min_support: int = MIN_SUPPORT) -> int:
    """Derive the term associations from every won pair (replacing the previous ones); returns how many."""
    pairs = (await session.execute(
        select(Need, Achievement).join(LeadOutcomeRow, LeadOutcomeRow.need_id == Need.id)
        .join(Achievement, Achievement.id == LeadOutcomeRow.achievement_id)
        .where(LeadOutcomeRow.outcome == LeadOutcome.won).distinct())).all()
    counts: Counter = Counter()
    for need, achievement in pairs:
        theirs = _achievement_terms(achievement)
        for need_term in _need_terms(need):
            # A word both sides use is no news: the term queries find it already.
            counts.update((need_term, term) for term in theirs if term != need_term and need_term not in term)
    await session.execute(delete(TermAssociation))
    rows = [{"need_term": n, "achievement_term": a, "support": c} for (n, a), c in counts.items() if c >= min_support]
    if rows:
        await session.execute(insert(TermAssociation).values(rows))
    _cache.clear()
    return len(rows)


# Which learning the associations are from: `learn` replaces them all in one transaction (one
# `learned_at`), so a cheap max() read with the listing says whether the cached ones are still current,
# also after a `market learn` in another process. None: there are none.
LEARNED_VERSION = select(func.max(TermAssociation.learned_at)).scalar_subquery()
UNREAD = object()  # `associations` reads the version itself
_cache: dict = {}


async def associations(session: AsyncSession, version=UNREAD) -> dict[str, list[str]]:
    """need term → achievement terms adopted with it, strongest first. Cached per process while the
    table's version (`LEARNED_VERSION`, read by the caller with its own statement, or here) is unchanged."""
    if version is UNREAD:
        version = await session.scalar(select(LEARNED_VERSION))
    if _cache and _cache["version"] == version:
        return _cache["value"]
    learned: dict[str, list[str]] = {}
    for row in (await session.scalars(select(TermAssociation).order_by(
            TermAssociation.support.desc(), TermAssociation.achievement_term))).all():
        if len(learned.setdefault(row.need_term, [])) < LEARNED_PER_TERM:
            learned[row.need_term].append(row.achievement_term)
    _cache.update(version=version, value=learned)
    return learned


async def tick_learn(ctx, now: datetime) -> None:
    """Nightly: learn again once the last learning is a day old (and there is something to learn from)."""
    async with ctx.sessions() as session, session.begin():
        last = await session.scalar(select(func.max(TermAssociation.learned_at)))
        newest = await session.scalar(select(func.max(LeadOutcomeRow.created_at))
                                      .where(LeadOutcomeRow.outcome == LeadOutcome.won))
        if newest is None or (last is not None and (now - last < LEARN_EVERY or newest <= last)):
            return
        await learn(session)


async def outcome_rates(session: AsyncSession) -> list[BandRates]:
    rates = []
    for low, high in BANDS:
        counts = (await session.execute(select(*(
            func.count(case((LeadOutcomeRow.outcome == outcome, 1))) for outcome in LeadOutcome))
            .where(LeadOutcomeRow.score >= low, LeadOutcomeRow.score < high))).one()
        rates.append(BandRates(band=f"{low:.2f}–{min(high, 1.0):.2f}", **dict(zip(LeadOutcome, counts, strict=True))))
    return rates


RELEASED = Path(__file__).with_name("released.json")  # written from bench/match_quality.py at release


async def quality(session: AsyncSession) -> MatchingQuality:
    return MatchingQuality(engine_version=ENGINE_VERSION, released=json.loads(RELEASED.read_text(encoding="utf-8")),
                           outcomes=await outcome_rates(session),
                           associations=await session.scalar(select(func.count()).select_from(TermAssociation)))
