"""No lost updates: ETags on reads, 304 on an unchanged GET, 412 on a stale PATCH."""

from tests.factories import create_listing


async def test_two_operators_editing_one_listing_the_second_stale_write_is_refused(client, market):
    uni = await market.organisation("university")
    first = await market.operator()
    second = await market.user(first, ["operator"])
    item = await create_listing(market, "achievements", uni)
    url = f"/v1/achievements/{item['id']}"

    read_by_first = await client.get(url, headers=first.headers)
    read_by_second = await client.get(url, headers=second.headers)
    etag = read_by_first.headers["etag"]
    assert etag == read_by_second.headers["etag"]

    saved = await client.patch(url, json={"contact": {"name": "王老师"}}, headers={**second.headers, "If-Match": etag})
    assert saved.status_code == 200 and saved.headers["etag"] != etag

    stale = await client.patch(url, json={"contact": {"name": "张老师"}}, headers={**first.headers, "If-Match": etag})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["code"] == "precondition_failed"
    assert (await client.get(url, headers=first.headers)).json()["contact"]["name"] == "王老师"

    fresh = await client.get(url, headers=first.headers)
    retried = await client.patch(url, json={"contact": {"name": "张老师"}},
                                 headers={**first.headers, "If-Match": fresh.headers["etag"]})
    assert retried.status_code == 200 and retried.json()["contact"]["name"] == "张老师"


async def test_unchanged_resource_answers_304_without_a_body(client, market):
    uni = await market.organisation("university")
    item = await create_listing(market, "needs", uni)
    url = f"/v1/needs/{item['id']}"
    etag = (await client.get(url, headers=uni.headers)).headers["etag"]

    again = await client.get(url, headers={**uni.headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag

    await client.patch(url, json={"contact": {"name": "李经理"}}, headers=uni.headers)
    assert (await client.get(url, headers={**uni.headers, "If-None-Match": etag})).status_code == 200


async def test_patch_without_if_match_still_works(client, market):
    uni = await market.organisation("university")
    item = await create_listing(market, "achievements", uni)
    answer = await client.patch(f"/v1/achievements/{item['id']}", json={"contact": {"name": "王老师"}},
                                headers=uni.headers)
    assert answer.status_code == 200 and answer.headers["etag"]
