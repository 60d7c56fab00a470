"""The introduction ledger and the consent behind it: which broker introduced which need owner to which
achievement owner, on which lead, when, with which consent. Entries are only ever appended (the
database refuses UPDATE and DELETE); each carries the SHA-256 of its canonical JSON together with the
previous entry's hash of the same lead, so `verify` finds an entry changed behind the service's back.
A correction is a new entry naming the one it corrects.

Consent: a broker working a lead on a confidential need asks; a user of the firm grants it (who, when,
how), which appends a `consent` entry. Only then does services.reveal show the firm to that broker, and,
once an introduction is recorded, to the achievement's owner.
"""

import hashlib
import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.brokers import (
    ConsentGrant,
    Introduction,
    IntroductionCreate,
    IntroductionRead,
    LeadConsent,
    LedgerVerification,
)
from schemas.enums import LedgerEntryKind, Role
from schemas.listings import CONFIDENTIAL_OWNER
from schemas.tables import Achievement, Lead, Need
from services import audit, outbox
from services.db import flush_or_conflict
from services.errors import Conflict, Forbidden, NotFound
from services.leads import get_lead
from services.listings.rules import is_insider
from services.pipeline import lock_lead, parties, worked_lead
from services.principal import Principal

GENESIS = "0" * 64


def entry_hash(entry: dict, prev_hash: str) -> str:
    """SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of the entry and the previous hash."""
    canonical = json.dumps({**entry, "prev_hash": prev_hash}, sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def hashed_fields(row: Introduction) -> dict:
    return {"lead_id": str(row.lead_id), "seq": row.seq, "kind": row.kind, "broker_id": str(row.broker_id),
            "need_organisation_id": str(row.need_organisation_id),
            "achievement_organisation_id": str(row.achievement_organisation_id),
            "recorded_at": row.recorded_at.astimezone(UTC).isoformat(), "consent": row.consent, "note": row.note,
            "corrects": row.corrects}


def broken_at(rows: list[Introduction]) -> int | None:
    """The seq of the first entry whose stored hash or link does not match, or None for an intact chain."""
    prev = GENESIS
    for expected_seq, row in enumerate(rows, 1):
        if row.seq != expected_seq or row.prev_hash != prev or row.hash != entry_hash(hashed_fields(row), prev):
            return row.seq
        prev = row.hash
    return None


async def _append(session: AsyncSession, lead: Lead, kind: LedgerEntryKind, broker_id: uuid.UUID, *,
                  consent: dict | None, note: str = "", corrects: int | None = None) -> Introduction:
    """Append to the (locked) lead's chain."""
    last = await session.scalar(select(Introduction).where(Introduction.lead_id == lead.id)
                                .order_by(Introduction.seq.desc()).limit(1))
    need_org = await session.scalar(select(Need.organisation_id).where(Need.id == lead.need_id))
    achievement_org = await session.scalar(select(Achievement.organisation_id).where(
        Achievement.id == lead.achievement_id))
    row = Introduction(lead_id=lead.id, seq=(last.seq + 1) if last else 1, kind=kind, broker_id=broker_id,
                       need_organisation_id=need_org, achievement_organisation_id=achievement_org,
                       recorded_at=datetime.now(UTC), consent=consent, note=note, corrects=corrects,
                       prev_hash=last.hash if last else GENESIS, hash="")
    row.hash = entry_hash(hashed_fields(row), row.prev_hash)
    session.add(row)
    await flush_or_conflict(session, {"uq_introduction_seq": lambda: Conflict(
        "the ledger moved on; try again", code="introduction.concurrent")})
    outbox.emit(session, "introduction.recorded", "introduction", row.id, {
        "lead_id": str(lead.id), "seq": row.seq, "kind": kind.value, "broker_id": str(broker_id),
        "organisation_ids": await parties(session, lead)})
    return row


def _consent_record(consent: LeadConsent) -> dict:
    return {"broker_id": str(consent.broker_id), "granted_by": str(consent.granted_by),
            "granted_at": consent.granted_at.astimezone(UTC).isoformat(), "method": consent.method,
            "note": consent.note}


async def request_consent(session: AsyncSession, principal: Principal, lead_id: uuid.UUID) -> LeadConsent:
    """The broker working a lead on a confidential need asks the firm to be named on it."""
    lead = await worked_lead(session, principal, lead_id)
    if lead.claimed_by != principal.user_id:
        raise Forbidden("the broker working the lead asks for consent", code="lead.not_your_lead")
    need = await session.get(Need, lead.need_id)
    if not need.confidential:
        raise Conflict("the need is not confidential: no consent is needed", code="consent.not_needed")
    consent = await session.scalar(select(LeadConsent).where(LeadConsent.lead_id == lead.id,
                                                             LeadConsent.broker_id == principal.user_id))
    if consent is None:
        consent = LeadConsent(lead_id=lead.id, broker_id=principal.user_id, requested_at=datetime.now(UTC))
        session.add(consent)
        await session.flush()
        audit.record(session, principal, "consent.requested", "lead", lead.id,
                     {"broker_id": {"before": None, "after": principal.user_id}})
    return consent


async def grant_consent(session: AsyncSession, principal: Principal, lead_id: uuid.UUID,
                        body: ConsentGrant) -> LeadConsent:
    """A user of the firm behind the need names it to the broker (and, after the introduction, to the
    achievement's owner) on this lead."""
    await get_lead(session, principal, lead_id)
    lead = await lock_lead(session, lead_id)
    need = await session.get(Need, lead.need_id)
    if principal.kind != "user" or principal.organisation_id != need.organisation_id or not (
            set(principal.roles) & {Role.org_admin, Role.org_member}):
        raise Forbidden("only the firm behind the need consents", code="consent.firm_only")
    broker_id = body.broker_id or lead.claimed_by
    consent = await session.scalar(select(LeadConsent).where(LeadConsent.lead_id == lead.id,
                                                             LeadConsent.broker_id == broker_id).with_for_update())
    if consent is None:
        raise NotFound("no broker asked for consent on this lead", code="consent.not_requested",
                       field="body.broker_id")
    if consent.granted_at is None:
        consent.granted_by, consent.granted_at = principal.user_id, datetime.now(UTC)
        consent.method, consent.note = body.method, body.note
        await _append(session, lead, LedgerEntryKind.consent, broker_id, consent=_consent_record(consent))
        audit.record(session, principal, "consent.granted", "lead", lead.id,
                     {"broker_id": {"before": None, "after": broker_id}, "method": {"before": None,
                                                                                  "after": body.method}})
    return consent


async def record(session: AsyncSession, principal: Principal, lead_id: uuid.UUID,
                 body: IntroductionCreate) -> Introduction:
    """The broker working the lead records that they introduced the two parties (or corrects an entry)."""
    lead = await worked_lead(session, principal, lead_id)
    if lead.claimed_by != principal.user_id:
        raise Forbidden("the broker working the lead records introductions", code="lead.not_your_lead")
    if body.corrects is not None and not await session.scalar(select(Introduction.id).where(
            Introduction.lead_id == lead.id, Introduction.seq == body.corrects)):
        raise NotFound("no such entry to correct", code="introduction.not_found", field="body.corrects")
    consent = await session.scalar(select(LeadConsent).where(
        LeadConsent.lead_id == lead.id, LeadConsent.broker_id == principal.user_id,
        LeadConsent.granted_at.is_not(None)))
    row = await _append(session, lead, LedgerEntryKind.correction if body.corrects else LedgerEntryKind.introduction,
                        principal.user_id, consent=_consent_record(consent) if consent else None, note=body.note,
                        corrects=body.corrects)
    audit.record(session, principal, "introduction.recorded", "lead", lead.id,
                 {"seq": {"before": None, "after": row.seq}, "kind": {"before": None, "after": row.kind}})
    return row


async def _readable_ledger(session: AsyncSession, principal: Principal, lead_id: uuid.UUID):
    """The parties (both owners), the brokers on the lead (working it, or named in it) and operators;
    others learn nothing (404)."""
    lead, need, need_org, achievement, achievement_org, revealed = await get_lead(session, principal, lead_id)
    rows = list((await session.scalars(select(Introduction).where(Introduction.lead_id == lead_id)
                                       .order_by(Introduction.seq))).all())
    party = principal.organisation_id in (need.organisation_id, achievement.organisation_id)
    broker = principal.user_id is not None and (lead.claimed_by == principal.user_id
                                                or any(r.broker_id == principal.user_id for r in rows))
    if not (principal.is_operator or party or broker):
        raise NotFound("lead not found", code="lead.not_found")
    shown = need_org if not need.confidential or is_insider(need, principal) or revealed else CONFIDENTIAL_OWNER
    return rows, shown, achievement_org


async def ledger(session: AsyncSession, principal: Principal, lead_id: uuid.UUID) -> list[IntroductionRead]:
    rows, need_org, achievement_org = await _readable_ledger(session, principal, lead_id)
    return [IntroductionRead(
        seq=r.seq, kind=r.kind, lead_id=r.lead_id, broker_id=r.broker_id, need_organisation=need_org,
        achievement_organisation=achievement_org, recorded_at=r.recorded_at,
        consent=r.consent if need_org != CONFIDENTIAL_OWNER else (r.consent and {"granted": True}),
        note=r.note, corrects=r.corrects, prev_hash=r.prev_hash, hash=r.hash) for r in rows]


async def verify(session: AsyncSession, principal: Principal, lead_id: uuid.UUID) -> LedgerVerification:
    rows, _, _ = await _readable_ledger(session, principal, lead_id)
    broken = broken_at(rows)
    return LedgerVerification(lead_id=lead_id, entries=len(rows), valid=broken is None, broken_at=broken)


async def introducing_broker(session: AsyncSession, lead_id: uuid.UUID) -> uuid.UUID | None:
    """The broker of the lead's first introduction: the one a deal made from the lead attributes."""
    return await session.scalar(select(Introduction.broker_id).where(
        Introduction.lead_id == lead_id, Introduction.kind == LedgerEntryKind.introduction)
        .order_by(Introduction.seq).limit(1))

