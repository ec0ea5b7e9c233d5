"""The seed's calling flow end to end: real HTTP, moto running the real state machine,
the real handlers behind the Lambda Invoke endpoint, the simulated provider."""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx
import pytest

from tests.support.e2e import (
    CAMPAIGNS,
    Engine,
    all_call_logs,
    calling_status,
    executions_of,
    start_calling,
    wait_until,
)

pytestmark = pytest.mark.e2e

BASE = CAMPAIGNS


def wait_finished(api: httpx.Client, engine: Engine, campaign_id: str, timeout: float) -> dict[str, Any]:
    return wait_until(
        lambda: (s := calling_status(api, campaign_id))["progress"] and not s["isRunning"] and s,
        timeout=timeout,
        what="the run to finish",
        interval=0.2,
        log=engine.log_path,
    )


def gaps(calls: list[dict[str, Any]]) -> list[float]:
    times = [c["receivedAt"] for c in calls]
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def test_campaign_calls_every_contact_once_in_order_with_the_delay(api, engine, make_campaign):
    # Given a campaign of 5 contacts
    setup = make_campaign(5)

    # When calling starts with a 1000 ms delay
    response = start_calling(api, setup, 1000, expect=None)

    # Then the contract's answer comes at once
    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": True,
        "message": "Campaign calling started",
        "data": {"campaignId": setup.campaign_id, "totalContacts": 5, "status": "started"},
    }
    running = calling_status(api, setup.campaign_id)
    assert running["isRunning"] is True and running["progress"]["isRunning"] is True

    final = wait_finished(api, engine, setup.campaign_id, timeout=30)

    # and every contact was dialed exactly once, in the order added, at least 1 s apart
    calls = engine.calls_for(setup.campaign_id)
    assert [c["phone"] for c in calls] == setup.phones
    assert all(c["status"] == 201 for c in calls)
    assert all(g >= 1.0 for g in gaps(calls)), gaps(calls)
    assert statistics.median(gaps(calls)) < 1.1

    # and progress, call logs and the execution agree
    progress = final["progress"]
    assert progress["status"] == "completed"
    assert progress["completedCalls"] == progress["successfulCalls"] == 5
    assert progress["failedCalls"] == 0
    assert progress["currentIndex"] == 5 and progress["totalContacts"] == 5
    assert progress["lastCallTime"] and progress["startTime"]
    logs = all_call_logs(api, setup.campaign_id, page_size=2)
    assert len(logs) == 5
    assert sorted(log["phone"] for log in logs) == sorted(setup.phones)
    assert [log["uniqueId"] for log in logs] == sorted((log["uniqueId"] for log in logs), reverse=True)
    assert {log["outcome"] for log in logs} == {"success"}
    executions = executions_of(engine, progress["runId"])
    assert [e["status"] for e in executions] == ["SUCCEEDED"]
    history = engine.aws_client("stepfunctions").get_execution_history(
        executionArn=executions[0]["executionArn"], maxResults=1000
    )["events"]
    assert history[-1]["type"] == "ExecutionSucceeded"

    # and the campaign is free to start again
    assert api.get(f"{BASE}/{setup.campaign_id}").json()["data"]["isRunning"] is False


def test_sub_second_delay_is_honoured(api, engine, make_campaign):
    setup = make_campaign(4)
    assert start_calling(api, setup, 500, expect=None).status_code == 200
    wait_finished(api, engine, setup.campaign_id, timeout=30)
    spacing = gaps(engine.calls_for(setup.campaign_id))
    assert len(spacing) == 3
    assert all(g >= 0.5 for g in spacing), spacing
    assert statistics.median(spacing) < 0.6, spacing


def test_stop_mid_run_prevents_any_new_dial(api, engine, make_campaign):
    setup = make_campaign(10)
    assert start_calling(api, setup, 1000, expect=None).status_code == 200
    wait_until(lambda: len(engine.calls_for(setup.campaign_id)) >= 2, timeout=20, what="two dials", log=engine.log_path)

    response = api.post(f"{BASE}/{setup.campaign_id}/stop-calling")
    stopped_at = time.time()
    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": True,
        "message": "Campaign calling stopped",
        "data": {"campaignId": setup.campaign_id, "status": "stopped"},
    }
    # Progress says stopped at once
    now = calling_status(api, setup.campaign_id)
    assert now["isRunning"] is False and now["progress"]["status"] == "stopped"

    time.sleep(3)  # three more delays: a run that kept going would have dialed again
    calls = engine.calls_for(setup.campaign_id)
    late = [c for c in calls if c["receivedAt"] > stopped_at]
    # At most the one dial already in flight when stop answered, and it was claimed before.
    assert len(late) <= 1, late
    assert len(calls) < 10
    logs = all_call_logs(api, setup.campaign_id, page_size=2)
    final = calling_status(api, setup.campaign_id)["progress"]
    assert final["completedCalls"] == len(logs) == len(calls)
    assert final["successfulCalls"] + final["failedCalls"] == final["completedCalls"]
    executions = executions_of(engine, final["runId"])
    # moto ends an execution stopped during a Wait as FAILED, AWS as ABORTED: never RUNNING.
    wait_until(
        lambda: all(e["status"] != "RUNNING" for e in executions_of(engine, final["runId"])),
        timeout=10,
        what="the execution to end",
    )
    assert executions
    # A second stop is a conflict, and the campaign can start again
    assert api.post(f"{BASE}/{setup.campaign_id}/stop-calling").status_code == 409
    assert api.get(f"{BASE}/{setup.campaign_id}").json()["data"]["isRunning"] is False


