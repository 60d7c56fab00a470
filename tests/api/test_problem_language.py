"""Errors readable by Chinese users: title and detail follow Accept-Language, the code never changes."""

import uuid


async def test_a_chinese_caller_reads_the_problem_in_chinese_with_the_same_code(client):
    url = f"/v1/needs/{uuid.uuid4()}"
    english = (await client.get(url)).json()
    chinese = (await client.get(url, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})).json()

    assert english["code"] == chinese["code"] == "need.not_found"
    assert english["title"] == "Not Found"
    assert chinese["title"] == "未找到" and chinese["detail"] == "技术需求不存在"


async def test_validation_problems_in_chinese_keep_their_fields(client, market):
    uni = await market.organisation("university")
    answer = await client.post("/v1/achievements", json={"field": "advanced_energy"},
                               headers={**uni.headers, "Accept-Language": "zh"})
    body = answer.json()
    assert answer.status_code == 422 and body["code"] == "validation_failed"
    assert body["title"] == "输入有误" and body["field"] == "body.title"
    assert any(e["field"] == "body.title" for e in body["errors"])
