"""The published OpenAPI document: built from the app, finished here, written to `openapi.json`.

`finish` adds what FastAPI cannot know from the signatures alone, derived from each route so that new
routes get it without a hand-kept list: its problem responses (401/403 from the principal rule, 404 from
an id in the path, 409 for writes, 412 for PATCH, 422 for input, 429 where the rate limiter runs, 503
where search answers), a summary from the docstring, Chinese examples, and the Chinese labels of the
enumerations. `make openapi` writes the document, committed so every contract change shows in review;
generation is deterministic (sorted keys, nothing from the run time).
"""

import copy
import json
import re
import sys
from functools import cache
from http import HTTPStatus
from pathlib import Path

import yaml
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from market.errors import problem_messages
from market.settings import PROJECT_ROOT, Settings
from schemas.common import Problem
from schemas.enums import LABELS

DOCUMENT = PROJECT_ROOT / "openapi.json"
PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Writes where no conflict with stored state can arise (tokens are not resources with a lifecycle).
NO_CONFLICT_TAGS = {"auth"}


@cache
def field_examples() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "seed/openapi/field_examples.yaml").read_text(encoding="utf-8"))


def _calls(dependant: Dependant) -> list:
    """Every dependency callable of a route, nested ones included."""
    found = []
    for sub in dependant.dependencies:
        found.append(sub.call)
        found.extend(_calls(sub))
    return found


def problem_statuses(route: APIRoute) -> list[int]:
    """The error statuses a route can answer, read from its dependencies, path, method and input."""
    from market.api.deps import _search
    from market.auth import current_principal

    calls = _calls(route.dependant)
    statuses = {int(code) for code in route.responses if str(code)[0] in "45"}
    if any(hasattr(call, "rule") for call in calls):
        statuses |= {401, 403}
    if current_principal in calls:
        statuses |= {401, 429}  # a bad token or key is a 401 even where anonymous callers are welcome
    if any(p.name.endswith("_id") for p in route.dependant.path_params) or _references(route.dependant):
        statuses.add(404)
    if route.methods & WRITE_METHODS and not NO_CONFLICT_TAGS & set(route.tags):
        statuses.add(409)
    if "PATCH" in route.methods:
        statuses.add(412)
    if route.dependant.body_params:
        statuses.add(400)  # a body that is not even JSON (or not UTF-8)
    if (route.dependant.path_params or route.dependant.query_params or route.dependant.header_params
            or route.dependant.body_params or any(_has_input(sub) for sub in route.dependant.dependencies)):
        statuses.add(422)
    if _search in calls:
        statuses.add(503)
    return sorted(statuses)


def _references(dependant: Dependant) -> bool:
    """Whether the input names another resource by id (a body field or a query parameter `…_id`), which
    may not exist: a 404 naming that field."""
    names = [p.name for p in dependant.query_params]
    for param in dependant.body_params:
        fields = getattr(param.field_info.annotation, "model_fields", None) or {}
        names += list(fields)
    return any(name.endswith(("_id", "_ids")) and name != "external_id" for name in names) or any(
        _references(sub) for sub in dependant.dependencies)


def _has_input(dependant: Dependant) -> bool:
    return bool(dependant.query_params or dependant.body_params) or any(
        _has_input(sub) for sub in dependant.dependencies)


def problem_example(status: int) -> dict:
    messages = problem_messages()
    code = messages["examples"].get(status, "invalid")
    example = {
        "type": "https://market.example.cn/problems/" + code, "title": messages["titles"][status],
        "status": status, "code": code, "detail": messages["details"].get(code, HTTPStatus(status).phrase),
        "request_id": "b7c1e0a2c3d44c0e",
    }
    if status == 422:
        example |= {"field": "body.title", "errors": [
            {"field": "body.title", "message": "标题不能为空", "type": "missing"}]}
    return example


def _summary(route: APIRoute) -> str:
    first = (route.description or route.name).strip().split("\n\n")[0].replace("\n", " ")
    sentence = re.split(r"(?<=[.:;])\s|(?<=[。；])", first, maxsplit=1)[0].rstrip(".:;。；")
    return sentence if len(sentence) <= 90 else sentence[:87].rsplit(" ", 1)[0] + " …"


ETAG_HEADER = {"ETag": {"description": "Version of this representation; send it back in If-Match / If-None-Match",
                        "schema": {"type": "string"}}}


def _conditional(operation: dict, route: APIRoute) -> None:
    """ETag on what GET and PATCH answer; If-None-Match (304) on GET, If-Match (412) on PATCH (market/etags.py)."""
    method = "GET" if "GET" in route.methods else "PATCH" if "PATCH" in route.methods else None
    if method is None:
        return
    for code, response in operation["responses"].items():
        if code == "200":
            response.setdefault("headers", {}).update(ETAG_HEADER)
    name, meaning = (("If-None-Match", "An ETag you hold: 304 without a body when it is still current")
                     if method == "GET" else
                     ("If-Match", "The ETag you read: 412 `precondition_failed` when someone changed it since"))
    operation.setdefault("parameters", []).append(
        {"name": name, "in": "header", "required": False, "description": meaning, "schema": {"type": "string"}})
    if method == "GET":
        operation["responses"]["304"] = {"description": "Not modified: your copy (If-None-Match) is current"}


