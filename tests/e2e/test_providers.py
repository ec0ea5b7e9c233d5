"""Every provider end to end, against the simulated provider speaking its dialect: a run's
calls placed with the provider's own create-call request, each call's lifecycle reported by
the provider's own signed status webhooks, and each call log ending as the provider said,
whatever the webhooks went through (dropped, replayed, out of order, badly signed)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from campaign_calling.calls.providers.signatures import retell_signature, sign_generic, twilio_signature
from campaign_cli.client import CampaignApi, data
from tests.support.e2e import (
    Engine,
    all_call_logs,
    calling_status,
    faults_cleared,
    running_engine,
    wait_until,
)

pytestmark = pytest.mark.e2e

PROVIDERS = ("generic", "twilio", "vapi", "retell")
FINAL = ("completed", "voicemail", "busy", "no-answer", "failed", "canceled")
CALLER_ID = "+12025550999"
# A mix of every way a call can end; seeded, so each run draws the same statuses.
SIMULATOR = {
    "SIM_OUTCOMES": "completed=0.4,voicemail=0.15,busy=0.15,no-answer=0.15,failed=0.1,canceled=0.05",
    "SIM_RING_MS": "20",
    "SIM_TALK_MS": "40",
    "SIM_DIALER_SEED": "11",
}


@pytest.fixture(scope="module")
def providers_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with running_engine(tmp_path_factory.mktemp("providers"), SIMULATOR) as started:
        yield started


@pytest.fixture
def engine(providers_engine: Engine) -> Iterator[Engine]:
    yield from faults_cleared(providers_engine)


def campaign_of(api: CampaignApi, provider: str, contacts: int, first_phone: int) -> tuple[str, str]:
    """An agent of ``provider`` on the deployment's default account (its name, id, provider
    and number are all it needs), and a campaign."""
    agent = api.create_agent(f"{provider} agent", f"agent-{provider}", CALLER_ID, provider=provider)
    assert agent.status_code == 201, agent.text
    assert data(agent)["provider"] == provider
    phones = [f"+1202556{first_phone + i:04d}" for i in range(contacts)]
    campaign = api.create_campaign(
        f"{provider} campaign", [{"name": f"Contact {i}", "phone": phone} for i, phone in enumerate(phones)]
    )
    assert campaign.status_code == 201, campaign.text
    return data(campaign)["_id"], data(agent)["_id"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_agent_on_the_default_account_calls_from_any_number_without_setup(api: CampaignApi, provider: str) -> None:
    # Given the local default account of the provider, configured with no numbers at all
    number = {"generic": "+12025550901", "twilio": "+12025550902", "vapi": "+12025550903", "retell": "+12025550904"}
    # When an agent is created calling from a number the provider was never told about
    agent = api.create_agent(f"{provider} agent", f"agent-{provider}-any", number[provider], provider=provider)
    # Then the provider's own lookup finds the number on the account, and the agent is stored
    assert agent.status_code == 201, agent.text
    assert data(agent)["callerId"] == number[provider]


def run_to_the_end(api: CampaignApi, campaign_id: str, agent_id: str) -> dict[str, Any]:
    started = api.start_calling(campaign_id, agent_id, 0)
    assert started.status_code == 200, started.text
    wait_until(lambda: not calling_status(api, campaign_id)["isRunning"], timeout=60, what="the run to end")
    progress = calling_status(api, campaign_id)["progress"]
    assert progress["status"] == "completed", progress
    return progress


def provider_records(engine: Engine, call_ids: set[str]) -> dict[str, dict[str, Any]]:
    """The simulated provider's record of these calls, by its call id."""
    calls = httpx.get(f"{engine.dialer_url}/calls", timeout=10).json()
    return {c["callId"]: c for c in calls if c.get("callId") in call_ids}


def ended_calls(engine: Engine, call_ids: set[str]) -> dict[str, dict[str, Any]]:
    """Once the provider has ended every one of these calls (its last webhooks sent)."""
    records: dict[str, dict[str, Any]] = {}

    def all_ended() -> bool:
        records.update(provider_records(engine, call_ids))
        return len(records) == len(call_ids) and all(r.get("finalStatus") for r in records.values())

    wait_until(all_ended, timeout=30, what="the provider to end every call")
    return records


