"""Every request authenticated, every client sealed off from every other, end to end."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from joserfc import jwk

from campaign_local.auth import LocalIdentityProvider
from campaign_local.template import Template, find_template
from tests.support.e2e import CAMPAIGNS, CampaignSetup, Engine, calling_status, wait_until

pytestmark = pytest.mark.e2e

# The clients' routes: every route behind the JWT authorizer (the providers' webhooks are
# open, signed by the provider: tests/e2e/test_status_webhooks.py).
ROUTES = [route for route in Template(find_template()).routes() if route.authorizer]
CLIENT_B = "client-b"


def request_for(route, setup: CampaignSetup, contact_id: str = "ct_0000000001") -> tuple[str, str, dict | None]:
    """A request that would succeed for the owner of ``setup``."""
    ids = {
        "id": setup.agent_id if "/agents/" in route.path else setup.campaign_id,
        "provider": "generic",
        "phone": "+12025550177",
        "contactId": contact_id,
        "runId": "run-1700000000000-aaaaaa",
    }
    path = route.path.format(**ids)
    bodies = {
        "start-calling": {"agentId": setup.agent_id, "delayBetweenCalls": 0},
        "make-call": {"contactId": contact_id, "agentId": setup.agent_id},
        "contacts": {"contacts": [{"name": "New", "phone": "+12025550177"}]},
        "agents": {"name": "A", "providerAgentId": "p"},
        "campaigns": {"name": "C"},
        "generic": {"apiKey": "sk-auth-test", "webhookSecret": "whsec-auth-test"},
        "settings": {"maxConcurrentCalls": 5, "maxCallsPerSecond": 2},
        "dnc": {"phones": ["+12025550177"]},
        "contacts.csv": "name,phone\nNew,+12025550177\n",
    }
    body = bodies.get(path.rsplit("/", 1)[-1]) if route.method in ("POST", "PUT") else None
    if route.method == "PATCH":  # agents, campaigns and contacts all take a new name
        body = {"name": "Renamed"}
    return route.method, path, body


def sent(body: dict | str | None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """httpx's arguments for ``body``: JSON, or a CSV file (the contacts.csv route)."""
    if isinstance(body, str):
        return {"content": body, "headers": {**(headers or {}), "content-type": "text/csv"}}
    return {"json": body, "headers": headers}


def other_key_token(client: str) -> str:
    key = jwk.RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, private=True)
    key.ensure_kid()
    return LocalIdentityProvider(key).issue(client)


def test_every_route_refuses_requests_without_a_valid_token(engine: Engine, make_campaign):
    setup = make_campaign(2)
    bad_tokens = {
        "no token": None,
        "not a JWT": "Bearer not-a-token",
        "expired": f"Bearer {engine.token(ttl_seconds=-5)}",
        "signed by another key": f"Bearer {other_key_token('client-a')}",
        "wrong audience": f"Bearer {engine.token(aud='another-api')}",
        "wrong issuer": f"Bearer {engine.token(iss='https://issuer.example')}",
    }
    assert len(ROUTES) == 32
    with httpx.Client(base_url=engine.api_url, timeout=30) as raw:
        for route in ROUTES:
            method, path, body = request_for(route, setup)
            for label, header in bad_tokens.items():
                headers = {"Authorization": header} if header else {}
                response = raw.request(method, path, **sent(body, headers))
                assert response.status_code == 401, (route.route_key, label, response.text)
                answer = response.json()
                assert answer["success"] is False and answer["message"].startswith("Unauthorized"), (label, answer)
    # Nothing happened: no run, no call, no new contact.
    with engine.client() as api:
        campaign = api.get(f"{CAMPAIGNS}/{setup.campaign_id}").json()["data"]
    assert (campaign["isRunning"], campaign["totalContacts"]) == (False, 2)
    assert engine.calls_for(setup.campaign_id) == []


def snapshot(api: httpx.Client, setup: CampaignSetup) -> dict[str, Any]:
    return {
        "campaign": api.get(f"{CAMPAIGNS}/{setup.campaign_id}").json(),
        "agent": api.get(f"/api/v1/client/agents/{setup.agent_id}").json(),
        "contacts": api.get(f"{CAMPAIGNS}/{setup.campaign_id}/contacts").json(),
        "logs": api.get(f"{CAMPAIGNS}/{setup.campaign_id}/call-logs").json(),
        "status": api.get(f"{CAMPAIGNS}/{setup.campaign_id}/calling-status").json(),
    }


