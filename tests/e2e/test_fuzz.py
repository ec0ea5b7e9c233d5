"""The API against its own OpenAPI document, end to end: schemathesis generates well over a
thousand requests over every route (valid and invalid input, with a valid token) and checks
that none gets a 5xx and every answer is one the document describes; then the answers of a
real campaign's life, and bad bodies, are checked against the document too."""

from __future__ import annotations

import base64
import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from campaign_local.openapi import DOCS_PATH, OPENAPI_PATH
from campaign_local.template import Template, find_template
from tests.support.e2e import Engine, wait_until

pytestmark = pytest.mark.e2e

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
]
MAX_EXAMPLES = 100  # per operation and phase: about 2,000 requests, half a minute on 2 cores
MIN_REQUESTS = 1000
FUZZ_CLIENT = "fuzz-client"  # its own tenant: nothing it creates is seen by the other tests
ROUTES = Template(find_template()).routes()
CAMPAIGN = "/api/v1/client/campaigns/{id}"


@pytest.fixture(scope="module")
def document(engine: Engine) -> dict[str, Any]:
    response = httpx.get(f"{engine.api_url}{OPENAPI_PATH}", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def conforms(document: dict[str, Any], method: str, path: str, response: httpx.Response) -> None:
    """``response`` (of the route ``method path`` of template.yaml) is one the document describes."""
    documented = document["paths"][path][method.lower()]["responses"]
    assert str(response.status_code) in documented, f"{method} {path}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/json")
    schema = documented[str(response.status_code)]["content"]["application/json"]["schema"]
    jsonschema.Draft202012Validator({**schema, "components": document["components"]}).validate(response.json())