def logs_settled(api: CampaignApi, campaign_id: str, settled: Any) -> list[dict[str, Any]]:
    logs: list[dict[str, Any]] = []

    def done() -> bool:
        logs[:] = all_call_logs(api, campaign_id)
        return settled(logs)

    wait_until(done, timeout=30, what="the call logs to settle")
    return logs


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_call_log_ends_as_the_provider_reported_and_the_outcomes_add_up(
    api: CampaignApi, engine: Engine, provider: str
) -> None:
    # Given a campaign of 12 contacts called with an agent of this provider
    campaign_id, agent_id = campaign_of(api, provider, 12, first_phone=100 * (PROVIDERS.index(provider) + 1))

    # When the run completes and the provider has ended every call
    progress = run_to_the_end(api, campaign_id, agent_id)
    logs = all_call_logs(api, campaign_id)
    assert len(logs) == 12 and all(log["provider"] == provider and log["outcome"] == "success" for log in logs)
    records = ended_calls(engine, {log["providerCallId"] for log in logs})
    assert {r["dialect"] for r in records.values()} == {provider}

    # Then every call log ends with the final status the provider reported
    logs = logs_settled(api, campaign_id, lambda logs: all(log["status"] in FINAL for log in logs))
    assert {log["providerCallId"]: log["status"] for log in logs} == {
        call_id: record["finalStatus"] for call_id, record in records.items()
    }
    assert len({log["status"] for log in logs}) >= 3, "the seeded mix draws several endings"
    answered = [log for log in logs if log["status"] == "completed"]
    assert all(log["durationSeconds"] is not None and log["endedReason"] for log in answered)
    # and the run's outcomes count them, nothing pending, adding up to the calls made
    outcomes = calling_status(api, campaign_id)["progress"]["outcomes"]
    assert outcomes == {
        **dict.fromkeys((*FINAL, "unknown", "skipped", "pending"), 0),
        **Counter(log["status"] for log in logs),
    }
    assert sum(outcomes.values()) == progress["completedCalls"] == 12
    assert (progress["successfulCalls"], progress["failedCalls"]) == (12, 0)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_dropped_final_webhook_leaves_the_call_pending_and_the_run_still_completes(
    api: CampaignApi, engine: Engine, provider: str
) -> None:
    # Given the provider's final webhook of the next 2 calls will never be sent
    engine.set_fault(target="webhooks", mode="drop", count=2)
    campaign_id, agent_id = campaign_of(api, provider, 4, first_phone=2000 + 100 * PROVIDERS.index(provider))

    # When the run completes and the provider has ended every call
    progress = run_to_the_end(api, campaign_id, agent_id)
    call_ids = {log["providerCallId"] for log in all_call_logs(api, campaign_id)}
    records = ended_calls(engine, call_ids)
    dropped = {call_id for call_id, record in records.items() if record.get("webhookFault") == "drop"}
    assert len(dropped) == 2

    # Then the two calls stay pending (never final), the others end as reported
    logs = logs_settled(
        api,
        campaign_id,
        lambda logs: all(log["status"] in FINAL for log in logs if log["providerCallId"] not in dropped),
    )
    assert all(log["status"] not in FINAL for log in logs if log["providerCallId"] in dropped)
    outcomes = calling_status(api, campaign_id)["progress"]["outcomes"]
    assert outcomes["pending"] == 2
    assert sum(outcomes.values()) == progress["completedCalls"] == 4


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("fault", ["duplicate", "out-of-order", "bad-signature"])
def test_replayed_out_of_order_and_badly_signed_webhooks_never_move_a_call_wrongly(
    api: CampaignApi, engine: Engine, provider: str, fault: str
) -> None:
    # Given every webhook of the next 3 calls is replayed, or sent out of order, or badly signed
    engine.set_fault(target="webhooks", mode=fault, count=3)
    first = 4000 + 100 * PROVIDERS.index(provider) + 10 * ["duplicate", "out-of-order", "bad-signature"].index(fault)
    campaign_id, agent_id = campaign_of(api, provider, 3, first_phone=first)

    # When the run completes and the provider has ended every call
    run_to_the_end(api, campaign_id, agent_id)
    call_ids = {log["providerCallId"] for log in all_call_logs(api, campaign_id)}
    records = ended_calls(engine, call_ids)
    assert {r.get("webhookFault") for r in records.values()} == {fault}

    if fault == "bad-signature":
        # Then nothing badly signed was taken: each call's final webhook refused (a progress
        # one that beat the call's log is answered 200 as an unknown call, changing nothing),
        # every call still queued
        records = wait_until(
            lambda: (lambda rs: rs if all(w["httpStatus"] for r in rs.values() for w in r["webhooks"]) else None)(
                provider_records(engine, call_ids)
            ),
            timeout=30,
            what="every webhook to be answered",
        )
        assert all(r["webhooks"] and r["webhooks"][-1]["httpStatus"] == 401 for r in records.values()), records
        assert {w["httpStatus"] for r in records.values() for w in r["webhooks"]} <= {200, 401}
        logs = all_call_logs(api, campaign_id)
        assert {log["status"] for log in logs} == {"queued"}
        assert calling_status(api, campaign_id)["progress"]["outcomes"]["pending"] == 3
        return
    # Then each call ends as the provider reported, counted once
    logs = logs_settled(api, campaign_id, lambda logs: all(log["status"] in FINAL for log in logs))
    assert {log["providerCallId"]: log["status"] for log in logs} == {
        call_id: record["finalStatus"] for call_id, record in records.items()
    }
    outcomes = calling_status(api, campaign_id)["progress"]["outcomes"]
    assert outcomes["pending"] == 0 and sum(outcomes.values()) == 3


