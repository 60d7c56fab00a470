"""Listing rows to search documents: only public fields, plus the normalised text that is searched.

The original text is kept for display; `*_n` fields hold the simplified, normalised form so that a
query in either script finds documents in either script (DOMAIN.md, "Text is Chinese, in both scripts").
"""

import re
from datetime import date, datetime
from decimal import Decimal

from schemas.listings import CONFIDENTIAL_OWNER
from schemas.tables import Achievement, Need
from services.kinds import ACHIEVEMENT
from services.taxonomy import taxonomy
from services.text import normalise


def _ts(value: datetime | date | None) -> int | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        return day_stamp(value)
    return int(value.timestamp())


def day_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def day_stamp(value: date) -> int:
    """A day as the number a document stores for it (filters compare with the same function)."""
    return int(datetime(value.year, value.month, value.day).timestamp())


def _num(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None  # for range filters only; money stays Decimal in PG


def _common(row, org_name: str, owner_key: str, fields: list[str]) -> dict:
    tax = taxonomy()
    paths = sorted({p for code in fields if code in tax.fields for p in tax.path(code)})
    region = tax.regions.get(row.region) if row.region else None
    return {
        "id": str(row.id),
        "title": row.title,
        "keywords": row.keywords,
        "field": row.field,
        "field_top": tax.top(row.field) if row.field in tax.fields else row.field,
        "field_path": paths,
        "region": row.region,
        "region_scope": region.scope if region else None,
        "organisation_id": str(row.organisation_id),
        "organisation_name": org_name,
        "owner_org": owner_key,
        "updated_at": _ts(row.updated_at),
        "published_at": _ts(row.published_at),
        "title_n": normalise(row.title),
        "keywords_n": [normalise(k) for k in row.keywords],
    }


def ip_number_variants(number: str) -> set[str]:
    """The ways people write one IP number, so any of them finds it: ZL202110123456.7 is also searched
    as 202110123456.7, ZL2021101234567, 2021101234567 and (without its check digit) 202110123456."""
    value = number.lower().replace(" ", "")
    bare = re.sub(r"^(zl|cn|bs\.?)", "", value)
    variants = {value, value.replace(".", ""), bare, bare.replace(".", "")}
    if re.fullmatch(r"\d{12}\.[0-9x]", bare):  # a patent application number: also its 12 digits
        variants.add(bare[:12])
    return variants


def achievement_document(row: Achievement, org_name: str, owner_key: str) -> dict:
    return {
        **_common(row, org_name, owner_key, [row.field, *row.secondary_fields]),
        "summary": row.summary,
        "secondary_fields": row.secondary_fields,
        "trl": row.trl,
        "stage": row.stage,
        "modes": row.transfer_modes,
        "price_negotiable": row.price_negotiable,
        "price_min": _num(row.price_min),
        "price_max": _num(row.price_max),
        "ip_types": sorted({ip.get("type") for ip in row.ip if ip.get("type")}),
        "ip_numbers": sorted({v for ip in row.ip if ip.get("number") for v in ip_number_variants(ip["number"])}),
        "summary_n": normalise(row.summary),
        "description_n": normalise(row.description),
        # The problem side (应用场景, 解决的问题) speaks the buyers' language: need terms meet it here.
        "problem_n": normalise("。".join(getattr(row, name) for name in ACHIEVEMENT.problem).strip("。")),
    }


def need_document(row: Need, org_name: str, owner_key: str) -> dict:
    document = {
        **_common(row, org_name, owner_key, [row.field]),
        "summary": row.description[:160],
        "trl": row.required_trl,
        "modes": row.cooperation_modes,
        "budget_negotiable": row.budget_negotiable,
        "budget_min": _num(row.budget_min),
        "budget_max": _num(row.budget_max),
        "deadline": _ts(row.deadline),  # for filters and sorting
        "deadline_date": row.deadline.isoformat() if row.deadline else None,  # for display
        "confidential": row.confidential,
        "challenge": row.challenge_reward is not None,
        "summary_n": "",
        "description_n": normalise(row.description),
    }
    if row.confidential:  # the public index never learns who a confidential firm is
        document.update(organisation_id=None, organisation_name=CONFIDENTIAL_OWNER)
    return document
