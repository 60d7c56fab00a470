"""Contract registration (技术合同认定登记): the record on a deal, its number, and the 技术合同登记表 data.

unregistered → submitted → registered | refused (and refused → submitted again). The parties submit;
operators record what the registration point decided. Once registered, the certified technical income
(核定技术性收入) is what the statistics count as 技术交易额.

Registration numbers: today 16 digits (4-digit year + the registering place's 6-digit GB/T 2260 code +
6-digit serial); older ones 14 (2-digit year + 2 province + 2 city + 2 registration point + 6 serial).
The year and the division are checked against seed/taxonomy/divisions.yaml.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import lru_cache

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.deals import COUNTED, Deal, FormParty, RegistrationForm
from schemas.enums import CONTRACT_TYPE_LABELS, LABELS, ContractType
from schemas.enums import RegistrationState as S
from schemas.tables import Achievement, Need, Organisation, User
from services import audit, outbox
from services.db import flush_or_conflict
from services.deals import get_row, is_party_writer, local_date
from services.errors import Conflict, Forbidden, Invalid
from services.principal import Principal
from services.taxonomy import SEED, taxonomy


class Action(StrEnum):
    submit = "submit"
    register = "register"
    refuse = "refuse"


# action -> (states it applies to, resulting state, who: parties or operators)
TRANSITIONS: dict[Action, tuple[frozenset[S], S, str]] = {
    Action.submit: (frozenset({S.unregistered, S.refused}), S.submitted, "party"),
    # an operator may also record a registration the parties obtained without submitting here
    Action.register: (frozenset({S.unregistered, S.submitted}), S.registered, "operator"),
    Action.refuse: (frozenset({S.submitted}), S.refused, "operator"),
}


def next_state(current: S | str, action: Action) -> S:
    allowed_from, to, _ = TRANSITIONS[action]
    if S(current) not in allowed_from:
        raise Conflict(f"cannot {action.value} a registration that is {S(current).value}",
                       code="registration.illegal_transition", field="registration.state")
    return to


# --- data: divisions and the form's area codes ------------------------------------------------------------

@dataclass(frozen=True)
class Places:
    divisions: dict[str, str]  # GB/T 2260 code -> name
    complete: frozenset[str]  # provinces whose prefecture list is complete
    areas: dict[str, str]  # 4-digit form area code -> name
    region_areas: dict[str, str]  # region code or scope -> area code

    def area_of(self, region: str | None) -> tuple[str, str]:
        """The form's area code of one of our region codes (`cd.wuhou` → 5101 成都市); unknown → 8000."""
        code = self.region_areas.get(region or "") or self.region_areas.get((region or "").split(".", 1)[0], "8000")
        return code, self.areas[code]


@lru_cache(maxsize=1)
def places() -> Places:
    divisions = yaml.safe_load((SEED / "taxonomy" / "divisions.yaml").read_text(encoding="utf-8"))
    areas = yaml.safe_load((SEED / "taxonomy" / "contract_areas.yaml").read_text(encoding="utf-8"))
    return Places({d["code"]: d["name"] for d in divisions["divisions"]}, frozenset(divisions["complete"]),
                  areas["areas"], areas["regions"])


def check_number(number: str, registered_on: date | None, today: date, field: str = "body.number") -> str:
    """A registration number as issued, checked; raises Invalid naming the field."""
    def refuse(reason: str) -> Invalid:
        return Invalid(f"registration number {number!r}: {reason}", code="registration.invalid_number", field=field)

    if not number.isdigit() or len(number) not in (14, 16):
        raise refuse("16 digits (or 14 for the older form)")
    data = places()
    if len(number) == 16:
        year, division, serial = int(number[:4]), number[4:10], number[10:]
        if division not in data.divisions:
            raise refuse(f"{division} is not a known GB/T 2260 division code")
    else:
        yy, province, city, serial = int(number[:2]), number[2:4], number[4:6], number[8:]
        year = 2000 + yy if 2000 + yy <= today.year else 1900 + yy
        if province + "0000" not in data.divisions:
            raise refuse(f"{province} is not a province code")
        if province in data.complete and city != "00" and province + city + "00" not in data.divisions:
            raise refuse(f"{province}{city} is not a city of province {province}")
    if not 1985 <= year <= today.year:  # technology contract registration began in the 1980s
        raise refuse(f"year {year} is not a registration year")
    if registered_on is not None and registered_on.year != year:
        raise refuse(f"year {year} differs from the registration date's year {registered_on.year}")
    if int(serial) == 0:
        raise refuse("the serial is 000000")
    return number


