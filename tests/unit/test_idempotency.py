"""Idempotency-Key through the real handlers (moto, the template's IdempotencyTable, the
simulated provider): what Powertools' idempotency and its DynamoDB records give. A repeat
answers the first result (read back from the record) and does nothing again; keys are per
client; a key reused for another request is refused; errors are not remembered. make-call's
own rules on fakes: tests/domain/test_calls_make_call.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from campaign_calling import wiring
from campaign_calling.calls.make_call import provider_key
from campaign_calling.errors import Conflict
from campaign_calling.models import AgentInput, CampaignInput, ContactInput
from campaign_local.auth import as_api_gateway_claims, unsigned_token
from campaign_local.lambdas import LambdaContext

EVENTS = Path(__file__).resolve().parents[2] / "events"
CLIENT = "demo-client"  # the subject of the sample events' token


def event(name: str, path: str, campaign_id: str | None, body: dict[str, Any], key: str | None, client: str = CLIENT):
    """A sample event of events/, sent to ``path`` with ``body`` and the Idempotency-Key."""
    sample = json.loads((EVENTS / name).read_text())
    sample["rawPath"] = sample["requestContext"]["http"]["path"] = path
    sample["pathParameters"] = {"id": campaign_id} if campaign_id else None
    sample["body"] = json.dumps(body)
    sample["isBase64Encoded"] = False
    if key is not None:
        sample["headers"] = {**sample["headers"], "idempotency-key": key}
    claims = {**sample["requestContext"]["authorizer"]["jwt"]["claims"], "sub": client}
    sample["requestContext"]["authorizer"]["jwt"]["claims"] = as_api_gateway_claims(claims)
    # The tenant's claim is read from the token API Gateway verified, too.
    sample["headers"] = {**sample["headers"], "authorization": f"Bearer {unsigned_token(claims)}"}
    return sample


def invoke(aws: Any, logical_id: str, sample: dict[str, Any], timeout: int = 25) -> tuple[int, dict[str, Any]]:
    aws.use_function(logical_id)
    handler = aws.functions.handler(logical_id)
    result = handler(sample, LambdaContext(function_name=logical_id, timeout_seconds=timeout))
    return result["statusCode"], json.loads(result["body"])


def setup_campaign(client: str = CLIENT) -> tuple[str, str, str]:
    catalog = wiring.catalog_service()
    agent = catalog.create_agent(client, AgentInput(name="Agent", providerAgentId="assistant"))
    campaign = catalog.create_campaign(
        client,
        CampaignInput(
            name="C",
            contacts=[ContactInput(name="Jo", phone="+12025550123"), ContactInput(name="Al", phone="+12025550124")],
        ),
    )
    contacts = catalog.list_contacts(client, campaign.id, 10, None).items
    return campaign.id, contacts[0].id, agent.id


def make_call(aws: Any, campaign_id: str, contact_id: str, agent_id: str, key: str | None, client: str = CLIENT):
    path = f"/api/v1/client/campaigns/{campaign_id}/make-call"
    body = {"contactId": contact_id, "agentId": agent_id}
    return invoke(aws, "MakeCallFunction", event("make_call.json", path, campaign_id, body, key, client))


def provider_calls(aws: Any) -> list[dict[str, Any]]:
    return httpx.get(f"{aws.dialer.url}/calls", timeout=10).json()


def test_make_call_repeated_with_one_key_places_one_call_and_answers_the_first_result(aws: Any) -> None:
    # Given a campaign, a contact and an agent
    aws.use_function("MakeCallFunction")
    campaign_id, contact_id, agent_id = setup_campaign()
    # When make-call is sent twice with the same Idempotency-Key
    first = make_call(aws, campaign_id, contact_id, agent_id, "key-1")
    again = make_call(aws, campaign_id, contact_id, agent_id, "key-1")
    # Then one call was placed, and both answers are that call
    assert first[0] == again[0] == 200
    assert again[1] == first[1]
    (call,) = provider_calls(aws)
    # with the provider's key derived from the client's key, not from the call
    expected = provider_key(CLIENT, campaign_id, contact_id, agent_id, "key-1")
    assert call["headers"]["idempotency-key"] == expected
    assert expected.startswith("manual:") and "key-1" not in expected
    (log,) = wiring.catalog_service().list_call_logs(CLIENT, campaign_id, 10, None).items
    assert log.uniqueId == first[1]["data"]["uniqueId"]


def test_one_key_is_one_clients_only(aws: Any) -> None:
    # Given two clients with a campaign each
    aws.use_function("MakeCallFunction")
    mine = setup_campaign(CLIENT)
    theirs = setup_campaign("other-client")
    # When both send make-call with the same key
    status_a, a = make_call(aws, *mine, "shared-key")
    status_b, b = make_call(aws, *theirs, "shared-key", client="other-client")
    # Then each placed its own call
    assert (status_a, status_b) == (200, 200)
    assert a["data"]["uniqueId"] != b["data"]["uniqueId"]
    assert len(provider_calls(aws)) == 2


def test_a_key_reused_for_another_request_is_refused_with_422(aws: Any) -> None:
    aws.use_function("MakeCallFunction")
    campaign_id, contact_id, agent_id = setup_campaign()
    assert make_call(aws, campaign_id, contact_id, agent_id, "key-2")[0] == 200
    contacts = wiring.catalog_service().list_contacts(CLIENT, campaign_id, 10, None).items
    status, body = make_call(aws, campaign_id, contacts[1].id, agent_id, "key-2")
    assert status == 422
    assert body == {
        "success": False,
        "message": "this Idempotency-Key was already used for a different request; use a new key",
    }
    assert len(provider_calls(aws)) == 1


def test_errors_are_not_remembered(aws: Any) -> None:
    # Given an agent that does not exist (404: nothing placed)
    aws.use_function("MakeCallFunction")
    campaign_id, contact_id, agent_id = setup_campaign()
    assert make_call(aws, campaign_id, contact_id, "ag_missing", "key-3")[0] == 404
    # When the client retries with the same key: the record was dropped, so this is a
    # fresh request, here with the right agent (a different body, no 422)
    status, _ = make_call(aws, campaign_id, contact_id, agent_id, "key-3")
    assert status == 200
    assert len(provider_calls(aws)) == 1


def test_a_request_still_in_progress_answers_409(aws: Any) -> None:
    # Given a request with a key whose work has not finished yet
    aws.use_function("MakeCallFunction")
    requests = wiring.make_call_idempotency()
    seen: list[str] = []

    def inner() -> dict[str, Any]:
        # When the same request arrives meanwhile
        with pytest.raises(Conflict, match="still in progress") as refused:
            requests.run(lambda: {"n": 2}, client_id=CLIENT, key="k", request={"a": 1})
        seen.append(refused.value.message)
        return {"n": 1}

    # Then it is refused with 409, and the first one's result is what the key answers
    assert requests.run(inner, client_id=CLIENT, key="k", request={"a": 1}) == {"n": 1}
    assert len(seen) == 1
    assert requests.run(lambda: {"n": 3}, client_id=CLIENT, key="k", request={"a": 1}) == {"n": 1}


def test_adding_contacts_twice_with_one_key_stores_them_once(aws: Any) -> None:
    # Given a campaign (and its agent, which only a function that checks agents can create)
    aws.use_function("AgentsFunction")
    campaign_id, _, _ = setup_campaign()
    path = f"/api/v1/client/campaigns/{campaign_id}/contacts"
    body = {"contacts": [{"name": f"N{i}", "phone": f"+1202555{1000 + i:04d}"} for i in range(3)]}
    # When the same add is sent twice with one key
    first = invoke(aws, "ContactsFunction", event("contacts_add.json", path, campaign_id, body, "add-1"), 20)
    again = invoke(aws, "ContactsFunction", event("contacts_add.json", path, campaign_id, body, "add-1"), 20)
    # Then the contacts are stored once and both answers are the first one's
    assert first[0] == again[0] == 201
    assert again[1] == first[1]
    assert first[1]["data"]["totalContacts"] == 5
    assert wiring.catalog_service().get_campaign(CLIENT, campaign_id).totalContacts == 5


def test_creating_a_campaign_twice_with_one_key_creates_one(aws: Any) -> None:
    aws.use_function("CampaignsFunction")
    body = {"name": "Spring", "contacts": [{"name": "Jo", "phone": "+12025550123"}]}
    path = "/api/v1/client/campaigns"
    answers = [
        invoke(aws, "CampaignsFunction", event("campaigns_create.json", path, None, body, "create-1"), 20)
        for _ in range(2)
    ]
    assert [status for status, _ in answers] == [201, 201]
    assert answers[0][1] == answers[1][1]
    assert answers[0][1]["message"] == "Campaign created"


def test_a_call_that_may_have_been_placed_is_remembered_with_its_504(aws: Any) -> None:
    # Given a provider that takes the next call but never answers
    aws.use_function("MakeCallFunction")
    campaign_id, contact_id, agent_id = setup_campaign()
    fault = {"mode": "accept-timeout", "count": 1, "latencyMs": 5000}
    httpx.post(f"{aws.dialer.url}/faults", json=fault, timeout=10).raise_for_status()
    path = f"/api/v1/client/campaigns/{campaign_id}/make-call"
    body = {"contactId": contact_id, "agentId": agent_id}

    # When make-call runs out of time waiting for it, and the client retries with its key
    first = invoke(aws, "MakeCallFunction", event("make_call.json", path, campaign_id, body, "key-504"), timeout=4)
    again = invoke(aws, "MakeCallFunction", event("make_call.json", path, campaign_id, body, "key-504"), timeout=4)

    # Then both answers are the same 504 naming the one call, and nothing was placed again
    assert first[0] == again[0] == 504
    assert again[1] == first[1]
    assert first[1]["message"].startswith("Timed out waiting for the telephony provider: the call may have been placed")
    assert len(provider_calls(aws)) == 1