def test_another_clients_resources_are_indistinguishable_from_missing_ones(engine: Engine, make_campaign):
    # Given client B's agent, campaign, contacts and a call log
    with engine.client(CLIENT_B) as b:
        b_agent = b.post("/api/v1/client/agents", json={"name": "B", "providerAgentId": "pb"}).json()["data"]["_id"]
        contacts = [{"name": "B1", "phone": "+12025550181"}, {"name": "B2", "phone": "+12025550182"}]
        b_campaign = b.post("/api/v1/client/campaigns", json={"name": "B's", "contacts": contacts}).json()["data"][
            "_id"
        ]
        b_setup = CampaignSetup(b_campaign, b_agent, [c["phone"] for c in contacts])
        made = b.post(f"{CAMPAIGNS}/{b_campaign}/make-call", json={"contactId": "ct_0000000001", "agentId": b_agent})
        assert made.status_code == 200
        # (once the provider has reported the call's end: its webhooks change B's log until then)
        wait_until(
            lambda: b.get(f"{CAMPAIGNS}/{b_campaign}/call-logs").json()["data"]["items"][0]["status"] == "completed",
            timeout=30,
            what="B's call to end",
        )
        before = snapshot(b, b_setup)
    b_calls = [call["callId"] for call in engine.calls_for(b_campaign)]
    missing = CampaignSetup("cmp_doesnotexist00000000", "ag_doesnotexist000000000", [])
    a_own = make_campaign(1)

    with engine.client("client-a") as a:
        for route in ROUTES:
            if "{id}" not in route.path:
                continue
            # When client A uses B's ids on every route that takes one
            method, path, body = request_for(route, b_setup)
            on_b = a.request(method, path, **sent(body))
            method, path, body = request_for(route, missing)
            on_missing = a.request(method, path, **sent(body))
            # Then it is a 404, word for word what a missing resource gives
            assert on_b.status_code == 404, (route.route_key, on_b.text)
            assert on_b.json() == on_missing.json(), route.route_key
            assert b_campaign not in on_b.text and b_agent not in on_b.text

        # Nor can A's own campaign use B's agent, or dial B's contact by id
        start = a.post(f"{CAMPAIGNS}/{a_own.campaign_id}/start-calling", json={"agentId": b_agent})
        assert (start.status_code, start.json()["message"]) == (404, "agent not found")
        call = a.post(
            f"{CAMPAIGNS}/{a_own.campaign_id}/make-call", json={"contactId": "ct_0000000002", "agentId": b_agent}
        )
        assert call.status_code == 404

    # And B's data is exactly as it was
    with engine.client(CLIENT_B) as b:
        assert snapshot(b, b_setup) == before
    assert [call["callId"] for call in engine.calls_for(b_campaign)] == b_calls


def test_two_clients_running_at_once_see_only_their_own_progress_and_logs(engine: Engine):
    runs = {}
    for client in ("tenant-one", "tenant-two"):
        with engine.client(client) as api:
            agent = api.post("/api/v1/client/agents", json={"name": client, "providerAgentId": client}).json()["data"]
            contacts = [{"name": f"{client} {i}", "phone": f"+1202555{300 + i:04d}"} for i in range(4)]
            campaign = api.post("/api/v1/client/campaigns", json={"name": client, "contacts": contacts}).json()["data"]
            runs[client] = (campaign["_id"], agent["_id"])
    for client, (campaign, agent) in runs.items():
        with engine.client(client) as api:
            started = api.post(
                f"{CAMPAIGNS}/{campaign}/start-calling", json={"agentId": agent, "delayBetweenCalls": 200}
            )
            assert started.status_code == 200

    for client, (campaign, _) in runs.items():
        other_campaign = next(c for k, (c, _) in runs.items() if k != client)
        with engine.client(client) as api:
            final = wait_until(
                lambda api=api, campaign=campaign: (
                    (s := calling_status(api, campaign))["progress"] and not s["isRunning"] and s
                ),
                timeout=30,
                what=f"{client}'s run",
                log=engine.log_path,
            )
            assert final["progress"]["completedCalls"] == 4
            logs = api.get(f"{CAMPAIGNS}/{campaign}/call-logs").json()["data"]["items"]
            assert len(logs) == 4
            assert {log["campaignId"] for log in logs} == {campaign}
            assert {log["contactName"].rsplit(" ", 1)[0] for log in logs} == {client}
            assert api.get(f"{CAMPAIGNS}/{other_campaign}/calling-status").status_code == 404
            assert api.get(f"{CAMPAIGNS}/{other_campaign}/call-logs").status_code == 404
        # Every dial carried its own client, and only its own contacts were dialed.
        calls = engine.calls_for(campaign)
        assert {c["body"]["metadata"]["clientId"] for c in calls} == {client}
        assert len(calls) == 4