# --- the record -----------------------------------------------------------------------------------------

def _values(deal: Deal) -> dict:
    return {"registration_state": deal.registration_state, "registration_number": deal.registration_number,
            "registered_on": deal.registered_on, "certified_income": deal.certified_income,
            "registration_refusal": deal.registration_refusal, "field": deal.field, "seller_type": deal.seller_type}


async def _move(session: AsyncSession, principal: Principal, deal_id: uuid.UUID, action: Action) -> tuple[Deal, dict]:
    deal, _, _ = await get_row(session, principal, deal_id, lock=True)
    who = TRANSITIONS[action][2]
    if not (principal.is_operator or (who == "party" and is_party_writer(principal, deal))):
        raise Forbidden("the parties submit a registration; operators record the decision",
                        code="registration.write_forbidden")
    if deal.status not in COUNTED:
        raise Conflict("only a signed contract is registered", code="deal.not_signed", field="status")
    before = _values(deal)
    deal.registration_state = next_state(deal.registration_state, action)
    return deal, before


def _record(session: AsyncSession, principal: Principal, deal: Deal, before: dict, topic: str) -> None:
    deal.updated_at = datetime.now(UTC)
    audit.record(session, principal, topic, "deal", deal.id, audit.diff(before, _values(deal)))
    outbox.emit(session, topic, "deal", deal.id, {"registration_state": deal.registration_state})


async def submit(session: AsyncSession, principal: Principal, deal_id: uuid.UUID, body) -> Deal:
    deal, before = await _move(session, principal, deal_id, Action.submit)
    if body.field is not None:
        deal.field = taxonomy().check_field(body.field, "body.field")
    if body.seller_type is not None:
        deal.seller_type = body.seller_type
    deal.registration_refusal = None
    _record(session, principal, deal, before, "deal.registration_submitted")
    return deal


async def register(session: AsyncSession, principal: Principal, deal_id: uuid.UUID, body) -> Deal:
    deal, before = await _move(session, principal, deal_id, Action.register)
    today = local_date(datetime.now(UTC))
    if body.registered_on > today:
        raise Invalid("the registration date is in the future", code="registration.future_date",
                      field="body.registered_on")
    if deal.signed_on is not None and body.registered_on < deal.signed_on:
        raise Invalid("registered before the contract was signed", code="registration.before_signing",
                      field="body.registered_on")
    if body.certified_income > deal.amount:
        raise Invalid("the certified technical income exceeds the contract amount",
                      code="registration.income_exceeds_amount", field="body.certified_income")
    deal.registration_number = check_number(body.number, body.registered_on, today)
    deal.registered_on, deal.certified_income = body.registered_on, body.certified_income
    await flush_or_conflict(session, {"deal_registration_number_key": lambda: Conflict(
        "another contract has this registration number", code="registration.duplicate_number",
        field="body.number")})
    _record(session, principal, deal, before, "deal.registered")
    return deal


async def refuse(session: AsyncSession, principal: Principal, deal_id: uuid.UUID, reason: str) -> Deal:
    deal, before = await _move(session, principal, deal_id, Action.refuse)
    deal.registration_refusal = reason
    _record(session, principal, deal, before, "deal.registration_refused")
    return deal


# --- the form -------------------------------------------------------------------------------------------

