"""No contact silently skipped: when a contact can be neither dialed nor logged as failed
(both steps throttled past every retry), the run stops there and ends ``failed`` with the
contact's position and id, never ``completed`` with a contact missing.

The engine here shortens every Retry to 1 s between attempts (LOCAL_RETRY_INTERVALS=fast):
the template's backoff would take over two minutes per step to use up.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.e2e import Engine, all_call_logs, faults_cleared, running_engine, wait_until

pytestmark = pytest.mark.e2e

CAMPAIGNS = "/api/v1/client/campaigns"
# Attempts Step Functions makes of a throttled task: the first and the Lambda.* retrier's six.
ATTEMPTS = 7
DELAY_MS = 4000  # a 3 s Wait between calls: time to arm the faults after the first call


@pytest.fixture(scope="module")
def own_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with running_engine(tmp_path_factory.mktemp("unaccounted"), {"LOCAL_RETRY_INTERVALS": "fast"}) as started:
        yield started


@pytest.fixture
def engine(own_engine: Engine) -> Iterator[Engine]:
    yield from faults_cleared(own_engine)


def new_campaign(api: httpx.Client, contacts: int) -> tuple[str, str, list[dict[str, Any]]]:
    agent = api.post("/api/v1/client/agents", json={"name": "Skip", "providerAgentId": "assistant"}).json()["data"]
    people = [{"name": f"S{i}", "phone": f"+1202555{700 + i:04d}"} for i in range(contacts)]
    campaign = api.post(CAMPAIGNS, json={"name": "Skip", "contacts": people}).json()["data"]
    listed = api.get(f"{CAMPAIGNS}/{campaign['_id']}/contacts", params={"limit": 100}).json()["data"]["items"]
    return campaign["_id"], agent["_id"], listed


def ended(api: httpx.Client, engine: Engine, campaign_id: str) -> dict[str, Any]:
    def progress() -> dict[str, Any] | None:
        data = api.get(f"{CAMPAIGNS}/{campaign_id}/calling-status").json()["data"]
        return data["progress"] if data["progress"] and not data["isRunning"] else None

    return wait_until(progress, timeout=90, what="the run to end", interval=0.2, log=engine.log_path)


def test_a_contact_neither_dialed_nor_logged_fails_the_run_at_its_position(api, engine):
    # Given a campaign of 3 contacts whose first call went through
    campaign_id, agent_id, contacts = new_campaign(api, 3)
    started = api.post(
        f"{CAMPAIGNS}/{campaign_id}/start-calling", json={"agentId": agent_id, "delayBetweenCalls": DELAY_MS}
    )
    assert started.status_code == 200, started.text
    wait_until(lambda: engine.calls_for(campaign_id), timeout=15, what="the first call", log=engine.log_path)

    # When the dial step and the dial-failure step are then throttled past all their retries
    engine.set_lambda_fault("DialContactFunction", "throttle", count=ATTEMPTS)
    engine.set_lambda_fault("RecordDialFailureFunction", "throttle", count=ATTEMPTS)
    progress = ended(api, engine, campaign_id)

    # Then the run ends failed (never completed), naming the second contact's position and id
    assert progress["status"] == "failed", progress
    second = contacts[1]["_id"]
    assert f"contact {second} at position 1 was neither dialed nor logged" in progress["reason"]
    assert "ContactNotAccountedFor" in progress["reason"]
    # And what it counts is exactly what it logged: the first call
    logs = all_call_logs(api, campaign_id)
    assert [log["contactId"] for log in logs] == [contacts[0]["_id"]]
    assert progress["completedCalls"] == progress["successfulCalls"] + progress["failedCalls"] == len(logs) == 1
    # And its index is no further than the contacts it accounted for
    assert progress["currentIndex"] <= 1
    # And no contact after the failed one was dialed
    assert [c["phone"] for c in engine.calls_for(campaign_id)] == [contacts[0]["phone"]]
    # And every throttled attempt was used up: none is left to hit anything else
    assert engine.faults() == []
    # And the campaign is free to be started again
    assert api.get(f"{CAMPAIGNS}/{campaign_id}").json()["data"]["isRunning"] is False


def test_no_name_or_number_goes_into_the_failure(api, engine):
    # Given a run failing at its first contact
    campaign_id, agent_id, contacts = new_campaign(api, 2)
    engine.set_lambda_fault("DialContactFunction", "throttle", count=ATTEMPTS)
    engine.set_lambda_fault("RecordDialFailureFunction", "throttle", count=ATTEMPTS)
    started = api.post(f"{CAMPAIGNS}/{campaign_id}/start-calling", json={"agentId": agent_id, "delayBetweenCalls": 0})
    assert started.status_code == 200, started.text

    # When it has ended
    progress = ended(api, engine, campaign_id)

    # Then the reason and the execution's failure name the position and id only
    assert progress["status"] == "failed" and progress["currentIndex"] == 0
    assert f"contact {contacts[0]['_id']} at position 0" in progress["reason"]
    sfn = engine.aws_client("stepfunctions")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    (execution,) = [
        e for e in sfn.list_executions(stateMachineArn=machine)["executions"] if e["name"].startswith(progress["runId"])
    ]
    failure = sfn.describe_execution(executionArn=execution["executionArn"])
    assert failure["error"] == "ContactNotAccountedFor"
    for contact in contacts:
        assert contact["name"] not in failure["cause"] and contact["phone"] not in failure["cause"]
        assert contact["name"] not in progress["reason"] and contact["phone"] not in progress["reason"]
    assert all_call_logs(api, campaign_id) == [] and engine.calls_for(campaign_id) == []
