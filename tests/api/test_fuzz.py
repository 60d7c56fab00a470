"""Schemathesis over every operation of the API, as each kind of caller: no input gives a 5xx, and
every answer matches the documented status codes, media types and schemas.

Bounded for CI (FUZZ_MAX_EXAMPLES examples per operation, role and generation mode; fixed seed);
`make fuzz` runs it with a larger budget.
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from market.app import create_app
from tests.factories import create_listing

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "2"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ROLES = ("anonymous", "operator", "university", "enterprise", "broker")


@pytest.fixture
def fuzz_schema(settings):
    """A second app on the same database, run by schemathesis on its own event loop thread."""
    app = create_app(settings)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    asgi.shutdown_lifespans()


@pytest.fixture
async def world(market, search) -> dict:
    """A published listing of each kind, a lead between them, and a caller of each role: the fuzzer
    reaches past the 404s with these ids."""
    operator = await market.operator()
    university = await market.organisation("university")
    enterprise = await market.organisation("enterprise")
    broker = await market.broker()
    achievement = await create_listing(market, "achievements", university)
    need = await create_listing(market, "needs", enterprise)
    lead = await market.client.post("/v1/leads", headers=broker.headers,
                                    json={"need_id": need["id"], "achievement_id": achievement["id"]})
    assert lead.status_code == 201, lead.text
    member = await market.user(university, ["org_member"])
    publication = await market.client.post("/v1/publications", headers=operator.headers,
                                           json={"list_kind": "achievements"})
    assert publication.status_code == 201, publication.text
    return {
        "headers": {"anonymous": {}, "operator": operator.headers, "university": university.headers,
                    "enterprise": enterprise.headers, "broker": broker.headers},
        "ids": {"organisation_id": university.organisation_id, "user_id": member.user_id,
                "lead_id": lead.json()["id"], "need_id": need["id"], "achievement_id": achievement["id"],
                "publication_id": publication.json()["id"], "list_kind": "achievements"},
        "listing_ids": {"achievements": achievement["id"], "needs": need["id"]},
    }


def _known_ids(operation, world: dict) -> dict | None:
    names = [p.name for p in operation.path_parameters]
    if not names:
        return None
    ids = dict(world["ids"])
    ids["listing_id"] = world["listing_ids"]["needs" if operation.path.startswith("/v1/needs") else "achievements"]
    return {name: ids[name] for name in names} if all(name in ids for name in names) else None


def _fuzz(operation, headers: dict, known: dict | None) -> str | None:
    strategies = [operation.as_strategy(generation_mode=mode)
                  for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
    if known:
        strategies.append(operation.as_strategy(path_parameters=known))

    @settings(max_examples=MAX_EXAMPLES * len(strategies), derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=st.one_of(strategies))
    def run(case):
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # collected: one run reports every failing operation
        return f"{operation.label}: {exc}"
    return None


@pytest.mark.commits  # the fuzzed app has its own engine
def test_no_input_gives_a_server_error(fuzz_schema, world):
    failures = []
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]
    assert len(operations) >= 50
    for role in ROLES:
        for operation in operations:
            failure = _fuzz(operation, world["headers"][role], _known_ids(operation, world))
            if failure:
                failures.append(f"[{role}] {failure}")
    assert not failures, "\n\n".join(failures)