def _idempotent(operation: dict, route: APIRoute) -> None:
    """POSTs take an Idempotency-Key (market/idempotency.py); auth endpoints are not keyed."""
    if "POST" not in route.methods or NO_CONFLICT_TAGS & set(route.tags):
        return
    operation.setdefault("parameters", []).append({
        "name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 200},
        "description": "A key you choose per intended effect (a UUID): a retry with it within 24 h gets the first "
                       "answer (header `Idempotency-Replayed: true`) instead of a second effect; the same key for a "
                       "different request is 422 `idempotency.key_reused`"})


def _enum_descriptions(schemas: dict) -> None:
    for schema in schemas.values():
        if "enum" in schema:
            labels = " · ".join(f"`{value}` {LABELS[value]}" for value in schema["enum"] if value in LABELS)
            base = schema.get("description", "").strip()
            schema["description"] = (base + "\n\n" if base else "") + (labels or "Codes: see the glossary.")


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _request_values(spec: dict) -> dict:
    """Property values given by the request examples, so responses reuse the same tea-picking story."""
    values: dict = {}

    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                values.setdefault(key, item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for name in sorted(spec["components"]["schemas"]):
        walk(spec["components"]["schemas"][name].get("examples", []))
    return values


def synthesize(spec: dict, schema: dict, name: str | None = None, known: dict | None = None, depth: int = 0):
    """An example of a schema: its own example, else the example values by property name, else its type's."""
    known = known if known is not None else {**_request_values(spec), **field_examples()}
    schema = _resolve(spec, schema)
    if schema.get("examples"):
        return copy.deepcopy(schema["examples"][0])
    if name in known and ("enum" not in schema or known[name] in schema["enum"]):
        return copy.deepcopy(known[name])
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return synthesize(spec, options[0], name, known, depth) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 4:
            return {}
        return {key: synthesize(spec, sub, key, known, depth + 1) for key, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [synthesize(spec, schema.get("items", {}), None, known, depth + 1)]
    return {"integer": 1, "number": 1.0, "boolean": True}.get(kind, "示例")


def _problem_components(spec: dict) -> None:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        spec["components"]["schemas"][name] = sub
    spec["components"]["schemas"]["Problem"] = schema


def finish(spec: dict, routes: list[APIRoute]) -> dict:
    _problem_components(spec)
    by_id = {route.name: route for route in routes}
    for methods in spec["paths"].values():
        for operation in methods.values():
            route = by_id[operation["operationId"]]
            operation["summary"] = _summary(route)
            responses = operation["responses"]
            _conditional(operation, route)
            _idempotent(operation, route)
            for status in problem_statuses(route):
                declared = responses.setdefault(str(status), {})
                content = declared.setdefault("content", {})
                if status == 422 or content.get("application/json", {}).get("schema", PROBLEM_REF) == PROBLEM_REF:
                    content.pop("application/json", None)  # a problem is only ever problem+json
                    content[PROBLEM_MEDIA_TYPE] = {"schema": PROBLEM_REF, "example": problem_example(status)}
                declared["description"] = problem_messages()["titles"].get(status, HTTPStatus(status).phrase)
            for code, response in responses.items():
                body = response.get("content", {}).get("application/json")
                if code.startswith("2") and body and "schema" in body and "example" not in body:
                    body["example"] = synthesize(spec, body["schema"], known=_known_values(spec, body["schema"]))
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 shape, replaced by Problem
        spec["components"]["schemas"].pop(unused, None)
    _enum_descriptions(spec["components"]["schemas"])
    return spec


def _known_values(spec: dict, schema: dict) -> dict:
    """Example values for a response: its resource's create example first (a NeedRead tells the story of
    NeedCreate's example), then the named field examples, then any request example's."""
    known = {**_request_values(spec), **field_examples()}
    schemas = spec["components"]["schemas"]
    for name in sorted(_reachable(spec, schema)):
        base = re.sub(r"(Read|Detail|Created)$", "", name)
        for create in (base + "Create", base + "Register"):
            if base != name and create in schemas:
                for example in schemas[create].get("examples", [])[:1]:
                    known |= example
    return known


def _reachable(spec: dict, schema, seen: set | None = None) -> set[str]:
    """Names of the component schemas a schema refers to, directly or not."""
    seen = set() if seen is None else seen
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if ref and (name := ref.rsplit("/", 1)[1]) not in seen:
            seen.add(name)
            _reachable(spec, spec["components"]["schemas"][name], seen)
        for value in schema.values():
            _reachable(spec, value, seen)
    elif isinstance(schema, list):
        for value in schema:
            _reachable(spec, value, seen)
    return seen


def install(app: FastAPI) -> None:
    """app.openapi() returns the finished document (built once, on first use)."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description,
                               routes=app.routes, tags=app.openapi_tags)
            app.openapi_schema = finish(spec, _api_routes(app))
        return app.openapi_schema

    app.openapi = openapi


def _api_routes(app: FastAPI) -> list[APIRoute]:
    from fastapi.routing import iter_route_contexts

    return [c.original_route for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)]


def render(app: FastAPI) -> str:
    """The document as committed: sorted keys, two-space indent, Chinese kept readable, final newline."""
    return json.dumps(app.openapi(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def contract_app() -> FastAPI:
    """The app as the contract sees it: no environment, no connections (the lifespan is not run)."""
    from market.app import create_app

    return create_app(Settings(_env_file=None, environment="test", database_url="postgresql://contract/contract",
                               meili_url="http://contract.invalid"))


def main(argv: list[str]) -> None:
    target = Path(argv[1]) if len(argv) > 1 else DOCUMENT
    target.write_text(render(contract_app()), encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv)
