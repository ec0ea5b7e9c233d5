"""Listing, changing and deleting agents, campaigns and contacts on the local engine, over
HTTP: pages of the client's own, changes that read back, 409 naming the run while a run
uses them (running or paused), 404 once deleted, and a deleted campaign's call logs kept."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from campaign_cli.client import CampaignApi
from tests.support.e2e import CAMPAIGNS, Engine, calling_status, wait_until

pytestmark = pytest.mark.e2e

AGENTS = "/api/v1/client/agents"


@pytest.fixture
def api(engine: Engine) -> Iterator[CampaignApi]:
    """A client of its own: its lists hold only what this test made."""
    with engine.client(f"catalog-{uuid.uuid4().hex[:12]}") as client:
        yield client


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["success"] is True, answer
    return answer["data"]


def refused(response: Any, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["success"] is False and all(w in answer["message"] for w in words), answer
    return str(answer["message"])


def a_campaign(api: CampaignApi, contacts: int, first: int = 600) -> dict[str, Any]:
    people = [{"name": f"Contact {i + 1}", "phone": f"+1202555{first + i:04d}"} for i in range(contacts)]
    return ok(api.post(CAMPAIGNS, json={"name": "Managed", "contacts": people}), 201)


def an_agent(api: CampaignApi, name: str = "Bot") -> dict[str, Any]:
    return ok(api.post(AGENTS, json={"name": name, "providerAgentId": "assistant-e2e"}), 201)


def every_page(api: CampaignApi, path: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages, token = 0, None
    while True:
        data = ok(api.get(path, params={"limit": limit, **({"nextToken": token} if token else {})}))
        items += data["items"]
        pages += 1
        token = data["nextToken"]
        if token is None:
            return items, pages


def test_campaigns_and_agents_list_across_pages_with_their_status(engine: Engine, api: CampaignApi) -> None:
    # Given five campaigns and three agents of the client, one campaign having run
    campaigns = [a_campaign(api, 1, first=610 + i) for i in range(5)]
    agents = [an_agent(api, f"Bot {i}") for i in range(3)]
    ran = campaigns[0]["_id"]
    started = ok(
        api.post(f"{CAMPAIGNS}/{ran}/start-calling", json={"agentId": agents[0]["_id"], "delayBetweenCalls": 0})
    )
    wait_until(lambda: not calling_status(api, ran)["isRunning"], timeout=30, what="the run", log=engine.log_path)
    # When they are listed two at a time
    listed, pages = every_page(api, CAMPAIGNS, 2)
    listed_agents, agent_pages = every_page(api, AGENTS, 2)
    # Then each comes once, by id, across the pages
    assert [c["_id"] for c in listed] == sorted(c["_id"] for c in campaigns)
    assert pages == 3
    assert [a["_id"] for a in listed_agents] == sorted(a["_id"] for a in agents)
    assert agent_pages == 2
    # And each campaign shows its status: the one that ran names its run and how it ended
    status = {c["_id"]: (c["isRunning"], c["currentRunId"], c["lastRunStatus"]) for c in listed}
    assert status[ran][0] is False and status[ran][2] == "completed"
    assert status[ran][1] == calling_status(api, ran)["progress"]["runId"]
    assert started["campaignId"] == ran
    assert {status[c["_id"]] for c in campaigns[1:]} == {(False, None, None)}


def test_an_agent_a_campaign_and_a_contact_change_and_read_back(api: CampaignApi) -> None:
    # Given
    agent = an_agent(api)
    campaign = a_campaign(api, 3, first=620)
    cid = campaign["_id"]
    # When each is changed
    renamed = ok(api.patch(f"{AGENTS}/{agent['_id']}", json={"name": "Renewals bot", "callerId": "+12025550199"}))
    moved = ok(api.patch(f"{CAMPAIGNS}/{cid}", json={"name": "Autumn", "timezone": "Europe/Paris"}))
    contact = ok(
        api.patch(
            f"{CAMPAIGNS}/{cid}/contacts/ct_0000000002",
            json={"name": "Jane Roe", "phone": "+44 20 7183 8750", "timezone": "Europe/London"},
        )
    )
    # Then each answers as changed and reads back so
    assert (renamed["name"], renamed["callerId"], renamed["providerAgentId"]) == (
        "Renewals bot",
        "+12025550199",
        "assistant-e2e",
    )
    assert ok(api.get(f"{AGENTS}/{agent['_id']}")) == renamed
    assert (moved["name"], moved["timezone"], moved["totalContacts"]) == ("Autumn", "Europe/Paris", 3)
    assert ok(api.get(f"{CAMPAIGNS}/{cid}")) == moved
    assert (contact["name"], contact["phone"], contact["timezone"]) == ("Jane Roe", "+442071838750", "Europe/London")
    assert ok(api.get(f"{CAMPAIGNS}/{cid}/contacts"))["items"][1] == contact
    # And the number stays unique within the campaign: taken is a 409, the old one is free
    refused(api.patch(f"{CAMPAIGNS}/{cid}/contacts/ct_0000000001", json={"phone": "+442071838750"}), 409, "number")
    added = ok(
        api.post(f"{CAMPAIGNS}/{cid}/contacts", json={"contacts": [{"name": "Back", "phone": "+12025550621"}]}), 201
    )
    assert added["added"] == 1
    # And bad input is a 400 naming the field, changing nothing
    refused(api.patch(f"{CAMPAIGNS}/{cid}", json={"name": None}), 400, "name")
    refused(api.patch(f"{CAMPAIGNS}/{cid}/contacts/ct_0000000001", json={"phone": "+1 900 234 5678"}), 400, "phone")
    refused(api.patch(f"{AGENTS}/{agent['_id']}", json={"provider": "vapi", "callerId": None}), 400, "callerId")
    assert ok(api.get(f"{CAMPAIGNS}/{cid}")) == {**moved, "totalContacts": 4}


def test_nothing_a_run_uses_changes_while_it_runs_or_is_paused(engine: Engine, api: CampaignApi) -> None:
    # Given a campaign whose run waits a minute between calls
    agent = an_agent(api)
    campaign = a_campaign(api, 3, first=630)
    cid, aid = campaign["_id"], agent["_id"]
    ok(api.post(f"{CAMPAIGNS}/{cid}/start-calling", json={"agentId": aid, "delayBetweenCalls": 60_000}))
    run_id = calling_status(api, cid)["progress"]["runId"]
    attempts = [
        lambda: api.patch(f"{CAMPAIGNS}/{cid}", json={"name": "X"}),
        lambda: api.delete(f"{CAMPAIGNS}/{cid}"),
        lambda: api.patch(f"{CAMPAIGNS}/{cid}/contacts/ct_0000000003", json={"name": "X"}),
        lambda: api.delete(f"{CAMPAIGNS}/{cid}/contacts/ct_0000000003"),
        lambda: api.patch(f"{AGENTS}/{aid}", json={"name": "X"}),
        lambda: api.delete(f"{AGENTS}/{aid}"),
    ]
    # When each is tried while it runs, then while it is paused
    for state, words in (("running", ("running", run_id)), ("paused", ("paused", run_id))):
        if state == "paused":
            ok(api.post(f"{CAMPAIGNS}/{cid}/pause-calling"))
        # Then each is a 409 naming the run
        for attempt in attempts:
            refused(attempt(), 409, *words)
    # And nothing changed
    assert ok(api.get(f"{CAMPAIGNS}/{cid}"))["name"] == "Managed"
    assert len(ok(api.get(f"{CAMPAIGNS}/{cid}/contacts"))["items"]) == 3
    assert ok(api.get(f"{AGENTS}/{aid}"))["name"] == "Bot"
    # And once the run is stopped, they may change
    ok(api.post(f"{CAMPAIGNS}/{cid}/stop-calling"))
    assert ok(api.patch(f"{AGENTS}/{aid}", json={"name": "Free"}))["name"] == "Free"
    assert ok(api.delete(f"{CAMPAIGNS}/{cid}/contacts/ct_0000000003"))["_id"] == "ct_0000000003"
    assert ok(api.get(f"{CAMPAIGNS}/{cid}"))["totalContacts"] == 2


def test_deleted_things_are_404_and_a_deleted_campaigns_call_logs_stay(engine: Engine, api: CampaignApi) -> None:
    # Given a campaign that ran to the end, and its agent
    agent = an_agent(api)
    campaign = a_campaign(api, 3, first=640)
    cid, aid = campaign["_id"], agent["_id"]
    ok(api.post(f"{CAMPAIGNS}/{cid}/start-calling", json={"agentId": aid, "delayBetweenCalls": 0}))
    wait_until(lambda: not calling_status(api, cid)["isRunning"], timeout=30, what="the run", log=engine.log_path)
    logs = ok(api.get(f"{CAMPAIGNS}/{cid}/call-logs"))["items"]
    assert len(logs) == 3
    # When a contact, then the campaign, then the agent are deleted
    assert ok(api.delete(f"{CAMPAIGNS}/{cid}/contacts/ct_0000000001"))["_id"] == "ct_0000000001"
    deleted = ok(api.delete(f"{CAMPAIGNS}/{cid}"))
    assert (deleted["_id"], deleted["totalContacts"], deleted["lastRunStatus"]) == (cid, 2, "completed")
    assert ok(api.delete(f"{AGENTS}/{aid}"))["_id"] == aid
    # Then each answers 404 on every route that names it
    for response, kind in (
        (api.get(f"{CAMPAIGNS}/{cid}"), "campaign"),
        (api.patch(f"{CAMPAIGNS}/{cid}", json={"name": "X"}), "campaign"),
        (api.delete(f"{CAMPAIGNS}/{cid}"), "campaign"),
        (api.get(f"{CAMPAIGNS}/{cid}/contacts"), "campaign"),
        (api.patch(f"{CAMPAIGNS}/{cid}/contacts/ct_0000000002", json={"name": "X"}), "campaign"),
        (api.get(f"{CAMPAIGNS}/{cid}/calling-status"), "campaign"),
        (api.post(f"{CAMPAIGNS}/{cid}/start-calling", json={"agentId": aid}), "not found"),
        (api.get(f"{AGENTS}/{aid}"), "agent"),
        (api.delete(f"{AGENTS}/{aid}"), "agent"),
    ):
        refused(response, 404, kind)
    assert cid not in [c["_id"] for c in every_page(api, CAMPAIGNS, 50)[0]]
    # But the campaign's call logs are kept: records of calls made
    kept = ok(api.get(f"{CAMPAIGNS}/{cid}/call-logs"))["items"]
    assert [log["uniqueId"] for log in kept] == [log["uniqueId"] for log in logs]
    assert {log["campaignId"] for log in kept} == {cid}


def test_an_agents_new_provider_ids_are_checked_with_the_provider_as_on_create(engine: Engine) -> None:
    # Given a client whose own generic account owns agent pa-B and one number (not pa-A, nor another number)
    key = f"sk-e2e-{uuid.uuid4().hex}"
    account = httpx.post(
        f"{engine.dialer_url}/accounts",
        json={
            "provider": "generic",
            "credentials": {"apiKey": key, "webhookSecret": f"whsec-{key}"},
            "agents": ["pa-B"],
            "numbers": ["+12025550188"],
        },
        timeout=10,
    )
    assert account.status_code == 201, account.text
    with engine.client(f"catalog-{uuid.uuid4().hex[:12]}") as api:
        ok(api.connect_provider("generic", {"apiKey": key, "webhookSecret": f"whsec-{key}"}))
        agent = ok(api.post(AGENTS, json={"name": "B", "providerAgentId": "pa-B", "callerId": "+12025550188"}), 201)
        path = f"{AGENTS}/{agent['_id']}"
        # When its agent id, or its number, changes to one the account does not own
        # Then each is a 403 naming it, and the agent is as it was
        refused(api.patch(path, json={"providerAgentId": "pa-A"}), 403, "pa-A")
        refused(api.patch(path, json={"callerId": "+12025550143"}), 403, "+12025550143")
        assert ok(api.get(path)) == agent
        # And a change to what it owns passes
        assert ok(api.patch(path, json={"callerId": None}))["callerId"] is None
