"""`market seed`: the demo organisations and listings from seed/demo, loaded idempotently.

The taxonomy needs no loading (it is read from seed/taxonomy); demo listings go through the same
validation and upsert as a bulk import, in the status their file gives.
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import yaml
from sqlalchemy import select

from schemas.brokers import ActivityCreate, BrokerProfile, ConsentGrant, IntroductionCreate, RatingCreate, StageChange
from schemas.enums import LeadSource, LeadStage, LeadStatus, ListingStatus, ListKind, Role
from schemas.tables import Achievement, Lead, Need, Organisation, User
from services import activities, imports, introductions, pipeline, ratings
from services.demo_deals import load_deals
from services.identity.organisations import organisation_name_key
from services.identity.passwords import hash_password
from services.matching import ENGINE_VERSION
from services.principal import Principal
from services.progress import SILENT, Progress
from services.taxonomy import SEED

DEMO = SEED / "demo"
FILES = {ListKind.achievements: "achievements.jsonl", ListKind.needs: "needs.jsonl"}


async def load_seed(ctx, demo: bool, progress: Progress = SILENT) -> dict[str, int]:
    counts: dict[str, int] = {}
    if not demo:
        return counts
    organisations = yaml.safe_load((DEMO / "organisations.yaml").read_text(encoding="utf-8"))
    by_key: dict[str, Organisation] = {}
    async with ctx.sessions() as session, session.begin():
        for entry in organisations:
            org = await session.scalar(select(Organisation).where(Organisation.credit_code == entry["credit_code"]))
            if org is None:
                org = Organisation(kind=entry["kind"], name=entry["name"], credit_code=entry["credit_code"],
                                   name_key=organisation_name_key(entry["name"]),
                                   region=entry.get("region"), contact=entry.get("contact") or {})
                session.add(org)
                await session.flush()
            by_key[entry["key"]] = org
    counts["organisations"] = len(by_key)
    files = {kind: imports.parse((DEMO / name).read_bytes(), "jsonl") for kind, name in FILES.items()}
    progress.start(sum(len(rows) for rows in files.values()))
    for kind, name in FILES.items():
        rows_by_org: dict[str, list[dict]] = defaultdict(list)
        for row in files[kind]:
            rows_by_org[row.get("org")].append(row)
        loaded = 0
        for key, rows in rows_by_org.items():
            org = by_key[key]
            plan = imports.validate(kind, rows, ignore={"org", "status"})
            if plan.report.errors:
                raise ValueError(f"seed/demo/{name}: {plan.report.errors[:3]}")
            principal = Principal(kind="system", organisation_id=org.id, org_kind=org.kind)
            async with ctx.sessions() as session, session.begin():
                await imports.apply(session, principal, kind, plan,
                                    lambda raw: ListingStatus(raw.get("status", "published")))
            loaded += len(rows)
            progress.advance(len(rows))
        counts[kind.value] = loaded
    counts["pipeline_leads"] = await load_pipeline(ctx, by_key)
    counts["deals"] = await load_deals(ctx, by_key)
    return counts


PIPELINE = (LeadStage.contacted, LeadStage.introduced, LeadStage.negotiating, LeadStage.won)


def _user_principal(user: User) -> Principal:
    return Principal(kind="user", organisation_id=user.organisation_id, user_id=user.id, roles=frozenset(user.roles))


async def _users(session, entries: list[dict], orgs: dict[str, Organisation], password: str) -> dict[str, User]:
    users = {}
    for entry in entries:
        user = await session.scalar(select(User).where(User.email == entry["email"]))
        if user is None:
            user = User(organisation_id=orgs[entry["org"]].id, email=entry["email"], roles=entry["roles"],
                        display_name=entry["display_name"], password_hash=await hash_password(password))
            session.add(user)
            await session.flush()
        users[entry["email"]] = user
    return users


async def load_pipeline(ctx, orgs: dict[str, Organisation]) -> int:
    """Demo brokers with profiles and leads in every stage (seed/demo/brokers.yaml), written through the
    same services as the API, so the audit log, the ledger and the outbox look as they would. A lead that
    already has a broker or left `new` is left alone: seeding twice changes nothing."""
    data = yaml.safe_load((DEMO / "brokers.yaml").read_text(encoding="utf-8"))
    now, worked = datetime.now(UTC), 0
    async with ctx.sessions() as session, session.begin():
        users = await _users(session, data["users"] + [{**b, "roles": [Role.broker]} for b in data["brokers"]],
                             orgs, data["password"])
        brokers = {b["key"]: users[b["email"]] for b in data["brokers"]}
        for entry in data["brokers"]:
            if await session.get(BrokerProfile, brokers[entry["key"]].id) is None:
                session.add(BrokerProfile(id=brokers[entry["key"]].id, organisation_id=orgs[entry["org"]].id, **{
                    k: entry[k] for k in ("level", "certificate_number", "specialties", "regions", "capacity", "bio")}))
        await session.flush()
        for entry in data["leads"]:
            need_id = await session.scalar(select(Need.id).where(Need.external_id == entry["need"]))
            achievement_id = await session.scalar(select(Achievement.id).where(
                Achievement.external_id == entry["achievement"]))
            lead = await session.scalar(select(Lead).where(Lead.need_id == need_id,
                                                           Lead.achievement_id == achievement_id))
            if lead is not None and (lead.claimed_by is not None or lead.stage != LeadStage.new):
                continue
            if lead is None:
                lead = Lead(need_id=need_id, achievement_id=achievement_id, source=LeadSource.manual,
                            status=LeadStatus.active, score=entry["score"], engine_version=ENGINE_VERSION, reasons={
                                "engine_version": ENGINE_VERSION, "score": entry["score"], "matched_terms": [],
                                "components": [], "added_by": "demo"})
                session.add(lead)
                await session.flush()
            if entry.get("broker"):
                await _work(session, lead, _user_principal(brokers[entry["broker"]]), entry, users, now)
                worked += 1
    return worked


async def _work(session, lead: Lead, broker: Principal, entry: dict, users: dict[str, User], now: datetime) -> None:
    await pipeline.claim(session, broker, lead.id)
    lead.claimed_at = now - timedelta(days=entry.get("claimed_days_ago", 0))
    for activity in entry.get("activities", []):
        follow_up = activity.get("follow_up_in_days")
        await activities.add(session, broker, lead.id, ActivityCreate(
            kind=activity["kind"], text=activity["text"], at=now - timedelta(days=activity["days_ago"]),
            follow_up_on=(now + timedelta(days=follow_up)).date() if follow_up is not None else None))
    if consent := entry.get("consent"):
        await introductions.request_consent(session, broker, lead.id)
        await introductions.grant_consent(session, _user_principal(users[consent["by"]]), lead.id, ConsentGrant(
            method=consent["method"], note=consent.get("note")))
    for introduction in entry.get("introductions", []):
        await introductions.record(session, broker, lead.id, IntroductionCreate(note=introduction["note"]))
    stage = LeadStage(entry["stage"])
    path = PIPELINE[:PIPELINE.index(stage) + 1] if stage in PIPELINE else (stage,) if stage == LeadStage.lost else ()
    for step in path:
        await pipeline.change_stage(session, broker, lead.id, StageChange(stage=step, reason=entry.get("reason")
                                                                         if step == LeadStage.lost else None))
    for rating in entry.get("ratings", []):
        await ratings.rate(session, _user_principal(users[rating.pop("by")]), lead.id, RatingCreate(**rating))
