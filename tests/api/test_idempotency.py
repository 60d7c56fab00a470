"""Retries that do not duplicate: the same POST with the same Idempotency-Key creates once."""

from tests.factories import achievement_body


async def test_the_same_post_twice_with_a_key_creates_one_listing_and_answers_the_same(client, market):
    uni = await market.organisation("university")
    headers = {**uni.headers, "Idempotency-Key": "3c1d9f2e-retry-1"}
    first = await client.post("/v1/achievements", json=achievement_body(), headers=headers)
    again = await client.post("/v1/achievements", json=achievement_body(), headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotency-replayed"] == "true"
    listed = await client.get("/v1/achievements", headers=uni.headers, params={"organisation_id": uni.organisation_id})
    assert [a["id"] for a in listed.json()["items"]] == [first.json()["id"]]


async def test_a_key_reused_for_a_different_body_is_refused(client, market):
    uni = await market.organisation("university")
    headers = {**uni.headers, "Idempotency-Key": "reused-key"}
    assert (await client.post("/v1/achievements", json=achievement_body(), headers=headers)).status_code == 201
    other = await client.post("/v1/achievements", json=achievement_body(title="另一项成果的标题"), headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "idempotency.key_reused"


async def test_keys_belong_to_their_caller_and_posts_without_a_key_are_not_deduplicated(client, market):
    uni = await market.organisation("university")
    other = await market.organisation("university")
    key = {"Idempotency-Key": "shared-key"}
    mine = await client.post("/v1/achievements", json=achievement_body(), headers={**uni.headers, **key})
    theirs = await client.post("/v1/achievements", json=achievement_body(), headers={**other.headers, **key})
    assert mine.json()["id"] != theirs.json()["id"] and "idempotency-replayed" not in theirs.headers

    one = await client.post("/v1/achievements", json=achievement_body(external_id="A-1"), headers=uni.headers)
    two = await client.post("/v1/achievements", json=achievement_body(external_id="A-2"), headers=uni.headers)
    assert one.json()["id"] != two.json()["id"]
