"""The published contract: stable operationIds, tags, typed models, examples; and house rules."""

import json
import re
from pathlib import Path

from tests.routes import api_routes

SNAPSHOT = Path(__file__).parent / "operation_ids.json"
ROOT = Path(__file__).resolve().parents[2]


def test_operation_ids_are_stable(app):
    """A renamed operationId renames a method in every generated client: change the snapshot on purpose."""
    ids = sorted(r.name for r in api_routes(app))
    assert ids == json.loads(SNAPSHOT.read_text()), "operationIds changed; update tests/api/operation_ids.json"
    assert all(re.fullmatch(r"[a-z_]+_[a-z_]+", i) for i in ids)


def test_every_operation_has_a_tag_a_description_and_typed_responses(app):
    spec = app.openapi()
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            where = f"{method.upper()} {path}"
            assert operation.get("tags"), where
            assert operation.get("description") or operation.get("summary"), where
            success = [c for c in operation["responses"] if c.startswith("2")]
            assert success, where
            assert operation["responses"].get("422") or operation["responses"].get("400"), where
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                schema_name = body["schema"]["$ref"].split("/")[-1]
                component = spec["components"]["schemas"][schema_name]
                assert component.get("examples") or component.get("example"), f"{where}: no request example"


def test_problem_json_is_documented_for_errors(app):
    spec = app.openapi()
    problem = spec["paths"]["/v1/needs/{listing_id}"]["get"]["responses"]["404"]["content"]
    assert "application/problem+json" in problem


def test_security_schemes_for_bearer_and_api_key(app):
    schemes = app.openapi()["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    assert schemes["APIKeyHeader"]["name"] == "X-API-Key"


def test_services_and_schemas_never_import_the_web_layer():
    pattern = re.compile(r"^\s*(from|import) (fastapi|starlette|market)\b", re.M)
    for folder in ("services", "schemas"):
        for file in (ROOT / folder).rglob("*.py"):
            assert not pattern.search(file.read_text(encoding="utf-8")), file


async def test_taxonomy_is_served_from_seed_data(client):
    fields = (await client.get("/v1/taxonomy/fields")).json()
    codes = {f["code"] for f in fields}
    assert {"advanced_energy", "advanced_energy.hydrogen", "digital_intelligence.humanoid_robots"} <= codes
    regions = (await client.get("/v1/taxonomy/regions")).json()
    assert regions[0]["scope"] == "cd"


def test_committed_openapi_document_is_the_apps():
    """openapi.json at the root is what the frontend generates its client from: it must be current."""
    from market.openapi import DOCUMENT, contract_app, render

    assert DOCUMENT.exists(), "openapi.json is missing: run `make openapi`"
    assert DOCUMENT.read_text(encoding="utf-8") == render(contract_app()), \
        "openapi.json differs from the app's document: run `make openapi` and commit it"
