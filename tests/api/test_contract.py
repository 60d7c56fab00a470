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


CJK = re.compile(r"[\u4e00-\u9fff]")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _operations(app):
    routes = {r.name: r for r in api_routes(app)}
    spec = app.openapi()
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation, routes[operation["operationId"]], spec


def _walk(value, path=()):
    if isinstance(value, dict):
        yield path, value
        for key, item in value.items():
            yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, index))


def test_every_operation_has_a_tag_a_summary_and_typed_examples(app):
    for where, operation, route, spec in _operations(app):
        assert operation.get("tags"), where
        summary = operation.get("summary", "")
        assert summary and summary != route.name.replace("_", " ").title(), f"{where}: summary from a docstring"
        assert operation.get("description"), f"{where}: the route's docstring"
        success = {c: r for c, r in operation["responses"].items() if c.startswith("2")}
        assert success, where
        for code, response in success.items():
            for media, content in response.get("content", {}).items():
                assert content.get("schema"), f"{where} {code} {media}: untyped"
                if media == "application/json":
                    assert "example" in content, f"{where} {code}: no response example"
        body = operation.get("requestBody", {}).get("content", {})
        for media, content in body.items():
            schema_name = content["schema"]["$ref"].split("/")[-1]
            component = spec["components"]["schemas"][schema_name]
            if media == "application/json":
                assert component.get("examples") or component.get("example"), f"{where}: no request example"


def test_errors_are_declared_as_problems_with_the_statuses_that_apply(app):
    from market.auth import current_principal
    from market.openapi import _calls, _references

    for where, operation, route, _ in _operations(app):
        responses = operation["responses"]
        errors = {int(c) for c in responses if c[0] in "45"}
        calls = _calls(route.dependant)
        guarded = any(hasattr(call, "rule") for call in calls)
        conditions = {"If-Match", "If-None-Match", "Idempotency-Key"}  # headers the middleware reads, never 422
        has_input = "requestBody" in operation or any(
            p["name"] not in conditions for p in operation.get("parameters", []))
        assert ({401, 403} <= errors) == guarded or not guarded and 403 not in errors, where
        assert (429 in errors) == (current_principal in calls or route.name == "auth_login"), where
        assert (404 in errors) == (any(p.name.endswith("_id") for p in route.dependant.path_params)
                                   or _references(route.dependant)), where
        assert (422 in errors) == has_input, where
        assert 409 not in errors or route.methods & {"POST", "PATCH", "PUT", "DELETE"}, where
        assert (400 in errors) == bool(route.dependant.body_params), f"{where}: 400 is a body that is not JSON"
        for status in errors - ({503} if route.name == "health_ready" else set()):
            content = responses[str(status)]["content"]
            assert list(content) == ["application/problem+json"], f"{where} {status}"
            assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
            example = content["application/problem+json"]["example"]
            assert example["status"] == status and CJK.search(example["title"] + example["detail"]), where


def test_guarded_writes_declare_the_full_set(app):
    spec = app.openapi()
    update = spec["paths"]["/v1/needs/{listing_id}"]["patch"]["responses"]
    assert {"200", "400", "401", "403", "404", "409", "412", "422", "429"} == set(update)
    assert set(spec["paths"]["/health"]["get"]["responses"]) == {"200", "304"}


def test_downloads_declare_their_media_types(app):
    content = app.openapi()["paths"]["/v1/publications/{publication_id}/download"]["get"]["responses"]["200"]
    assert {"text/csv", XLSX, "application/json"} <= set(content["content"])


def test_enumerations_are_named_schemas_with_chinese_labels(app):
    from schemas.enums import LABELS

    spec = app.openapi()
    schemas = spec["components"]["schemas"]
    enums = {name: s for name, s in schemas.items() if "enum" in s}
    assert {"ListingStatus", "TransferMode", "DownloadFormat", "LeadStatus"} <= set(enums)
    for name, schema in enums.items():
        for value in schema["enum"]:
            assert f"`{value}` {LABELS[value]}" in schema["description"], f"{name}.{value}: no Chinese label"
    inline = [path for path, node in _walk({"paths": spec["paths"], "components": schemas})
              if "enum" in node and not (len(path) == 2 and path[0] == "components")]
    assert not inline, f"inline enumerations (make them named StrEnums): {inline[:3]}"


def test_security_schemes_for_bearer_and_api_key(app):
    schemes = app.openapi()["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    assert schemes["APIKeyHeader"]["name"] == "X-API-Key"


def test_services_and_schemas_never_import_the_web_layer():
    pattern = re.compile(r"^\s*(from|import) (fastapi|starlette|market)\b", re.M)
    for folder in ("services", "schemas"):
        for file in (ROOT / folder).rglob("*.py"):
            assert not pattern.search(file.read_text(encoding="utf-8")), file


def test_services_and_schemas_leave_the_terminal_to_the_cli():
    """Progress bars, printing and exit codes belong to market/cli.py; services report through a Progress."""
    pattern = re.compile(r"^\s*(print\(|from tqdm|import tqdm)|\bSystemExit\b", re.M)
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
