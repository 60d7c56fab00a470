"""Organisations: registration (one per credit code and per folded name), listing, editing, and the
platform operator's own with its first admin account."""

import secrets
import uuid

from sqlalchemy import or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.enums import OrgKind, Role
from schemas.identity import OrganisationCreate, OrganisationUpdate, UserCreate
from schemas.tables import Organisation, User
from services import audit
from services.db import flush_or_conflict
from services.errors import Conflict, Forbidden
from services.identity.access import get_organisation, require_org_admin
from services.identity.passwords import hash_password
from services.identity.users import create_user
from services.principal import Principal
from services.text import normalise

ORGANISATION_CONFLICTS = {"organisation_credit_code_key": lambda: Conflict(
    "an organisation with this credit code exists", code="organisation.duplicate_credit_code",
    field="body.credit_code")}


def organisation_name_key(name: str) -> str:
    """The name as organisations are told apart: either script, any width and spacing (四川大學 = 四川大学)."""
    return "".join(normalise(name).split())


async def _refuse_duplicate(session: AsyncSession, name: str, credit_code: str | None,
                            org_id: uuid.UUID | None = None) -> str:
    """One organisation per 统一社会信用代码 and per folded name: a second registration is a 409 that
    names the one that exists. Returns the folded name."""
    key = organisation_name_key(name)
    # Two registrations of the same organisation at once: the second waits for the first, then sees it.
    for lock in sorted({f"organisation:{key}", f"organisation:{credit_code}"} if credit_code else
                       {f"organisation:{key}"}):
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": lock})
    match = or_(Organisation.name_key == key, Organisation.credit_code == credit_code) if credit_code \
        else Organisation.name_key == key
    stmt = select(Organisation).where(match)
    if org_id is not None:
        stmt = stmt.where(Organisation.id != org_id)
    existing = (await session.scalars(stmt.order_by(Organisation.created_at).limit(1))).first()
    if existing is not None:
        by_code = credit_code is not None and existing.credit_code == credit_code
        raise Conflict(
            f"{'this credit code' if by_code else 'this name'} is registered to organisation "
            f"{existing.name} ({existing.id})",
            code="organisation.duplicate_credit_code" if by_code else "organisation.duplicate_name",
            field="body.credit_code" if by_code else "body.name", organisation_id=str(existing.id),
            organisation_name=existing.name)
    return key


def _org_values(org: Organisation) -> dict:
    return {"kind": org.kind, "name": org.name, "credit_code": org.credit_code, "region": org.region,
            "contact": org.contact}


async def create_organisation(
    session: AsyncSession, principal: Principal, body: OrganisationCreate, admin: UserCreate | None = None,
) -> tuple[Organisation, User | None]:
    if not principal.is_operator:
        raise Forbidden("only operators register organisations", code="organisation.forbidden")
    key = await _refuse_duplicate(session, body.name, body.credit_code)
    org = Organisation(kind=body.kind.value, name=body.name, name_key=key, credit_code=body.credit_code,
                       region=body.region, contact=body.contact.model_dump(exclude_none=True))
    session.add(org)
    await flush_or_conflict(session, ORGANISATION_CONFLICTS)
    audit.record(session, principal, "organisation.created", "organisation", org.id, audit.diff({}, _org_values(org)))
    user = await create_user(session, principal, org.id, admin) if admin else None
    return org, user


async def list_organisations(session: AsyncSession, kind: OrgKind | None, limit: int, after: list | None):
    stmt = select(Organisation).order_by(Organisation.name, Organisation.id).limit(limit + 1)
    if kind:
        stmt = stmt.where(Organisation.kind == kind.value)
    if after:
        name, last_id = after
        stmt = stmt.where(tuple_(Organisation.name, Organisation.id) > tuple_(name, last_id))
    return list((await session.scalars(stmt)).all())


async def update_organisation(
    session: AsyncSession, principal: Principal, org_id: uuid.UUID, body: OrganisationUpdate,
) -> Organisation:
    org = await get_organisation(session, org_id)
    await require_org_admin(session, principal, org_id)
    before = _org_values(org)
    changes = body.model_dump(exclude_unset=True)
    if "name" in changes or changes.get("credit_code"):
        org.name_key = await _refuse_duplicate(session, changes.get("name", org.name), changes.get("credit_code"),
                                               org.id)
    for key, value in changes.items():
        setattr(org, key, value if key != "contact" else (value or {}))
    await flush_or_conflict(session, ORGANISATION_CONFLICTS)
    audit.record(session, principal, "organisation.updated", "organisation", org.id,
                 audit.diff(before, _org_values(org)))
    return org


async def ensure_operator_admin(sessions, email: str, password: str | None) -> tuple[bool, str | None]:
    """The first operator account (`market createadmin`): created once, its password printed once."""
    async with sessions() as session, session.begin():
        if await session.scalar(select(User).where(User.email == email.lower())):
            return False, None
        org = await session.scalar(select(Organisation).where(Organisation.kind == OrgKind.operator))
        if org is None:
            org = Organisation(kind=OrgKind.operator, name="科创生态岛 平台运营", region="cd.hightech",
                               name_key=organisation_name_key("科创生态岛 平台运营"))
            session.add(org)
            await session.flush()
        password = password or secrets.token_urlsafe(12)
        user = User(organisation_id=org.id, email=email.lower(), display_name="平台管理员",
                    password_hash=await hash_password(password), roles=[Role.admin, Role.operator])
        session.add(user)
        await session.flush()
        audit.record(session, Principal(kind="system"), "user.created", "user", user.id,
                     {"email": {"before": None, "after": user.email}})
        return True, password
