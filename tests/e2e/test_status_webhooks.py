"""Status webhooks end to end, generic dialect: calls placed through make-call and through a
run on the local engine, then the provider's signed webhooks POSTed to the API as the
provider would send them (the simulated provider's own webhooks are its part), and the call
logs' lifecycle and the run's outcomes read back through the API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from campaign_calling.calls.providers.signatures import sign_generic
from tests.support.e2e import (
    CAMPAIGNS,
    CampaignSetup,
    Engine,
    all_call_logs,
    calling_status,
    faults_cleared,
    new_campaign,
    running_engine,
    start_calling,
    wait_until,
)

pytestmark = pytest.mark.e2e

# The simulated provider's default generic account, which the local engine puts in the
# deployment's secret: these tests sign webhooks as that account does.
WEBHOOK_SECRET = "whsec-e2e-generic-0123456789"
SIMULATOR = {"SIM_DIALER_API_KEY": "sk-e2e-generic", "SIM_DIALER_WEBHOOK_SECRET": WEBHOOK_SECRET}
CLIENT_B = "client-b"


@pytest.fixture(scope="module")
def webhooks_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with running_engine(tmp_path_factory.mktemp("webhooks"), SIMULATOR) as started:
        yield started


@pytest.fixture
def engine(webhooks_engine: Engine) -> Iterator[Engine]:
    """These tests send each webhook themselves: the simulated provider's own (for the same
    calls) are signed badly, so they are refused and change nothing."""
    for engine in faults_cleared(webhooks_engine):
        engine.set_fault(target="webhooks", mode="bad-signature", count=100_000)
        yield engine


def webhook(
    engine: Engine,
    body: dict[str, Any],
    *,
    secret: str | None = WEBHOOK_SECRET,
    raw: bytes | None = None,
    signed_body: bytes | None = None,
    at: int | None = None,
) -> httpx.Response:
    """POST a generic status webhook as the provider sends it: no token, X-Signature."""
    payload = raw if raw is not None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Signature"] = sign_generic(secret, signed_body or payload, at or int(time.time()))
    return httpx.post(f"{engine.api_url}/api/v1/webhooks/generic", content=payload, headers=headers, timeout=30)


def first_contact(api: httpx.Client, campaign_id: str) -> str:
    answer = api.get(f"{CAMPAIGNS}/{campaign_id}/contacts")
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["items"][0]["_id"]


def make_call(api: httpx.Client, setup: CampaignSetup) -> dict[str, Any]:
    """One call through make-call; its log as the API lists it."""
    answer = api.post(
        f"{CAMPAIGNS}/{setup.campaign_id}/make-call",
        json={"contactId": first_contact(api, setup.campaign_id), "agentId": setup.agent_id},
    )
    assert answer.status_code == 200 and answer.json()["data"]["success"], answer.text
    (log,) = [x for x in all_call_logs(api, setup.campaign_id) if x["uniqueId"] == answer.json()["data"]["uniqueId"]]
    return log


def log_of(api: httpx.Client, campaign_id: str, unique_id: str) -> dict[str, Any]:
    (log,) = [x for x in all_call_logs(api, campaign_id) if x["uniqueId"] == unique_id]
    return log


def test_a_manual_calls_webhooks_give_its_log_a_lifecycle_that_only_moves_forward(api, engine, make_campaign):
    # Given a call placed through make-call, queued at the provider
    setup = make_campaign(1)
    log = make_call(api, setup)
    assert (log["status"], log["provider"], log["providerCallId"]) == ("queued", "generic", log["providerCallId"])
    assert "account" not in log  # internal
    call_id = log["providerCallId"]
    assert call_id

    # When the provider reports it ringing, then completed (sent twice), then a late ringing
    ringing = webhook(engine, {"callId": call_id, "status": "ringing"})
    done = {
        "callId": call_id,
        "status": "completed",
        "answeredBy": "human",
        "durationSeconds": 42,
        "endedReason": "customer-ended-call",
        "endedAt": "2030-01-01T10:00:42.000Z",
    }
    completed = webhook(engine, done)
    duplicate = webhook(engine, done)
    late = webhook(engine, {"callId": call_id, "status": "ringing"})

    # Then each was accepted, and the log ends completed as the provider said
    assert [r.status_code for r in (ringing, completed, duplicate, late)] == [200] * 4
    assert completed.json()["data"] == {"provider": "generic", "result": "recorded"}
    assert duplicate.json()["data"]["result"] == "unchanged"
    ended = log_of(api, setup.campaign_id, log["uniqueId"])
    assert {k: ended[k] for k in ("status", "answeredBy", "durationSeconds", "endedReason", "endedAt")} == {
        "status": "completed",
        "answeredBy": "human",
        "durationSeconds": 42,
        "endedReason": "customer-ended-call",
        "endedAt": "2030-01-01T10:00:42.000Z",
    }
    assert ended["outcome"] == "success"


def test_unsigned_tampered_stale_and_replayed_webhooks_change_nothing(api, engine, make_campaign):
    # Given a queued call
    setup = make_campaign(1)
    log = make_call(api, setup)
    body = {"callId": log["providerCallId"], "status": "busy"}
    signed_for = json.dumps({**body, "status": "no-answer"}).encode()

    # When webhooks come unsigned, signed with another secret, signed for another body, or
    # signed more than 5 minutes ago (a captured request replayed later)
    answers = [
        webhook(engine, body, secret=None),
        webhook(engine, body, secret="not-our-secret"),
        webhook(engine, body, signed_body=signed_for),
        webhook(engine, body, at=int(time.time()) - 301),
    ]

    # Then each is refused with 401 and the call is still queued
    assert [a.status_code for a in answers] == [401] * 4
    assert all(a.json()["success"] is False for a in answers)
    assert log_of(api, setup.campaign_id, log["uniqueId"]) == log


def test_a_runs_outcomes_count_each_calls_final_status_once(api, engine, make_campaign):
    # Given a run of 4 calls, all taken by the provider
    setup = make_campaign(4)
    start_calling(api, setup)
    final = wait_until(
        lambda: (s := calling_status(api, setup.campaign_id))["progress"] and not s["isRunning"] and s,
        timeout=60,
        what="the run to finish",
        interval=0.3,
        log=engine.log_path,
    )
    assert final["progress"]["outcomes"] == {
        "completed": 0,
        "voicemail": 0,
        "busy": 0,
        "no-answer": 0,
        "failed": 0,
        "canceled": 0,
        "unknown": 0,
        "skipped": 0,
        "pending": 4,
    }
    logs = sorted(all_call_logs(api, setup.campaign_id), key=lambda x: x["uniqueId"])
    assert [x["status"] for x in logs] == ["queued"] * 4

    # When three of them end (out of order, with duplicates) and one never reports
    for log, status in zip(logs, ["completed", "busy", "no-answer"], strict=False):
        call_id = log["providerCallId"]
        assert webhook(engine, {"callId": call_id, "status": status}).status_code == 200
        assert webhook(engine, {"callId": call_id, "status": "in-progress"}).status_code == 200
        assert webhook(engine, {"callId": call_id, "status": status}).status_code == 200

    # Then the logs say how each ended and the run counts each once
    progress = calling_status(api, setup.campaign_id)["progress"]
    assert progress["outcomes"] == {
        "completed": 1,
        "voicemail": 0,
        "busy": 1,
        "no-answer": 1,
        "failed": 0,
        "canceled": 0,
        "unknown": 0,
        "skipped": 0,
        "pending": 1,
    }
    assert sum(progress["outcomes"].values()) == progress["completedCalls"] == 4
    assert (progress["successfulCalls"], progress["failedCalls"]) == (4, 0)
    statuses = [log_of(api, setup.campaign_id, x["uniqueId"])["status"] for x in logs]
    assert statuses == ["completed", "busy", "no-answer", "queued"]


def test_a_webhook_for_one_clients_call_cannot_change_another_clients_data(api, engine, make_campaign):
    # Given client A's call and client B's call
    setup_a = make_campaign(1)
    log_a = make_call(api, setup_a)
    with engine.client(CLIENT_B) as api_b:
        setup_b = new_campaign(api_b, 1, first_phone=900)
        log_b = make_call(api_b, setup_b)

        # When a signed webhook for A's call names B's client, campaign and call in its payload
        answer = webhook(
            engine,
            {
                "callId": log_a["providerCallId"],
                "status": "canceled",
                "clientId": CLIENT_B,
                "campaignId": setup_b.campaign_id,
                "uniqueId": log_b["uniqueId"],
                "metadata": {"clientId": CLIENT_B, "campaignId": setup_b.campaign_id},
            },
        )

        # Then it reached A's call, found through the provider's id, and nothing of B's
        assert answer.status_code == 200
        assert log_of(api, setup_a.campaign_id, log_a["uniqueId"])["status"] == "canceled"
        assert log_of(api_b, setup_b.campaign_id, log_b["uniqueId"]) == log_b


def test_an_unknown_call_or_provider_and_a_bad_body_are_answered_without_writing(api, engine, make_campaign):
    unknown_call = webhook(engine, {"callId": "call_nobody_placed", "status": "completed"})
    assert (unknown_call.status_code, unknown_call.json()["data"]["result"]) == (200, "unknown-call")
    unknown = httpx.post(
        f"{engine.api_url}/api/v1/webhooks/plivo", content=b"{}", headers={"X-Signature": "x"}, timeout=30
    )
    assert (unknown.status_code, unknown.json()) == (404, {"success": False, "message": "provider not found"})
    bad = webhook(engine, {}, raw=b'{"status": "completed"}')
    assert bad.status_code == 400 and "no callId" in bad.json()["message"]