def test_make_call_places_one_logged_call(api, engine, make_campaign):
    setup = make_campaign(2)
    contacts = api.get(f"{BASE}/{setup.campaign_id}/contacts").json()["data"]["items"]
    target = contacts[1]

    response = api.post(
        f"{BASE}/{setup.campaign_id}/make-call", json={"contactId": target["_id"], "agentId": setup.agent_id}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert data["success"] is True
    assert data["uniqueId"].startswith("aidial-")
    assert data["contact"] == {"_id": target["_id"], "name": target["name"], "phone": target["phone"]}
    assert data["timestamp"].endswith("Z")
    assert data["externalResponse"]["status"] == "queued"
    calls = engine.calls_for(setup.campaign_id)
    assert [c["phone"] for c in calls] == [target["phone"]]
    logs = all_call_logs(api, setup.campaign_id, page_size=2)
    assert [(log["uniqueId"], log["source"], log["outcome"]) for log in logs] == [
        (data["uniqueId"], "manual", "success")
    ]


def test_error_statuses(api, engine, make_campaign):
    setup = make_campaign(3)
    empty = make_campaign(0)
    cid = setup.campaign_id

    def post(path: str, **kwargs: Any) -> httpx.Response:
        return api.post(f"{BASE}/{path}", **kwargs)

    cases = [
        (post(f"{cid}/start-calling", content=b"{not json", headers={"content-type": "application/json"}), 400, "JSON"),
        (
            post(f"{cid}/start-calling", json={"agentId": setup.agent_id, "delayBetweenCalls": -1}),
            400,
            "delayBetweenCalls",
        ),
        (
            post(f"{cid}/start-calling", json={"agentId": setup.agent_id, "delayBetweenCalls": 3_600_001}),
            400,
            "delayBetweenCalls",
        ),
        (post(f"{cid}/start-calling", json={"delayBetweenCalls": 1000}), 400, "agentId"),
        (post(f"{cid}/start-calling", json={"agentId": "ag_missing"}), 404, "agent not found"),
        (post("cmp_missing/start-calling", json={"agentId": setup.agent_id}), 404, "campaign not found"),
        (post(f"{empty.campaign_id}/start-calling", json={"agentId": empty.agent_id}), 400, "no contacts"),
        (post(f"{cid}/stop-calling"), 409, "not running"),
        (post("cmp_missing/stop-calling"), 404, "campaign not found"),
        (api.get(f"{BASE}/cmp_missing/calling-status"), 404, "campaign not found"),
        (
            post(f"{cid}/make-call", json={"contactId": "ct_0000000099", "agentId": setup.agent_id}),
            404,
            "contact not found",
        ),
        (post(f"{cid}/make-call", json={"contactId": "ct_0000000001"}), 400, "agentId"),
        (post(f"{cid}/contacts", json={"contacts": [{"name": "X", "phone": "12"}]}), 400, "phone"),
        (api.post("/api/v1/client/campaigns", json={"name": ""}), 400, "name"),
        (api.get(f"{BASE}/{cid}/contacts", params={"nextToken": "garbage"}), 400, "nextToken"),
        (api.get(f"{BASE}/{cid}/contacts", params={"limit": 0}), 400, "limit"),
        (api.get("/api/v1/client/nothing-here"), 404, "not found"),
        (api.get(f"{BASE}/{'x' * 200}/calling-status"), 400, "id"),
        (api.post("/api/v1/client/campaigns", json=[]), 400, "request body"),
    ]
    for response, expected, words in cases:
        assert response.status_code == expected, (response.request.url, response.text)
        body = response.json()
        assert body["success"] is False and words in body["message"], (response.request.url, body)

    # start while running is a conflict; the running run is untouched
    assert start_calling(api, setup, 1000, expect=None).status_code == 200
    second = start_calling(api, setup, 1000, expect=None)
    assert second.status_code == 409 and "already running" in second.json()["message"]
    assert api.post(f"{BASE}/{cid}/stop-calling").status_code == 200


def test_status_before_any_run(api, make_campaign):
    setup = make_campaign(3)
    assert calling_status(api, setup.campaign_id) == {
        "campaignId": setup.campaign_id,
        "isRunning": False,
        "totalContacts": 3,
        "progress": None,
    }
