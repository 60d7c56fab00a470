"""Factories: valid objects in one call through the API, overriding only what a test is about."""

import itertools
from dataclasses import dataclass, field

import httpx

from schemas.validators import credit_code_check_digit
from services.identity import ensure_operator_admin

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
        response = await self.client.post("/v1/auth/token", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    async def operator(self) -> Caller:
        if self._operator is None:
            _, password = await ensure_operator_admin(self.ctx.sessions, "ops@test.example.cn", "operator-password-1")
            headers = await self.login("ops@test.example.cn", "operator-password-1")
            me = (await self.client.get("/v1/auth/me", headers=headers)).json()
            self._operator = Caller(headers, me["organisation"]["id"], me["user"]["id"])
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
        return Caller(await self.login(email, "org-admin-password"), data["organisation"]["id"], data["admin"]["id"])

    async def user(self, org: Caller, roles: list[str]) -> Caller:
        n = next(_seq)
        email = f"user{n}@example.cn"
        response = await self.client.post(
            f"/v1/organisations/{org.organisation_id}/users", headers=(await self.operator()).headers,
            json={"email": email, "display_name": f"用户{n}", "password": "user-password-1", "roles": roles},
        )
        assert response.status_code == 201, response.text
        return Caller(await self.login(email, "user-password-1"), org.organisation_id, response.json()["id"])

    async def broker(self) -> Caller:
        agency = await self.organisation("agency")
        return await self.user(agency, ["broker"])

    async def api_key(self, org: Caller, scopes=("read", "write")) -> Caller:
        response = await self.client.post(f"/v1/organisations/{org.organisation_id}/api-keys",
                                          json={"name": "sync", "scopes": list(scopes)}, headers=org.headers)
        assert response.status_code == 201, response.text
        data = response.json()
        return Caller({"X-API-Key": data["key"]}, org.organisation_id, extra={"key_id": data["id"]})
