"""No silently ignored parameter: an unknown one is a 422 naming it; page size has one rule everywhere."""

import re
import uuid

import pytest

from tests.factories import create_listing
from tests.routes import api_routes


async def test_every_get_route_refuses_an_unknown_parameter(app, client, market):
    operator = await market.operator()
    routes = [r for r in api_routes(app) if "GET" in r.methods]
    assert len(routes) > 10
    for route in routes:
        path = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), route.path)
        response = await client.get(path, params={"no_such_filter": "1"}, headers=operator.headers)
        assert response.status_code == 422, route.path
        assert response.json()["code"] == "request.unknown_parameter", route.path
        assert response.json()["field"] == "query.no_such_filter", route.path


@pytest.mark.parametrize("path", ["/v1/achievements?q=氢能", "/v1/needs?q=采茶",
                                  "/v1/search/achievements?challenge=true", "/v1/publications?fields=advanced_energy"])
async def test_a_filter_the_route_does_not_have_is_refused(client, path):
    response = await client.get(path)
    assert response.status_code == 422 and response.json()["code"] == "request.unknown_parameter"


@pytest.mark.parametrize("path", ["/v1/achievements", "/v1/needs", "/v1/organisations", "/v1/search/achievements",
                                  "/v1/search/needs"])
async def test_a_page_above_the_cap_is_refused_on_lists_and_search_alike(client, search, path):
    assert (await client.get(path, params={"limit": 100})).status_code == 200
    response = await client.get(path, params={"limit": 101})
    assert response.status_code == 422 and response.json()["field"] == "query.limit"


async def test_needs_search_filters_challenges_and_open_deadlines(client, market, sync):
    firm = await market.organisation("enterprise")
    plain = await create_listing(market, "needs", firm, external_id="C-1", deadline="2027-01-31")
    challenge = await create_listing(market, "needs", firm, external_id="C-2", deadline="2027-12-31",
                                     challenge={"reward": "500000.00", "opens": "2026-11-01", "closes": "2027-06-30"})
    await sync()

    async def ids(**params):
        body = (await client.get("/v1/search/needs", params=params)).json()
        return {h["id"] for h in body["hits"]}

    assert await ids(challenge="true") == {challenge["id"]}
    assert await ids(challenge="false") == {plain["id"]}
    assert await ids(deadline_after="2027-02-01") == {challenge["id"]}
    assert await ids(deadline_after="2027-01-31") == {plain["id"], challenge["id"]}
