"""Factories: valid objects in one call through the API, overriding only what a test is about."""

import itertools
import uuid
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select

from schemas.tables import User
from schemas.validators import credit_code_check_digit
from services.identity.organisations import ensure_operator_admin
from services.identity.tokens import issue_access_token

_seq = itertools.count(1)


def credit_code(kind: str) -> str:
    head = {"university": "12", "institute": "12", "agency": "52"}.get(kind, "91")
    body = f"{head}510100{next(_seq):09d}"
    return body + credit_code_check_digit(body)


@dataclass
class Caller:
    """One caller: its headers, and the organisation it acts for."""

    headers: dict[str, str]
    organisation_id: str | None = None
    user_id: str | None = None
    extra: dict = field(default_factory=dict)


ANONYMOUS = Caller(headers={})


class Market:
    def __init__(self, client: httpx.AsyncClient, ctx):
        self.client = client
        self.ctx = ctx
        self._operator: Caller | None = None

    async def login(self, email: str, password: str) -> dict[str, str]:
        """Over HTTP, for the tests about logging in; the factories mint their callers' tokens instead."""
        response = await self.client.post("/v1/auth/token", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def bearer(self, user_id: str) -> dict[str, str]:
        """The headers of an access token issued for the user as a login would, without the login's
        password check (argon2), rate limit and refresh token: most tests are about what the caller does."""
        token, _ = issue_access_token(self.ctx.settings, User(id=uuid.UUID(user_id)))
        return {"Authorization": f"Bearer {token}"}

    async def operator(self) -> Caller:
        if self._operator is None:
            await ensure_operator_admin(self.ctx.sessions, "ops@test.example.cn", "operator-password-1")
            async with self.ctx.sessions() as session:
                user_id, org_id = (await session.execute(select(User.id, User.organisation_id).where(
                    User.email == "ops@test.example.cn"))).one()
            self._operator = Caller(self.bearer(str(user_id)), str(org_id), str(user_id))
        return self._operator

    async def organisation(self, kind: str = "university", **overrides) -> Caller:
        """A new organisation and the headers of its admin."""
        n = next(_seq)
        email = f"admin{n}@org{n}.example.cn"
        body = {
            "kind": kind, "name": f"测试{kind}{n}", "credit_code": credit_code(kind), "region": "cd.wuhou",
            "contact": {"name": "联系人", "phone": "028-00000000", "email": f"contact@org{n}.example.cn"},
            "admin": {"email": email, "display_name": "管理员", "password": "org-admin-password",
                      "roles": ["org_admin"]},
            **overrides,
        }
        response = await self.client.post("/v1/organisations", json=body, headers=(await self.operator()).headers)
        assert response.status_code == 201, response.text
        data = response.json()
        return Caller(self.bearer(data["admin"]["id"]), data["organisation"]["id"], data["admin"]["id"])

    async def user(self, org: Caller, roles: list[str]) -> Caller:
        n = next(_seq)
        email = f"user{n}@example.cn"
        response = await self.client.post(
            f"/v1/organisations/{org.organisation_id}/users", headers=(await self.operator()).headers,
            json={"email": email, "display_name": f"用户{n}", "password": "user-password-1", "roles": roles},
        )
        assert response.status_code == 201, response.text
        return Caller(self.bearer(response.json()["id"]), org.organisation_id, response.json()["id"])

    async def broker(self, **profile) -> Caller:
        """A broker of a new agency, with an active profile (overrides: level, specialties, capacity …)."""
        agency = await self.organisation("agency")
        broker = await self.user(agency, ["broker"])
        response = await self.client.post("/v1/brokers", headers=agency.headers, json={
            "user_id": broker.user_id, "level": "intermediate", **profile})
        assert response.status_code == 201, response.text
        broker.extra["agency"] = agency
        return broker

    async def api_key(self, org: Caller, scopes=("read", "write")) -> Caller:
        response = await self.client.post(f"/v1/organisations/{org.organisation_id}/api-keys",
                                          json={"name": "sync", "scopes": list(scopes)}, headers=org.headers)
        assert response.status_code == 201, response.text
        data = response.json()
        return Caller({"X-API-Key": data["key"]}, org.organisation_id, extra={"key_id": data["id"]})


def achievement_body(**overrides) -> dict:
    return {
        "title": "基于视觉识别的嫩芽定位与柔性采摘末端执行器",
        "summary": "面向名优茶机采的嫩芽识别与柔性采摘技术。",
        "description": "采用深度学习识别茶叶嫩芽，识别准确率92%，柔性末端执行器损伤率低于5%。",
        "keywords": ["嫩芽识别", "采摘机器人", "末端执行器"],
        "field": "artificial_intelligence.vision",
        "ip": [{"type": "invention_patent", "number": "ZL202110123456.7", "title": "一种嫩芽识别方法"}],
        "trl": 6, "stage": "pilot", "transfer_modes": ["licence", "co_development"],
        "price": {"negotiable": False, "min": "500000.00", "max": "1500000.00"},
        "region": "cd.wuhou", "contact": {"name": "张老师", "phone": "028-85400000"},
        **overrides,
    }


def need_body(**overrides) -> dict:
    return {
        "title": "名优茶采摘全靠人工，旺季招不到人",
        "description": "公司有3000亩茶园，明前茶采摘全靠人工，旺季招工难、成本高，希望找到能替代人工的采摘设备。",
        "keywords": ["采茶", "机器人", "招工难"],
        "field": "modern_agriculture.smart_agriculture",
        "budget": {"negotiable": False, "min": "300000.00", "max": "800000.00"},
        "deadline": "2027-06-30", "cooperation_modes": ["co_development", "licence"], "required_trl": 5,
        "region": "cd.pujiang", "contact": {"name": "王总", "phone": "028-88888888"},
        **overrides,
    }


async def create_listing(market: Market, kind: str, owner: Caller, publish: bool = True, **overrides) -> dict:
    body = achievement_body(**overrides) if kind == "achievements" else need_body(**overrides)
    response = await market.client.post(f"/v1/{kind}", json=body, headers=owner.headers,
                                        params={"submit": "true"} if publish else None)
    assert response.status_code == 201, response.text
    listing = response.json()
    if publish:
        approved = await market.client.post(f"/v1/{kind}/{listing['id']}/approve",
                                            headers=(await market.operator()).headers)
        assert approved.status_code == 200, approved.text
        listing = approved.json()
    return listing


def deal_body(seller: Caller, buyer: Caller, **overrides) -> dict:
    return {
        "contract_type": "licence", "seller_id": seller.organisation_id, "buyer_id": buyer.organisation_id,
        "title": "嫩芽识别专利实施许可合同", "field": "artificial_intelligence.vision",
        "signed_on": "2026-03-18", "term_start": "2026-04-01", "term_end": "2029-03-31",
        "amount": "1200000.00", "technology_amount": "1000000.00",
        "ip": [{"type": "invention_patent", "number": "ZL202110123456.7"}],
        **overrides,
    }


async def create_deal(market: Market, seller: Caller, buyer: Caller, sign: bool = False, **overrides) -> dict:
    """A draft deal recorded by the operator (signed when asked)."""
    headers = (await market.operator()).headers
    response = await market.client.post("/v1/deals", json=deal_body(seller, buyer, **overrides), headers=headers)
    assert response.status_code == 201, response.text
    deal = response.json()
    if sign:
        signed = await market.client.post(f"/v1/deals/{deal['id']}/sign", headers=headers)
        assert signed.status_code == 200, signed.text
        deal = signed.json()
    return deal


async def create_lead(market: Market, firm: Caller | None = None, uni: Caller | None = None, **need_overrides) -> dict:
    """A published need and achievement and a lead between them (added by an operator, so unclaimed)."""
    firm = firm or await market.organisation("enterprise")
    uni = uni or await market.organisation("university")
    need = await create_listing(market, "needs", firm, external_id=None, **need_overrides)
    achievement = await create_listing(market, "achievements", uni, external_id=None)
    response = await market.client.post("/v1/leads", headers=(await market.operator()).headers,
                                        json={"need_id": need["id"], "achievement_id": achievement["id"]})
    assert response.status_code == 201, response.text
    return response.json()