FORM_LABELS = {  # the form's fields, in its order, with the labels an operator hands in
    "contract_title": "合同名称", "registration_number": "登记编号", "registered_on": "登记日期",
    "contract_type_label": "合同类别", "signed_on": "签订日期", "term_start": "有效期起", "term_end": "有效期止",
    "amount": "合同成交额（元）", "technology_amount": "技术交易额（元）", "certified_income": "核定技术性收入（元）",
    "field_name": "技术领域", "seller_type_label": "卖方类型",
    "seller.name": "卖方名称", "seller.credit_code": "卖方统一社会信用代码", "seller.area_code": "卖方所在地区代码",
    "seller.area_name": "卖方所在地区",
    "buyer.name": "买方名称", "buyer.credit_code": "买方统一社会信用代码", "buyer.area_code": "买方所在地区代码",
    "buyer.area_name": "买方所在地区",
    "ip": "知识产权", "broker_name": "技术经纪人", "achievement_title": "相关科技成果", "need_title": "相关技术需求",
}
# What the registration point needs before it can certify; the number, date and income come from it.
REQUIRED = ("signed_on", "term_start", "term_end", "field", "seller.credit_code", "buyer.credit_code",
            "seller.region", "buyer.region")
IP_TYPES = (ContractType.transfer, ContractType.licence)  # these contracts name the IP they transfer


def _party(org: Organisation) -> FormParty:
    code, name = places().area_of(org.region)
    return FormParty(name=org.name, credit_code=org.credit_code, region=org.region, area_code=code, area_name=name)


async def form(session: AsyncSession, principal: Principal, deal_id: uuid.UUID) -> RegistrationForm:
    deal, _, _ = await get_row(session, principal, deal_id)
    seller, buyer = await session.get(Organisation, deal.seller_id), await session.get(Organisation, deal.buyer_id)
    broker = await session.get(User, deal.broker_id) if deal.broker_id else None
    achievement = await session.get(Achievement, deal.achievement_id) if deal.achievement_id else None
    need = await session.get(Need, deal.need_id) if deal.need_id else None
    node = taxonomy().fields.get(deal.field or "")
    result = RegistrationForm(
        deal_id=deal.id, contract_title=deal.title, contract_type=deal.contract_type,
        contract_type_label=CONTRACT_TYPE_LABELS[deal.contract_type], registration_number=deal.registration_number,
        registered_on=deal.registered_on, signed_on=deal.signed_on, term_start=deal.term_start,
        term_end=deal.term_end, amount=deal.amount, technology_amount=deal.technology_amount,
        certified_income=deal.certified_income, field=deal.field, field_name=node.name if node else None,
        seller_type=deal.seller_type, seller_type_label=LABELS[deal.seller_type], seller=_party(seller),
        buyer=_party(buyer), ip=deal.ip, broker_name=broker.display_name if broker else None,
        achievement_title=achievement.title if achievement else None, need_title=need.title if need else None,
        missing=[])
    data = result.model_dump()
    missing = [name for name in REQUIRED if _lookup(data, name) in (None, "")]
    if deal.contract_type in IP_TYPES and not deal.ip:
        missing.append("ip")
    result.missing = missing
    return result


def _lookup(data: dict, dotted: str):
    for part in dotted.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def form_rows(result: RegistrationForm) -> list[list]:
    """The form as (label, value) rows for the XLSX: amounts as numbers, everything else as text."""
    data = result.model_dump()
    rows = []
    for name, label in FORM_LABELS.items():
        value = _lookup(data, name)
        if name == "ip":
            value = "；".join(f"{LABELS.get(r['type'], r['type'])} {r.get('number') or ''}".strip()
                             for r in result.model_dump(mode="json")["ip"])
        rows.append([label, value.isoformat() if isinstance(value, date) else value])
    labels = {**FORM_LABELS, "field": "技术领域", "seller.region": "卖方所在地区", "buyer.region": "买方所在地区"}
    rows.append(["待补充", "、".join(labels.get(m, m) for m in result.missing)])
    return rows
