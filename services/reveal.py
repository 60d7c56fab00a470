"""The one rule that reveals a confidential firm behind a lead to someone outside it (#12: never without
consent). A broker sees the firm once the firm granted that broker's consent request on the lead they
work; the achievement's owner once, in addition, the broker recorded the introduction in the ledger.
The owner and operators are insiders anyway (services.listings.rules.is_insider)."""

from sqlalchemy import ColumnElement, and_, exists, false, select

from schemas.brokers import Introduction, LeadConsent
from schemas.enums import LedgerEntryKind
from schemas.tables import Achievement, Lead
from services.principal import Principal


def consented(broker=None) -> ColumnElement[bool]:
    """The firm granted a consent request on this lead (to `broker`, when given)."""
    where = [LeadConsent.lead_id == Lead.id, LeadConsent.granted_at.is_not(None)]
    if broker is not None:
        where.append(LeadConsent.broker_id == broker)
    return exists(select(LeadConsent.id).where(*where))


def introduced() -> ColumnElement[bool]:
    return exists(select(Introduction.id).where(Introduction.lead_id == Lead.id,
                                                Introduction.kind == LedgerEntryKind.introduction))


def firm_revealed(principal: Principal) -> ColumnElement[bool]:
    """Whether `principal` may see the firm behind the lead's need; a SQL condition on `Lead` and
    `Achievement`, so lists and single reads ask it in their own query."""
    if principal.user_id is None and principal.organisation_id is None:
        return false()
    rules = []
    if principal.is_broker and principal.user_id is not None:
        rules.append(and_(Lead.claimed_by == principal.user_id, consented(principal.user_id)))
    if principal.organisation_id is not None:
        rules.append(and_(Achievement.organisation_id == principal.organisation_id, consented(), introduced()))
    return rules[0] if len(rules) == 1 else (rules[0] | rules[1]) if rules else false()
