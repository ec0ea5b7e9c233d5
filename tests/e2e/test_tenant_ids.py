"""A tenant is a bounded, non-empty string claim: anything else in the token's tenant claim
is refused with 403 before any handler work, on every route, even though API Gateway (and
the local engine, as it) hands every claim to the handler as a string."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from campaign_local.template import Template, find_template
from tests.support.e2e import Engine

pytestmark = pytest.mark.e2e

# The clients' routes: every route behind the JWT authorizer (the providers' webhooks are
# open, signed by the provider: tests/e2e/test_status_webhooks.py).
ROUTES = [route for route in Template(find_template()).routes() if route.authorizer]
AGENTS = "/api/v1/client/agents"
CAMPAIGNS = "/api/v1/client/campaigns"

NOT_A_TENANT = {
    "null": None,
    "a number": 424242,
    "a list": ["acme"],
    "an object": {"id": "acme"},
    "empty": "",
    "blank": "   ",
    "2 KB": "t" * 2048,
}


def request_for(route: Any) -> tuple[str, str, dict[str, Any] | str | None]:
    """A well-formed request for the route; the ids need not exist (a refusal comes first)."""
    path = route.path.format(
        id="cmp_aaaaaaaaaaaaaaaaaaaa",
        provider="generic",
        phone="+12025550176",
        contactId="ct_0000000001",
        runId="run-1700000000000-aaaaaa",
    )
    bodies = {
        "start-calling": {"agentId": "ag_aaaaaaaaaaaaaaaaaaaa", "delayBetweenCalls": 0},
        "make-call": {"contactId": "ct_0000000001", "agentId": "ag_aaaaaaaaaaaaaaaaaaaa"},
        "contacts": {"contacts": [{"name": "New", "phone": "+12025550177"}]},
        "agents": {"name": "A", "providerAgentId": "p"},
        "campaigns": {"name": "C", "contacts": [{"name": "N", "phone": "+12025550178"}]},
        "generic": {"apiKey": "sk-tenant-test", "webhookSecret": "whsec-tenant-test"},
        "settings": {"maxConcurrentCalls": 5, "maxCallsPerSecond": 2},
        "dnc": {"phones": ["+12025550176"]},
        "contacts.csv": "name,phone\nNew,+12025550177\n",
    }
    body = bodies.get(path.rsplit("/", 1)[-1]) if route.method in ("POST", "PUT") else None
    if route.method == "PATCH":  # agents, campaigns and contacts all take a new name
        body = {"name": "Renamed"}
    return route.method, path, body


def stored_items(engine: Engine) -> int:
    db = engine.aws_client("dynamodb")
    return sum(db.scan(TableName=name, Select="COUNT")["Count"] for name in db.list_tables()["TableNames"])


def as_tenant(engine: Engine, sub: Any) -> httpx.Client:
    return httpx.Client(base_url=engine.api_url, timeout=30, headers={"Authorization": f"Bearer {engine.token(sub)}"})


@pytest.mark.parametrize("label", sorted(NOT_A_TENANT))
def test_a_tenant_claim_that_is_not_a_bounded_string_is_refused_on_every_route(engine: Engine, label: str):
    # Given a validly signed token whose tenant claim is not a usable client id
    before = stored_items(engine)
    with as_tenant(engine, NOT_A_TENANT[label]) as api:
        # When it is sent to every route
        for route in ROUTES:
            method, path, body = request_for(route)
            if isinstance(body, str):  # a CSV file (the contacts.csv route)
                response = api.request(method, path, content=body, headers={"content-type": "text/csv"})
            else:
                response = api.request(method, path, json=body)

            # Then each refuses it with 403 in the envelope, saying why
            assert response.status_code == 403, (label, route.route_key, response.text)
            answer = response.json()
            assert answer["success"] is False and "'sub' claim" in answer["message"], (label, answer)
    # And nothing was stored
    assert stored_items(engine) == before


def test_a_number_is_not_the_tenant_its_string_names(engine: Engine):
    # Given an agent and a campaign of the client "424242"
    with as_tenant(engine, "424242") as owner:
        agent = owner.post(AGENTS, json={"name": "Numbers", "providerAgentId": "p"})
        assert agent.status_code == 201, agent.text
        agent_id = agent.json()["data"]["_id"]
        assert owner.get(f"{AGENTS}/{agent_id}").status_code == 200

    # When a token names the number 424242 (which API Gateway also hands over as "424242")
    with as_tenant(engine, 424242) as number:
        response = number.get(f"{AGENTS}/{agent_id}")

    # Then it is refused, not taken for the client "424242"
    assert response.status_code == 403
    assert response.json() == {"success": False, "message": "token's 'sub' claim must be a string, not a number"}


def test_the_longest_tenant_id_works_and_one_more_character_is_refused(engine: Engine):
    # Given client ids of 128 characters of 4-byte UTF-8 (every key they make fits DynamoDB)
    longest = "\U0001f600" * 128
    with as_tenant(engine, longest) as api:
        created = api.post(CAMPAIGNS, json={"name": "Wide", "contacts": [{"name": "W", "phone": "+12025550179"}]})
        assert created.status_code == 201, created.text
        campaign_id = created.json()["data"]["_id"]
        assert api.get(f"{CAMPAIGNS}/{campaign_id}/contacts").json()["data"]["items"][0]["name"] == "W"
    with as_tenant(engine, longest + "\U0001f600") as api:
        assert api.get(f"{CAMPAIGNS}/{campaign_id}").status_code == 403


def test_an_id_that_cannot_be_ours_is_a_400_not_a_lookup(engine: Engine):
    with engine.client() as api:
        for foreign in ("ag.x", "ag~x", "a" * 129):
            response = api.get(f"{AGENTS}/{foreign}")
            assert response.status_code == 400, (foreign, response.text)
            assert response.json()["success"] is False
        started = api.post(f"{CAMPAIGNS}/cmp_x/start-calling", json={"agentId": "ag#1"})
        assert started.status_code == 400 and "agentId" in started.json()["message"]