def test_the_docs_are_served_without_a_token(engine: Engine, document: dict[str, Any]) -> None:
    assert document["servers"][0]["url"] == engine.api_url
    assert {(method.upper(), path) for path, item in document["paths"].items() for method in item} == {
        (r.method, r.path) for r in ROUTES
    }
    page = httpx.get(f"{engine.api_url}{DOCS_PATH}", timeout=30)
    assert page.status_code == 200
    assert "SwaggerUIBundle(" in page.text
    script = httpx.get(f"{engine.api_url}{DOCS_PATH}/swagger-ui-bundle.min.js", timeout=30)
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(engine: Engine, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{engine.api_url}{OPENAPI_PATH}",
        "--url",
        engine.api_url,
        "--header",
        f"Authorization: Bearer {engine.token(FUZZ_CLIENT)}",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "1",
        # One worker: two threads of hypothesis parsing lambdas' source at once meet CPython
        # 3.11's "AST constructor recursion depth mismatch" (python/cpython#106905).
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--no-color",
        "--report",
        "json,ndjson",
        "--report-json-path",
        str(reports / "run.json"),
        "--report-ndjson-path",
        str(reports / "events.ndjson"),
    ]
    started = time.monotonic()
    result = subprocess.run(
        command,
        cwd=tmp_path,  # schemathesis and hypothesis keep their files there
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"schemathesis failed after {elapsed:.0f}s:\n{output[-20000:]}"

    report = json.loads((reports / "run.json").read_text())
    assert report["failures"] == [] and report["errors"] == [], output[-20000:]
    assert report["operations"]["tested"] == len(ROUTES)
    answers = answered_requests(reports / "events.ndjson")
    total = sum(answers.values())
    summary = ", ".join(f"{op} {status}: {n}" for (op, status), n in sorted(answers.items()))
    print(f"schemathesis: {total} requests, {report['test_cases']['generated']} test cases, {elapsed:.0f}s; {summary}")
    assert total >= MIN_REQUESTS, f"only {total} requests:\n{output[-5000:]}"
    assert {op for op, _ in answers} >= {r.route_key for r in ROUTES}
    assert not [key for key in answers if key[1] >= 500]


def answered_requests(events: Path) -> collections.Counter[tuple[str, int]]:
    """(route key, status) of every request schemathesis made and got an answer to."""
    counts: collections.Counter[tuple[str, int]] = collections.Counter()
    for line in events.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        for interaction in finished["recorder"].get("interactions", {}).values():
            if interaction.get("response"):
                request = interaction["request"]
                route = route_of(request["method"], httpx.URL(request["uri"]).path)
                counts[(route, interaction["response"]["status_code"])] += 1
    return counts


def route_of(method: str, path: str) -> str:
    parts = path.split("/")
    for route in ROUTES:
        pattern = route.path.split("/")
        if route.method == method and len(pattern) == len(parts):
            if all(p == q or (p.startswith("{") and p.endswith("}")) for p, q in zip(pattern, parts, strict=True)):
                return route.route_key
    return f"{method} (no route)"


def test_the_answers_of_a_campaign_life_are_in_the_document(engine: Engine, api, make_campaign, document) -> None:
    setup = make_campaign(3)
    empty = make_campaign(0)
    cid, agent = setup.campaign_id, setup.agent_id
    base = f"/api/v1/client/campaigns/{cid}"

    def check(method: str, path: str, response: httpx.Response, status: int) -> dict[str, Any]:
        assert response.status_code == status, response.text
        conforms(document, method, path, response)
        return response.json()

    check("GET", "/api/v1/client/agents/{id}", api.get(f"/api/v1/client/agents/{agent}"), 200)
    check("GET", "/api/v1/client/agents/{id}", api.get("/api/v1/client/agents/ag_none"), 404)
    check("GET", CAMPAIGN, api.get(base), 200)
    added = api.post(f"{base}/contacts", json={"contacts": [{"name": "Jane Roe", "phone": "+442071838750"}]})
    check("POST", f"{CAMPAIGN}/contacts", added, 201)
    first = check("GET", f"{CAMPAIGN}/contacts", api.get(f"{base}/contacts", params={"limit": 2}), 200)
    token = first["data"]["nextToken"]
    check("GET", f"{CAMPAIGN}/contacts", api.get(f"{base}/contacts", params={"nextToken": token}), 200)
    check("GET", f"{CAMPAIGN}/calling-status", api.get(f"{base}/calling-status"), 200)

    call = {"contactId": "ct_0000000001", "agentId": agent}
    check("POST", f"{CAMPAIGN}/make-call", api.post(f"{base}/make-call", json=call), 200)
    engine.set_fault(mode="error500", count=None)  # the provider refuses every dial until reset
    try:
        refused = check("POST", f"{CAMPAIGN}/make-call", api.post(f"{base}/make-call", json=call), 200)
    finally:
        engine.set_fault(mode="none")
    assert refused["data"]["success"] is False and refused["data"]["error"]
    check("GET", f"{CAMPAIGN}/call-logs", api.get(f"{base}/call-logs", params={"limit": 1}), 200)

    start = {"agentId": agent, "delayBetweenCalls": 60_000}
    check("POST", f"{CAMPAIGN}/start-calling", api.post(f"{base}/start-calling", json=start), 200)
    check("POST", f"{CAMPAIGN}/start-calling", api.post(f"{base}/start-calling", json=start), 409)
    wait_until(
        lambda: api.get(f"{base}/calling-status").json()["data"]["progress"]["completedCalls"] >= 1,
        timeout=30,
        what="the first call of the run",
        log=engine.log_path,
    )
    check("GET", f"{CAMPAIGN}/calling-status", api.get(f"{base}/calling-status"), 200)
    check("POST", f"{CAMPAIGN}/stop-calling", api.post(f"{base}/stop-calling"), 200)
    check("POST", f"{CAMPAIGN}/stop-calling", api.post(f"{base}/stop-calling"), 409)
    check("GET", f"{CAMPAIGN}/calling-status", api.get(f"{base}/calling-status"), 200)
    check("GET", f"{CAMPAIGN}/call-logs", api.get(f"{base}/call-logs"), 200)
    no_contacts = api.post(
        f"/api/v1/client/campaigns/{empty.campaign_id}/start-calling", json=start | {"agentId": empty.agent_id}
    )
    check("POST", f"{CAMPAIGN}/start-calling", no_contacts, 400)

    # Listed, changed and deleted: the management routes' answers, 409 while a run uses them.
    check("GET", "/api/v1/client/campaigns", api.get("/api/v1/client/campaigns", params={"limit": 1}), 200)
    check("GET", "/api/v1/client/agents", api.get("/api/v1/client/agents", params={"limit": 1}), 200)
    restart = api.post(f"{base}/start-calling", json=start)
    check("POST", f"{CAMPAIGN}/start-calling", restart, 200)
    contact = f"{CAMPAIGN}/contacts/{{contactId}}"
    for method, path, url, body in (
        ("PATCH", CAMPAIGN, base, {"name": "Renamed"}),
        ("DELETE", CAMPAIGN, base, None),
        ("PATCH", contact, f"{base}/contacts/ct_0000000001", {"name": "Renamed"}),
        ("DELETE", contact, f"{base}/contacts/ct_0000000001", None),
        ("PATCH", "/api/v1/client/agents/{id}", f"/api/v1/client/agents/{agent}", {"name": "Renamed"}),
        ("DELETE", "/api/v1/client/agents/{id}", f"/api/v1/client/agents/{agent}", None),
    ):
        check(method, path, api.request(method, url, json=body), 409)
    check("POST", f"{CAMPAIGN}/stop-calling", api.post(f"{base}/stop-calling"), 200)
    check("PATCH", CAMPAIGN, api.patch(base, json={"name": "Renamed", "timezone": None}), 200)
    check("PATCH", contact, api.patch(f"{base}/contacts/ct_0000000001", json={"timezone": "Europe/Paris"}), 200)
    check("PATCH", contact, api.patch(f"{base}/contacts/ct_0000000001", json={}), 400)
    check("DELETE", contact, api.delete(f"{base}/contacts/ct_0000000001"), 200)
    check("DELETE", contact, api.delete(f"{base}/contacts/ct_0000000001"), 404)
    check("PATCH", "/api/v1/client/agents/{id}", api.patch(f"/api/v1/client/agents/{agent}", json={"name": "A"}), 200)
    check("DELETE", CAMPAIGN, api.delete(base), 200)
    check("DELETE", CAMPAIGN, api.delete(base), 404)
    check("GET", f"{CAMPAIGN}/call-logs", api.get(f"{base}/call-logs"), 200)  # kept after the campaign
    check("DELETE", "/api/v1/client/agents/{id}", api.delete(f"/api/v1/client/agents/{agent}"), 200)

    with httpx.Client(base_url=engine.api_url, timeout=30) as anonymous:
        check("GET", CAMPAIGN, anonymous.get(base), 401)
    with httpx.Client(
        base_url=engine.api_url, timeout=30, headers={"Authorization": f"Bearer {engine.token(' ')}"}
    ) as nobody:
        check("GET", CAMPAIGN, nobody.get(base), 403)


# Bodies Powertools could not read used to escape as 500 "internal error".
BAD_BODIES = {
    "text/plain": ("text/plain", b'{"name": "A", "providerAgentId": "p"}', 415),
    "JSON with another content type": ("application/xml", b"<agent/>", 415),
    "bytes that are not UTF-8": ("application/json", b"\xff\xfe{}", 400),
    "JSON nested too deep": ("application/json", b"[" * 100_000, 400),
    "a number of 5,000 digits": ("application/json", b'{"name": ' + b"9" * 5000 + b"}", 400),
    "multipart without boundary": ("multipart/form-data", b"name=A", 415),
}


@pytest.mark.parametrize(("content_type", "body", "status"), BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_a_body_that_cannot_be_read_is_refused_as_documented(api, document, content_type, body, status) -> None:
    response = api.post("/api/v1/client/agents", content=body, headers={"content-type": content_type})
    assert response.status_code == status, response.text
    conforms(document, "POST", "/api/v1/client/agents", response)


def test_a_next_token_of_deeply_nested_json_is_refused(api, make_campaign, document) -> None:
    setup = make_campaign(1)
    token = base64.urlsafe_b64encode(b"[" * 1500).decode().rstrip("=")  # 2,000 characters: within maxLength
    response = api.get(f"/api/v1/client/campaigns/{setup.campaign_id}/contacts", params={"nextToken": token})
    assert response.status_code == 400, response.text
    conforms(document, "GET", f"{CAMPAIGN}/contacts", response)
