"""The lead pipeline's transition table, the routing fit and the webhook backoff and signature."""

from datetime import timedelta

import pytest

from schemas.brokers import BrokerProfile
from schemas.enums import LeadStage
from services.errors import Conflict
from services.pipeline import TRANSITIONS, next_stage
from services.webhooks import backoff, check_url, sign

S = LeadStage
ALLOWED = {(S.new, S.contacted), (S.new, S.lost), (S.contacted, S.introduced), (S.contacted, S.lost),
           (S.introduced, S.negotiating), (S.introduced, S.lost), (S.negotiating, S.won), (S.negotiating, S.lost)}


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("wanted", list(S))
def test_every_stage_move_is_allowed_or_refused(current, wanted):
    if (current, wanted) in ALLOWED:
        assert next_stage(current, wanted) == wanted
    else:
        with pytest.raises(Conflict) as refused:
            next_stage(current, wanted)
        assert refused.value.code == "lead.illegal_transition"


def test_won_and_lost_are_final():
    assert TRANSITIONS[S.won] == TRANSITIONS[S.lost] == frozenset()


@pytest.mark.parametrize(("specialties", "regions", "expected"), [
    (["modern_agriculture.smart_agriculture"], ["cd.pujiang"], 3),
    (["modern_agriculture.smart_agriculture"], [], 2),
    (["modern_agriculture"], ["cd.pujiang"], 2),
    (["modern_agriculture"], [], 1),
    ([], ["cd.pujiang"], 1),
    (["biomedicine"], ["cd.wuhou"], 0),
])
def test_broker_fit(specialties, regions, expected):
    from services.brokers import fits

    profile = BrokerProfile(level="junior", organisation_id=None, specialties=specialties, regions=regions)
    assert fits(profile, "modern_agriculture.smart_agriculture", {"cd.pujiang"}) == expected


@pytest.mark.parametrize(("attempts", "wait"), [
    (1, timedelta(seconds=30)), (2, timedelta(seconds=60)), (5, timedelta(minutes=8)), (8, timedelta(hours=1)),
    (40, timedelta(hours=1)),
])
def test_webhook_backoff_grows_and_is_capped(attempts, wait):
    assert backoff(attempts) == wait


def test_signature_is_hmac_over_timestamp_and_body():
    import hashlib
    import hmac

    expected = hmac.new(b"s3cret", b"1700000000." + b'{"id":1}', hashlib.sha256).hexdigest()
    assert sign("s3cret", "1700000000", b'{"id":1}') == "sha256=" + expected


@pytest.mark.parametrize(("url", "environment", "ok"), [
    ("https://crm.example.cn/hook", "production", True),
    ("http://crm.example.cn/hook", "production", False),
    ("https://10.0.0.5/hook", "production", False),
    ("https://169.254.169.254/latest", "production", False),
    ("https://127.0.0.1/hook", "production", False),
    ("http://127.0.0.1:9000/hook", "development", True),
    ("http://localhost:9000/hook", "test", True),
    ("http://crm.example.cn/hook", "development", False),
    ("https://user:pw@crm.example.cn/hook", "development", False),
    ("ftp://crm.example.cn/hook", "development", False),
])
def test_endpoint_urls(url, environment, ok):
    from services.errors import Invalid

    if ok:
        assert check_url(url, environment) == url
    else:
        with pytest.raises(Invalid):
            check_url(url, environment)
