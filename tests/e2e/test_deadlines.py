"""Deadlines, end to end: what the caller, Step Functions and the call logs see when the
provider is too slow for a function's Timeout, and when a handler overruns its Timeout.

The engine here shortens Timeouts for the run (LOCAL_FUNCTION_TIMEOUTS) so the tests take
seconds, not the template's 25 s and 90 s, and gives the provider 1 s an attempt.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.e2e import (
    CampaignSetup,
    Engine,
    all_call_logs,
    faults_cleared,
    new_campaign,
    running_engine,
    wait_until,
)

pytestmark = pytest.mark.e2e

BASE = "/api/v1/client/campaigns"
MAKE_CALL_TIMEOUT = 4
DIAL_TIMEOUT = 4
STATUS_TIMEOUT = 2


@pytest.fixture(scope="module")
def deadlines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    env = {
        "LOCAL_PARAMETER_OVERRIDES": "DialerTimeoutSeconds=1 PauseAfterConsecutiveFailures=0",
        "LOCAL_FUNCTION_TIMEOUTS": (
            f"MakeCallFunction={MAKE_CALL_TIMEOUT} DialContactFunction={DIAL_TIMEOUT} "
            f"CallingStatusFunction={STATUS_TIMEOUT}"
        ),
    }
    with running_engine(tmp_path_factory.mktemp("deadlines"), env) as started:
        yield started


@pytest.fixture
def engine(deadlines: Engine) -> Iterator[Engine]:
    yield from faults_cleared(deadlines)


def run_to_end(api: httpx.Client, engine: Engine, setup: CampaignSetup) -> dict[str, Any]:
    started = api.post(
        f"{BASE}/{setup.campaign_id}/start-calling", json={"agentId": setup.agent_id, "delayBetweenCalls": 0}
    )
    assert started.status_code == 200, started.text

    def ended() -> dict[str, Any] | None:
        answer = api.get(f"{BASE}/{setup.campaign_id}/calling-status")
        data = answer.json().get("data") if answer.status_code == 200 else None
        return data["progress"] if data and data["progress"] and not data["isRunning"] else None

    return wait_until(ended, timeout=60, what="the run to end", interval=0.3, log=engine.log_path)


def dial_history(engine: Engine, run_id: str) -> list[dict[str, Any]]:
    """The run's execution history, as the Step Functions console shows it."""
    sfn = engine.aws_client("stepfunctions")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    (execution,) = [
        e
        for e in sfn.list_executions(stateMachineArn=machine, maxResults=1000)["executions"]
        if e["name"].startswith(run_id)
    ]
    return sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]


def failed_tasks(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["taskFailedEventDetails"] for e in history if e["type"] == "TaskFailed"]


def entered(history: list[dict[str, Any]], state: str) -> int:
    return sum(1 for e in history if e.get("stateEnteredEventDetails", {}).get("name") == state)


# -- make-call ---------------------------------------------------------------------------------


def test_make_call_to_a_slow_provider_answers_504_with_the_call_logged_unknown(api, engine):
    # Given a provider that takes 6 s to answer every attempt (we give each 1 s), and
    # make-call's 4 s Timeout
    setup = new_campaign(api, 1, first_phone=700)
    contact = api.get(f"{BASE}/{setup.campaign_id}/contacts").json()["data"]["items"][0]
    engine.set_fault(mode="slow", count=3, latencyMs=6000)

    # When a call is made
    started = time.monotonic()
    response = api.post(
        f"{BASE}/{setup.campaign_id}/make-call", json={"contactId": contact["_id"], "agentId": setup.agent_id}
    )
    elapsed = time.monotonic() - started

    # Then the answer comes before the function's Timeout, as a 504 in the envelope
    # naming what happened and the call
    assert response.status_code == 504, response.text
    body = response.json()
    assert body["success"] is False
    assert "timed out" in body["message"].lower() and "may have been placed" in body["message"]
    unique_id = body["data"]["uniqueId"]
    assert elapsed < MAKE_CALL_TIMEOUT
    # and the call is logged as unknown: the provider may have accepted it
    (log,) = [entry for entry in all_call_logs(api, setup.campaign_id) if entry["uniqueId"] == unique_id]
    assert log["outcome"] == "unknown"
    assert "stopped at the deadline" in log["error"]
    # and every attempt carried the same key, so the provider places it at most once
    attempts = engine.calls_for(setup.campaign_id)
    assert 1 <= len(attempts) <= 2
    assert len({a["headers"]["idempotency-key"] for a in attempts}) == 1