# -- unsigned, and signed by another client's account ------------------------------------------


def final_webhook(provider: str, call_id: str) -> tuple[bytes, str]:
    """A provider's final status webhook for ``call_id`` (the call was answered and ended), in
    that provider's own words, and its content type."""
    if provider == "twilio":
        body = urlencode({"CallSid": call_id, "CallStatus": "completed", "AnsweredBy": "human", "CallDuration": "99"})
        return body.encode(), "application/x-www-form-urlencoded"
    payload: dict[str, Any] = {
        "generic": {"callId": call_id, "status": "completed", "durationSeconds": 99},
        "vapi": {
            "message": {"type": "end-of-call-report", "endedReason": "customer-ended-call", "call": {"id": call_id}}
        },
        "retell": {"event": "call_ended", "call": {"call_id": call_id, "disconnection_reason": "user_hangup"}},
    }[provider]
    return json.dumps(payload).encode(), "application/json"


def signed_with(provider: str, credentials: dict[str, str], url: str, body: bytes) -> dict[str, str]:
    """The signature headers ``credentials`` would give this webhook."""
    now_ms = int(time.time() * 1000)
    if provider == "generic":
        return {"X-Signature": sign_generic(credentials["webhookSecret"], body, now_ms // 1000)}
    if provider == "twilio":
        form = parse_qsl(body.decode(), keep_blank_values=True)
        return {"X-Twilio-Signature": twilio_signature(credentials["authToken"], url, form)}
    if provider == "vapi":
        return {"X-Vapi-Secret": credentials["serverSecret"]}
    return {"x-retell-signature": retell_signature(credentials["apiKey"], body, now_ms)}


OTHER_ACCOUNTS = {
    "generic": {"apiKey": "sk-e2e-other-client", "webhookSecret": "whsec-e2e-other-client"},
    "twilio": {"accountSid": "AC" + "e" * 32, "authToken": "e2e-other-client-token"},
    "vapi": {"apiKey": "vapi-e2e-other-client", "serverSecret": "vapi-secret-e2e-other-client"},
    "retell": {"apiKey": "key_e2e_other_client"},
}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unsigned_webhooks_and_webhooks_signed_by_another_clients_account_change_nothing(
    api: CampaignApi, engine: Engine, provider: str
) -> None:
    # Given a call of client A, placed on the default account, not yet ended (a long ring)
    engine.set_fault(target="webhooks", mode="drop", count=1)  # its own final webhook never comes
    campaign_id, agent_id = campaign_of(api, provider, 1, first_phone=6000 + 10 * PROVIDERS.index(provider))
    run_to_the_end(api, campaign_id, agent_id)
    (log,) = all_call_logs(api, campaign_id)
    # and client B's own account of this provider, connected
    created = httpx.post(
        f"{engine.dialer_url}/accounts",
        json={"provider": provider, "credentials": OTHER_ACCOUNTS[provider], "agents": [], "numbers": []},
        timeout=10,
    )
    assert created.status_code in (201, 409), created.text  # 409: made by an earlier run of this test
    with engine.client(f"client-b-{provider}") as b:
        assert b.connect_provider(provider, OTHER_ACCOUNTS[provider]).status_code == 200
    url = f"{engine.api_url}/api/v1/webhooks/{provider}"
    body, content_type = final_webhook(provider, log["providerCallId"])

    # When the call's final webhook comes unsigned, then signed with client B's account
    unsigned = httpx.post(url, content=body, headers={"Content-Type": content_type}, timeout=30)
    by_b = httpx.post(
        url,
        content=body,
        headers={"Content-Type": content_type, **signed_with(provider, OTHER_ACCOUNTS[provider], url, body)},
        timeout=30,
    )

    # Then both are refused, and client A's call is as it was
    assert (unsigned.status_code, by_b.status_code) == (401, 401), (unsigned.text, by_b.text)
    (after,) = all_call_logs(api, campaign_id)
    assert after["status"] not in FINAL and after["durationSeconds"] is None
    assert calling_status(api, campaign_id)["progress"]["outcomes"]["pending"] == 1
