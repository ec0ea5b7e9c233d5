"""make-call's deadline through its real handler (moto, the simulated provider): a call
that runs out of time is logged and answered with 504 in the envelope, naming the call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from campaign_calling import wiring
from campaign_calling.models import AgentInput, CampaignInput, ContactInput
from campaign_local.lambdas import LambdaContext

EVENTS = Path(__file__).resolve().parents[2] / "events"
CLIENT = "demo-client"  # the subject of the sample events' token


def make_call_event(campaign_id: str, contact_id: str, agent_id: str) -> dict[str, Any]:
    event = json.loads((EVENTS / "make_call.json").read_text())
    path = f"/api/v1/client/campaigns/{campaign_id}/make-call"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = {"id": campaign_id}
    event["body"] = json.dumps({"contactId": contact_id, "agentId": agent_id})
    return event


def test_a_call_without_time_left_to_dial_is_logged_failed_and_answered_504(aws: Any) -> None:
    # Given a campaign with one contact and an agent
    aws.use_function("MakeCallFunction")
    catalog = wiring.catalog_service()
    agent = catalog.create_agent(CLIENT, AgentInput(name="Agent", providerAgentId="assistant"))
    campaign = catalog.create_campaign(
        CLIENT, CampaignInput(name="C", contacts=[ContactInput(name="Jo", phone="+12025550123")])
    )
    (contact,) = catalog.list_contacts(CLIENT, campaign.id, 10, None).items

    # When make-call's handler runs with 1 s left: less than the call log's reserve
    handler = aws.functions.handler("MakeCallFunction")
    context = LambdaContext(function_name="MakeCallFunction", timeout_seconds=1)
    result = handler(make_call_event(campaign.id, contact.id, agent.id), context)

    # Then the answer is 504 in the envelope, naming the call
    assert result["statusCode"] == 504
    body = json.loads(result["body"])
    assert body["success"] is False
    assert body["message"] == (
        "Timed out before the telephony provider accepted the call: it was not placed (logged as failed)"
    )
    # and the call is logged, as failed: the provider was never asked
    (log,) = catalog.list_call_logs(CLIENT, campaign.id, 10, None).items
    assert log.uniqueId == body["data"]["uniqueId"]
    assert log.outcome == "failed"
    assert log.error == "not dialed: no time left before the deadline"
    assert httpx.get(f"{aws.dialer.url}/calls", timeout=10).json() == []