# -- the dial step -----------------------------------------------------------------------------


def test_a_dial_step_that_runs_out_of_time_logs_the_call_instead_of_being_killed(api, engine):
    # Given a provider too slow for the dial step's 4 s Timeout (each attempt would wait 6 s)
    setup = new_campaign(api, 2, first_phone=700)
    engine.set_fault(mode="slow", count=3, latencyMs=6000)

    # When the campaign runs
    progress = run_to_end(api, engine, setup)

    # Then the first contact is logged unknown at the deadline, the second is called,
    logs = {entry["phone"]: entry for entry in all_call_logs(api, setup.campaign_id)}
    assert logs[setup.phones[0]]["outcome"] == "unknown"
    assert "stopped at the deadline" in logs[setup.phones[0]]["error"]
    assert logs[setup.phones[1]]["outcome"] == "success"
    assert (progress["status"], progress["completedCalls"], progress["failedCalls"]) == ("completed", 2, 1)
    # and Step Functions never saw the dial step fail
    history = dial_history(engine, progress["runId"])
    assert failed_tasks(history) == []


def test_a_dial_step_that_overruns_its_timeout_is_retried_then_recorded_as_failed_once(api, engine):
    # Given a dial step whose code is 5 s slower than its 4 s Timeout, on every attempt
    setup = new_campaign(api, 2, first_phone=700)
    engine.set_lambda_fault("DialContactFunction", "overrun", count=3, after_ms=5000)

    # When the campaign runs
    progress = run_to_end(api, engine, setup)

    # Then Step Functions saw Lambda's timeout error on the first try and both retries
    # (States.TaskFailed matches it), and took the dial-failure path
    history = dial_history(engine, progress["runId"])
    timeouts = failed_tasks(history)
    assert [t["error"] for t in timeouts] == ["Sandbox.Timedout"] * 3
    for failure in timeouts:
        cause = json.loads(failure["cause"])
        assert re.fullmatch(
            rf"RequestId: [0-9a-f-]+ Error: Task timed out after {DIAL_TIMEOUT}\.00 seconds", cause["errorMessage"]
        )
    assert entered(history, "Record failed dial") == 1
    # and the contact is logged once and dialed at most once (the late handlers find the claim)
    first = [entry for entry in all_call_logs(api, setup.campaign_id) if entry["phone"] == setup.phones[0]]
    assert len(first) == 1
    placed = [
        c for c in engine.calls_for(setup.campaign_id) if c["phone"] == setup.phones[0] and not c["idempotentReplay"]
    ]
    assert len(placed) <= 1
    assert progress["completedCalls"] == progress["successfulCalls"] + progress["failedCalls"] == 2


# -- an API route ------------------------------------------------------------------------------


def test_an_api_route_whose_function_overruns_answers_what_api_gateway_answers(api, engine):
    # Given calling-status' code is 3 s slower than its 2 s Timeout, once
    setup = new_campaign(api, 1, first_phone=700)
    engine.set_lambda_fault("CallingStatusFunction", "overrun", count=1, after_ms=3000)

    # When it is asked
    started = time.monotonic()
    response = api.get(f"{BASE}/{setup.campaign_id}/calling-status")

    # Then API Gateway's bare 500 comes at the Timeout, not when the handler is done
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert STATUS_TIMEOUT <= time.monotonic() - started < STATUS_TIMEOUT + 1
    # and the next request is served
    assert api.get(f"{BASE}/{setup.campaign_id}/calling-status").status_code == 200


def test_the_invoke_api_answers_lambdas_timeout_error(engine):
    # Given calling-status' code is 3 s slower than its 2 s Timeout, once
    engine.set_lambda_fault("CallingStatusFunction", "overrun", count=1, after_ms=3000)

    # When it is invoked through the Lambda API, as Step Functions does
    answer = httpx.post(
        f"{engine.lambda_url}/2015-03-31/functions/CallingStatusFunction/invocations", json={}, timeout=30
    )

    # Then the answer is Lambda's: 200, an Unhandled function error, Sandbox.Timedout
    assert answer.status_code == 200
    assert answer.headers["X-Amz-Function-Error"] == "Unhandled"
    payload = answer.json()
    assert payload["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(
        rf"RequestId: [0-9a-f-]+ Error: Task timed out after {STATUS_TIMEOUT}\.00 seconds", payload["errorMessage"]
    )
