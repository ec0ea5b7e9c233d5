"""The OpenAPI document of the whole API: valid OpenAPI 3.1, exactly template.yaml's routes,
the JWT authorizer, the request bodies the handlers validate with, and every answer they give;
and the local HTTP API serving it with Swagger UI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_spec
from pydantic import BaseModel
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from campaign_calling.calls.providers.dialect import DIALECTS
from campaign_calling.models import (
    AgentInput,
    AgentPatch,
    CampaignInput,
    CampaignPatch,
    ClientSettingsInput,
    ContactPatch,
    ContactsInput,
    DncInput,
    MakeCallInput,
    ProviderCredentialsInput,
    StartCallingInput,
)
from campaign_local.auth import JwtVerifier, LocalIdentityProvider, load_or_create_signing_key
from campaign_local.http_api import LocalHttpApi
from campaign_local.lambdas import LocalFunctions
from campaign_local.openapi import BEARER_SCHEME, DOCS_PATH, OPENAPI_PATH, build_from_template
from campaign_local.template import Template

CLIENT = "/api/v1/client"
# What each route takes as its body (None: no body), and its success status.
CONTRACT: dict[tuple[str, str], tuple[type[BaseModel] | None, str]] = {
    ("POST", f"{CLIENT}/agents"): (AgentInput, "201"),
    ("GET", f"{CLIENT}/agents/{{id}}"): (None, "200"),
    ("GET", f"{CLIENT}/agents"): (None, "200"),
    ("PATCH", f"{CLIENT}/agents/{{id}}"): (AgentPatch, "200"),
    ("DELETE", f"{CLIENT}/agents/{{id}}"): (None, "200"),
    ("PUT", f"{CLIENT}/providers/{{provider}}"): (ProviderCredentialsInput, "200"),
    ("GET", f"{CLIENT}/settings"): (None, "200"),
    ("PUT", f"{CLIENT}/settings"): (ClientSettingsInput, "200"),
    ("POST", f"{CLIENT}/dnc"): (DncInput, "200"),
    ("GET", f"{CLIENT}/dnc"): (None, "200"),
    ("GET", f"{CLIENT}/dnc/{{phone}}"): (None, "200"),
    ("DELETE", f"{CLIENT}/dnc/{{phone}}"): (None, "200"),
    ("POST", f"{CLIENT}/campaigns"): (CampaignInput, "201"),
    ("GET", f"{CLIENT}/campaigns/{{id}}"): (None, "200"),
    ("GET", f"{CLIENT}/campaigns"): (None, "200"),
    ("PATCH", f"{CLIENT}/campaigns/{{id}}"): (CampaignPatch, "200"),
    ("DELETE", f"{CLIENT}/campaigns/{{id}}"): (None, "200"),
    ("POST", f"{CLIENT}/campaigns/{{id}}/contacts"): (ContactsInput, "201"),
    ("GET", f"{CLIENT}/campaigns/{{id}}/contacts"): (None, "200"),
    ("PATCH", f"{CLIENT}/campaigns/{{id}}/contacts/{{contactId}}"): (ContactPatch, "200"),
    ("DELETE", f"{CLIENT}/campaigns/{{id}}/contacts/{{contactId}}"): (None, "200"),
    ("GET", f"{CLIENT}/campaigns/{{id}}/call-logs"): (None, "200"),
    ("GET", f"{CLIENT}/campaigns/{{id}}/call-logs.csv"): (None, "200"),
    ("POST", f"{CLIENT}/campaigns/{{id}}/contacts.csv"): (None, "200"),
    ("GET", f"{CLIENT}/campaigns/{{id}}/runs"): (None, "200"),
    ("GET", f"{CLIENT}/campaigns/{{id}}/runs/{{runId}}"): (None, "200"),
    ("GET", f"{CLIENT}/campaigns/{{id}}/calling-status"): (None, "200"),
    ("POST", f"{CLIENT}/campaigns/{{id}}/start-calling"): (StartCallingInput, "200"),
    ("POST", f"{CLIENT}/campaigns/{{id}}/stop-calling"): (None, "200"),
    ("POST", f"{CLIENT}/campaigns/{{id}}/pause-calling"): (None, "200"),
    ("POST", f"{CLIENT}/campaigns/{{id}}/resume-calling"): (None, "200"),
    ("POST", f"{CLIENT}/campaigns/{{id}}/make-call"): (MakeCallInput, "200"),
    # The providers' status webhooks: their bodies are the providers' (JSON or forms), read raw.
    ("POST", "/api/v1/webhooks/{provider}"): (None, "200"),
}
WEBHOOKS = ("POST", "/api/v1/webhooks/{provider}")
CONFLICTS = {f"{CLIENT}/campaigns/{{id}}/{action}-calling" for action in ("start", "stop", "pause", "resume")}
# Routes whose writes are DynamoDB transactions, retried while cancelled by conflicts or throttling.
TRANSACTIONS = {*CONFLICTS, f"{CLIENT}/campaigns", f"{CLIENT}/campaigns/{{id}}/contacts"}
# Routes that ask a provider what an account owns, or whether its credentials work.
ASKS_A_PROVIDER = {
    ("POST", f"{CLIENT}/agents"),
    ("PATCH", f"{CLIENT}/agents/{{id}}"),
    ("PUT", f"{CLIENT}/providers/{{provider}}"),
}
# Routes that change or delete what a run may be using: 409 while it does.
NOT_WHILE_IN_USE = {
    (method, path)
    for method in ("PATCH", "DELETE")
    for path in (
        f"{CLIENT}/agents/{{id}}",
        f"{CLIENT}/campaigns/{{id}}",
        f"{CLIENT}/campaigns/{{id}}/contacts/{{contactId}}",
    )
}
# ...of those, the ones written in one DynamoDB transaction (503 when it stayed busy).
CHANGE_TRANSACTIONS = {
    ("DELETE", f"{CLIENT}/campaigns/{{id}}"),
    ("PATCH", f"{CLIENT}/campaigns/{{id}}/contacts/{{contactId}}"),
    ("DELETE", f"{CLIENT}/campaigns/{{id}}/contacts/{{contactId}}"),
}
# Routes that take an Idempotency-Key: a repeat answers the first result.
IDEMPOTENT = {
    ("POST", f"{CLIENT}/campaigns"),
    ("POST", f"{CLIENT}/campaigns/{{id}}/contacts"),
    ("POST", f"{CLIENT}/campaigns/{{id}}/contacts.csv"),
    ("POST", f"{CLIENT}/campaigns/{{id}}/make-call"),
}
# The routes whose body or answer is CSV rather than JSON.
CSV_IMPORT = ("POST", f"{CLIENT}/campaigns/{{id}}/contacts.csv")
CSV_EXPORT = ("GET", f"{CLIENT}/campaigns/{{id}}/call-logs.csv")


@pytest.fixture(scope="module")
def doc(template: Template) -> dict[str, Any]:
    return build_from_template(template)


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method.upper(), path): op for path, item in doc["paths"].items() for method, op in item.items()}


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rpartition("/")[2]]
    return schema


def without_null_defaults(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_null_defaults(v) for k, v in value.items() if not (k == "default" and v is None)}
    if isinstance(value, list):
        return [without_null_defaults(v) for v in value]
    return value


def conforms(doc: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    """Validate against a schema of the document, its $refs resolved within it."""
    jsonschema.Draft202012Validator({**schema, "components": doc["components"]}).validate(instance)


def test_the_document_is_valid_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1")
    validate_spec(doc)
    json.dumps(doc)  # plain JSON, as served


def test_it_lists_exactly_the_template_routes(doc, template):
    assert set(operations(doc)) == {(r.method, r.path) for r in template.routes()}
    assert set(operations(doc)) == set(CONTRACT), "a route was added or removed: update CONTRACT"
    ids = [op["operationId"] for op in operations(doc).values()]
    assert len(ids) == len(set(ids))
    assert all(op.get("summary") and op.get("tags") for op in operations(doc).values())


def test_every_route_needs_the_bearer_token(doc, template):
    scheme = doc["components"]["securitySchemes"][BEARER_SCHEME]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert doc["security"] == [{BEARER_SCHEME: []}]
    ops = operations(doc)
    for route in template.routes():
        security = ops[(route.method, route.path)].get("security", doc["security"])
        if (route.method, route.path) == WEBHOOKS:
            # the one route template.yaml opens: the providers sign their webhooks instead
            assert route.authorizer is None and security == [], route.route_key
            continue
        assert route.authorizer, f"{route.route_key} is open in template.yaml"
        assert security == [{BEARER_SCHEME: []}], route.route_key


def test_path_and_query_parameters(doc):
    for (method, path), op in operations(doc).items():
        params = {(p["in"], p["name"]): p for p in op.get("parameters", [])}
        if "{provider}" in path:
            assert params.pop(("path", "provider"))["required"] is True
        if "{id}" in path:
            id_param = params.pop(("path", "id"))
            assert id_param["required"] is True
            assert id_param["schema"] | {"minLength": 1, "maxLength": 128} == id_param["schema"]
        if "{phone}" in path:
            phone = params.pop(("path", "phone"))
            assert (phone["required"], phone["schema"]["maxLength"]) == (True, 40)
        if "{contactId}" in path:
            contact = params.pop(("path", "contactId"))
            assert contact["required"] is True
            assert contact["schema"] | {"minLength": 1, "maxLength": 128} == contact["schema"]
        if "{runId}" in path:
            assert params.pop(("path", "runId"))["required"] is True
        if method == "GET" and path.endswith(("/contacts", "/call-logs", "/dnc", "/agents", "/campaigns", "/runs")):
            limit = params.pop(("query", "limit"))["schema"]
            assert (limit["type"], limit["minimum"], limit["maximum"], limit["default"]) == ("integer", 1, 500, 50)
            assert params.pop(("query", "nextToken"))["required"] is False
        if (method, path) == CSV_EXPORT:
            limit = params.pop(("query", "limit"))["schema"]
            assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 5000, 5000)
            assert params.pop(("query", "nextToken"))["required"] is False
        if path.endswith(("/call-logs", "/call-logs.csv")):
            for name in ("runId", "status", "from", "to"):
                assert params.pop(("query", name))["required"] is False, name
        if (method, path) in IDEMPOTENT:
            key = params.pop(("header", "idempotency-key"))
            assert key["required"] is False
            assert (key["schema"]["minLength"], key["schema"]["maxLength"]) == (1, 255)
            assert "24 hours" in key["description"]
        assert not params, f"{method} {path}: unexpected parameters {sorted(params)}"


def test_request_bodies_are_the_pydantic_models(doc):
    for key, op in operations(doc).items():
        model, _ = CONTRACT[key]
        if key == CSV_IMPORT:
            body = op["requestBody"]
            assert body["required"] is True
            assert body["content"]["text/csv"]["schema"]["type"] == "string"
            continue
        if model is None:
            assert "requestBody" not in op, key
            continue
        body = op["requestBody"]
        assert body["required"] is True
        assert list(body["content"]) == ["application/json"]
        ref = body["content"]["application/json"]["schema"]
        assert ref == {"$ref": f"#/components/schemas/{model.__name__}"}
        # Powertools leaves out null values, "default": null among them.
        expected = without_null_defaults(model.model_json_schema(ref_template="#/components/schemas/{model}"))
        for name, schema in {model.__name__: expected, **expected.pop("$defs", {})}.items():
            assert doc["components"]["schemas"][name] == schema, name
        assert resolve(doc, ref)["additionalProperties"] is False


def test_every_route_documents_its_answers(doc):
    for (method, path), op in operations(doc).items():
        _, success = CONTRACT[(method, path)]
        statuses = set(op["responses"])
        if (method, path) == WEBHOOKS:
            # no token, so no 403; 401 for a missing or bad signature, 404 for an unknown
            # provider, 503 when DynamoDB or Secrets Manager is unavailable (the provider retries)
            assert statuses == {success, "400", "401", "404", "503"}
            assert "signature" in op["responses"]["401"]["description"]
            continue
        expected = {success, "400", "401", "403"}
        if "{id}" in path or "{phone}" in path:
            expected.add("404")
        if (method, path) == ("POST", f"{CLIENT}/dnc"):
            expected.add("503")  # DynamoDB kept throttling part of the batch
        if "requestBody" in op:
            expected.add("415")
        if path in CONFLICTS:
            expected.add("409")
        if method == "POST" and path in TRANSACTIONS:
            expected.add("503")  # DynamoDB stayed busy (or Step Functions was unavailable)
        if path.endswith("/make-call"):
            expected.add("504")  # the provider did not answer before the deadline
            expected.add("429")  # the client's calls in progress (or per second) are at their cap
        if (method, path) in ASKS_A_PROVIDER:
            expected |= {"503"}  # the provider (or Secrets Manager) could not answer: nothing stored
        if path == f"{CLIENT}/providers/{{provider}}":
            expected.add("404")  # a provider segment no route matches, as for {id}
        if method == "POST" and path.endswith("/contacts"):
            expected.add("409")  # contacts added concurrently
        if (method, path) in NOT_WHILE_IN_USE:
            expected.add("409")  # a running or paused run uses it (the message names the run)
        if (method, path) in CHANGE_TRANSACTIONS:
            expected.add("503")
        if (method, path) in IDEMPOTENT:
            # 409: a request with the same key is in progress (make-call: or the run is dialing
            # the contact); 422: the key was used for another request; 503: its store is down.
            expected |= {"409", "422", "503"}
            assert "Idempotency-Key" in op["responses"]["422"]["description"]
        assert statuses == expected, f"{method} {path}"


def test_success_answers_are_the_envelope_with_data(doc):
    for key, op in operations(doc).items():
        _, status = CONTRACT[key]
        if key == CSV_EXPORT:
            answer = op["responses"][status]
            assert list(answer["content"]) == ["text/csv"]
            assert "X-Next-Token" in answer["headers"]
            continue
        schema = resolve(doc, op["responses"][status]["content"]["application/json"]["schema"])
        assert schema["properties"]["success"]["const"] is True
        assert {"success", "data"} <= set(schema["required"])
        assert set(schema["properties"]) <= {"success", "message", "data"}
        assert schema["additionalProperties"] is False


def test_error_answers_are_the_error_envelope(doc):
    for (method, path), op in operations(doc).items():
        for status, response in op["responses"].items():
            if status.startswith("2"):
                continue
            schema = response["content"]["application/json"]["schema"]
            # A timed-out call also names the call it logged.
            data: dict[str, Any] = {}
            if status == "504":
                data = {"data": {"uniqueId": "aidial-1705314600000-k3j9x2"}}
            elif status == "429":  # and when to try again
                data = {"data": {"retryAfterSeconds": "3"}}
            conforms(doc, schema, {"success": False, "message": "campaign not found", **data})
            with pytest.raises(jsonschema.ValidationError):
                conforms(doc, schema, {"success": True, "message": "x", **data})
            with pytest.raises(jsonschema.ValidationError):
                conforms(doc, schema, {"success": False, **data})
            if status == "401":  # what API Gateway's authorizer answers in AWS
                conforms(doc, schema, {"message": "Unauthorized"})
            else:
                required = ["success", "message", *data]
                assert resolve(doc, schema)["required"] == required, f"{method} {path} {status}"


def test_answers_of_the_documented_shapes_conform(doc):
    """A few answers as the handlers build them, against the document."""
    ops = operations(doc)

    def check(key: tuple[str, str], status: str, body: Any) -> None:
        conforms(doc, ops[key]["responses"][status]["content"]["application/json"]["schema"], body)

    agent = {"_id": "ag_1", "name": "A", "providerAgentId": "p", "callerId": None, "createdAt": "t"}
    check(("POST", f"{CLIENT}/agents"), "201", {"success": True, "message": "Agent created", "data": agent})
    check(("GET", f"{CLIENT}/agents/{{id}}"), "200", {"success": True, "data": agent})
    contact = {"_id": "ct_0000000001", "name": "J", "phone": "+12025550123", "createdAt": "t"}
    check(
        ("GET", f"{CLIENT}/campaigns/{{id}}/contacts"),
        "200",
        {"success": True, "data": {"items": [contact], "nextToken": None}},
    )
    check(
        ("GET", f"{CLIENT}/campaigns/{{id}}/calling-status"),
        "200",
        {"success": True, "data": {"campaignId": "c", "isRunning": False, "totalContacts": 0, "progress": None}},
    )
    placed = {
        "success": False,
        "uniqueId": "aidial-1",
        "contact": {"_id": "ct_0000000001", "name": "J", "phone": "+12025550123"},
        "timestamp": "t",
        "externalResponse": {"error": "busy"},
        "error": "provider answered 503",
    }
    check(("POST", f"{CLIENT}/campaigns/{{id}}/make-call"), "200", {"success": True, "data": placed})
    with pytest.raises(jsonschema.ValidationError):  # an undocumented field is a finding
        check(("GET", f"{CLIENT}/agents/{{id}}"), "200", {"success": True, "data": agent, "extra": 1})


# -- served by the local HTTP API -----------------------------------------------------


@pytest.fixture(scope="module")
def local_api(template: Template, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHttpApi]:
    identity = LocalIdentityProvider(load_or_create_signing_key(tmp_path_factory.mktemp("key") / "key.json"))
    verifier = JwtVerifier(identity.jwks(), issuer=identity.issuer, audiences=[identity.audience])
    routes = template.routes()
    api = LocalHttpApi(
        routes, LocalFunctions(template.functions()), {r.authorizer: verifier for r in routes if r.authorizer}, port=0
    ).start()
    yield api
    api.stop()


def get(api: LocalHttpApi, path: str, method: str = "GET", **kwargs: Any):
    builder = EnvironBuilder(path=path, method=method, base_url="http://127.0.0.1:3000", **kwargs)
    return api.respond(Request(builder.get_environ()))


def test_the_local_api_serves_the_document_without_a_token(local_api, doc):
    response = get(local_api, OPENAPI_PATH)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    served = json.loads(response.get_data())
    assert served["servers"] == [{"url": "http://127.0.0.1:3000", "description": "local engine"}]
    assert {**served, "servers": doc["servers"]} == doc
    assert json.loads(get(local_api, DOCS_PATH, query_string={"format": "json"}).get_data()) == served


def test_the_local_api_serves_swagger_ui_from_local_files(local_api):
    page = get(local_api, DOCS_PATH)
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "SwaggerUIBundle(" in html
    assert '"openapi": "3.1.0"' in html  # the document itself, with the page
    for asset, mimetype in (("swagger-ui-bundle.min.js", "text/javascript"), ("swagger-ui.min.css", "text/css")):
        assert f"{DOCS_PATH}/{asset}" in html
        served = get(local_api, f"{DOCS_PATH}/{asset}")
        assert served.status_code == 200, asset
        assert served.mimetype == mimetype
        assert len(served.get_data()) > 10_000
    assert get(local_api, f"{DOCS_PATH}/../../etc/passwd").status_code == 404
    assert get(local_api, f"{DOCS_PATH}/nothing.js").status_code == 404
    assert get(local_api, DOCS_PATH, method="POST").status_code == 404


def test_the_docs_open_no_data_route(local_api):
    response = get(local_api, f"{CLIENT}/agents/ag_1")
    assert response.status_code == 401


def test_a_provider_is_one_of_the_dialects(doc):
    op = operations(doc)[("PUT", f"{CLIENT}/providers/{{provider}}")]
    (provider,) = [p for p in op["parameters"] if (p["in"], p["name"]) == ("path", "provider")]
    assert provider["schema"]["enum"] == list(DIALECTS)
