"""Calling under faults, races and bad luck: every test injects a fault into the simulated
provider or the local Lambda endpoint, then checks at the provider's record and in the
tables that each contact was dialed exactly as often as it should be and the counts agree.

The engine here has tiny pages (2 contacts, 1 page an execution) so every run also
crosses hand-overs between executions, a 1 s provider timeout, a run pauses after 3
failed calls in a row, and the provider's API key is a known value to look for.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.e2e import (
    CAMPAIGNS,
    CampaignSetup,
    Engine,
    all_call_logs,
    calling_status,
    executions_of,
    faults_cleared,
    new_campaign,
    running_engine,
    start_calling,
    wait_until,
)

pytestmark = pytest.mark.e2e

PROVIDER_KEY = "sk-live-7f3a9c2e-provider-secret-do-not-leak"


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    env = {
        "LOCAL_PARAMETER_OVERRIDES": (
            "ContactsPageSize=2 PagesPerExecution=1 DialerTimeoutSeconds=1 PauseAfterConsecutiveFailures=3"
        ),
        "SIM_DIALER_API_KEY": PROVIDER_KEY,
    }
    with running_engine(tmp_path_factory.mktemp("faults"), env) as started:
        yield started


@pytest.fixture
def engine(faulty: Engine) -> Iterator[Engine]:
    yield from faults_cleared(faulty)


def finished(api: httpx.Client, engine: Engine, campaign_id: str, timeout: float = 60) -> dict[str, Any]:
    return wait_until(
        lambda: (s := calling_status(api, campaign_id))["progress"] and not s["isRunning"] and s["progress"],
        timeout=timeout,
        what="the run to end",
        interval=0.2,
        log=engine.log_path,
    )


def placed_calls(engine: Engine, campaign_id: str) -> Counter[str]:
    """Calls the provider actually placed, per phone (replays of a key place nothing)."""
    return Counter(
        c["phone"] for c in engine.calls_for(campaign_id) if c["status"] in (200, 201) and not c["idempotentReplay"]
    )


def assert_exact_accounting(api: httpx.Client, engine: Engine, setup: CampaignSetup, progress: dict[str, Any]) -> None:
    logs = [log for log in all_call_logs(api, setup.campaign_id) if log["runId"] == progress["runId"]]
    assert progress["completedCalls"] == progress["successfulCalls"] + progress["failedCalls"] == len(logs)
    # One call log per contact and never a second call to anyone.
    assert len({log["contactId"] for log in logs}) == len(logs)
    assert all(n == 1 for n in placed_calls(engine, setup.campaign_id).values())


# -- 1. no double dial -------------------------------------------------------------------------


def test_a_dial_step_that_crashes_after_dialing_is_retried_without_a_second_call(api, engine):
    setup = new_campaign(api, 3, first_phone=400)
    engine.set_lambda_fault("DialContactFunction", "error-after", count=1)

    start_calling(api, setup)
    progress = finished(api, engine, setup.campaign_id)

    assert placed_calls(engine, setup.campaign_id) == Counter(setup.phones)
    assert (progress["status"], progress["completedCalls"], progress["successfulCalls"]) == ("completed", 3, 3)
    assert_exact_accounting(api, engine, setup, progress)


def test_a_dial_step_that_times_out_mid_call_is_logged_unknown_not_redialed(api, engine):
    setup = new_campaign(api, 3, first_phone=400)
    # The provider takes 2.5 s on each of the first dial's attempts (our client gives up on
    # each after 1 s); the invocation is reported timed out at 0.3 s, so Step Functions
    # retries while the first attempt is still waiting for the provider.
    engine.set_fault(mode="slow", count=3, latencyMs=2500)
    engine.set_lambda_fault("DialContactFunction", "timeout", count=1, after_ms=300)

    start_calling(api, setup)
    progress = finished(api, engine, setup.campaign_id)

    assert placed_calls(engine, setup.campaign_id) == Counter(setup.phones)
    logs = {log["phone"]: log for log in all_call_logs(api, setup.campaign_id)}
    assert logs[setup.phones[0]]["outcome"] == "unknown"
    assert "outcome unknown" in logs[setup.phones[0]]["error"]
    assert (progress["completedCalls"], progress["successfulCalls"], progress["failedCalls"]) == (3, 2, 1)
    assert_exact_accounting(api, engine, setup, progress)


def test_throttled_invocations_are_retried(api, engine):
    setup = new_campaign(api, 2, first_phone=400)
    engine.set_lambda_fault("DialContactFunction", "throttle", count=1)
    engine.set_lambda_fault("LoadContactsPageFunction", "throttle", count=1)

    start_calling(api, setup)
    progress = finished(api, engine, setup.campaign_id)

    assert placed_calls(engine, setup.campaign_id) == Counter(setup.phones)
    assert progress["successfulCalls"] == 2
    assert_exact_accounting(api, engine, setup, progress)


def test_one_failure_of_the_page_hand_over_or_finalise_step_does_not_fail_the_run(api, engine):
    # Given 3 contacts (two executions of one 2-contact page each), and the page, the
    # hand-over and the finalise step each failing once after doing their work
    setup = new_campaign(api, 3, first_phone=400)
    for function in ("LoadContactsPageFunction", "ContinueRunFunction", "FinaliseRunFunction"):
        engine.set_lambda_fault(function, "error-after", count=1)

    # When the campaign is called
    start_calling(api, setup)
    progress = finished(api, engine, setup.campaign_id)

    # Then each step was retried: the run completed, each contact dialed once, in two executions
    assert (progress["status"], progress["completedCalls"], progress["successfulCalls"]) == ("completed", 3, 3)
    assert placed_calls(engine, setup.campaign_id) == Counter(setup.phones)
    assert sorted(e["name"].rsplit("-", 1)[-1] for e in executions_of(engine, progress["runId"])) == ["0001", "0002"]
    assert_exact_accounting(api, engine, setup, progress)


def test_a_provider_that_accepts_then_times_out_gets_no_second_call(api, engine):
    setup = new_campaign(api, 2, first_phone=400)
    engine.set_fault(mode="accept-timeout", count=1, latencyMs=2500)

    start_calling(api, setup)
    progress = finished(api, engine, setup.campaign_id)

    calls = engine.calls_for(setup.campaign_id)
    first = [c for c in calls if c["phone"] == setup.phones[0]]
    # Placed once; our retry carried the same Idempotency-Key and got the same call back.
    assert [c["idempotentReplay"] for c in first] == [False, True]
    assert len({c["headers"]["idempotency-key"] for c in first}) == 1
    assert first[0]["callId"] == first[1]["callId"]
    assert placed_calls(engine, setup.campaign_id) == Counter(setup.phones)
    assert progress["successfulCalls"] == 2
    assert_exact_accounting(api, engine, setup, progress)


# -- 6. provider outage --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        {"mode": "error500", "count": 2},
        {"mode": "error429", "count": 1, "retryAfter": 1},
        {"mode": "drop", "count": 1},
        {"mode": "slow", "count": 1, "latencyMs": 1500},
    ],
    ids=["5xx", "429-retry-after", "connection-drop", "timeout"],
)
def test_transient_provider_errors_are_retried_with_the_same_key(api, engine, fault):
    setup = new_campaign(api, 2, first_phone=400)
    engine.set_fault(**fault)

    start_calling(api, setup)
    progress = finished(api, engine, setup.campaign_id)

    assert progress["status"] == "completed"
    assert progress["successfulCalls"] == 2
    assert placed_calls(engine, setup.campaign_id) == Counter(setup.phones)
    first = [c for c in engine.calls_for(setup.campaign_id) if c["phone"] == setup.phones[0]]
    assert len(first) >= 2 and len({c["headers"]["idempotency-key"] for c in first}) == 1
    if fault["mode"] == "error429":
        assert first[1]["receivedAt"] - first[0]["receivedAt"] >= 1.0  # Retry-After honoured
    assert_exact_accounting(api, engine, setup, progress)


def test_a_failed_call_is_logged_and_the_campaign_goes_on(api, engine):
    setup = new_campaign(api, 3, first_phone=400)
    engine.set_fault(mode="error500", count=3)  # every attempt for the first contact

    start_calling(api, setup)
    progress = finished(api, engine, setup.campaign_id)

    assert progress["status"] == "completed"
    assert (progress["successfulCalls"], progress["failedCalls"]) == (2, 1)
    logs = {log["phone"]: log for log in all_call_logs(api, setup.campaign_id)}
    assert logs[setup.phones[0]]["outcome"] == "failed"
    assert "500" in logs[setup.phones[0]]["error"]
    assert_exact_accounting(api, engine, setup, progress)


def test_a_provider_outage_pauses_the_campaign_with_a_reason(api, engine):
    setup = new_campaign(api, 6, first_phone=400)
    engine.set_fault(mode="error500", count=None)

    start_calling(api, setup)
    progress = finished(api, engine, setup.campaign_id)

    assert progress["status"] == "paused" and progress["isRunning"] is False
    assert "3 consecutive failed calls" in progress["reason"] and "500" in progress["reason"]
    assert (progress["completedCalls"], progress["failedCalls"]) == (3, 3)
    time.sleep(1.5)
    dialed = {c["phone"] for c in engine.calls_for(setup.campaign_id)}
    assert dialed == set(setup.phones[:3])  # nobody after the pause
    assert_exact_accounting(api, engine, setup, progress)
    # Once the provider is back, the run is resumed (a new start is refused: it would
    # dial the first three again) and calls the rest, nobody twice.
    engine.clear_faults()
    assert api.get(f"{CAMPAIGNS}/{setup.campaign_id}").json()["data"]["isRunning"] is False
    start_calling(api, setup, expect=409)
    assert api.resume_calling(setup.campaign_id).status_code == 200
    resumed = finished(api, engine, setup.campaign_id)
    assert (resumed["status"], resumed["runId"], resumed["completedCalls"]) == ("completed", progress["runId"], 6)
    phones = [c["phone"] for c in engine.calls_for(setup.campaign_id) if c["phone"] not in setup.phones[:3]]
    assert sorted(phones) == sorted(setup.phones[3:])


# -- 3. double start ---------------------------------------------------------------------------


def test_simultaneous_starts_start_exactly_one_execution(api, engine):
    setup = new_campaign(api, 2, first_phone=400)
    barrier = threading.Barrier(10)
    statuses: list[int] = []

    def press_start() -> None:
        with engine.client() as own:
            barrier.wait()
            response = own.post(
                f"{CAMPAIGNS}/{setup.campaign_id}/start-calling",
                json={"agentId": setup.agent_id, "delayBetweenCalls": 0},
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=press_start) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [200] + [409] * 9
    progress = finished(api, engine, setup.campaign_id)
    assert [e["name"].rsplit("-", 1)[-1] for e in executions_of(engine, progress["runId"])] == ["0001"]
    assert placed_calls(engine, setup.campaign_id) == Counter(setup.phones)
    assert_exact_accounting(api, engine, setup, progress)


# -- 4. stop -------------------------------------------------------------------------------------


def test_stop_during_the_hand_over_between_executions(api, engine):
    setup = new_campaign(api, 6, first_phone=400)
    # The hand-over to the second execution is slow to start: stop lands in the middle of it.
    engine.set_lambda_fault("ContinueRunFunction", "delay", count=1, after_ms=2000)

    start_calling(api, setup)
    wait_until(lambda: len(engine.calls_for(setup.campaign_id)) >= 2, timeout=20, what="the first page's dials")
    time.sleep(0.3)
    stopped = api.post(f"{CAMPAIGNS}/{setup.campaign_id}/stop-calling")
    assert stopped.status_code == 200
    stopped_at = time.time()

    time.sleep(3.5)
    calls = engine.calls_for(setup.campaign_id)
    assert [c for c in calls if c["receivedAt"] > stopped_at] == []
    assert {c["phone"] for c in calls} == set(setup.phones[:2])
    progress = calling_status(api, setup.campaign_id)["progress"]
    assert progress["status"] == "stopped"
    # The delayed hand-over found the run stopped and started no second execution.
    assert [e["name"].rsplit("-", 1)[-1] for e in executions_of(engine, progress["runId"])] == ["0001"]
    assert_exact_accounting(api, engine, setup, progress)


def test_stop_while_a_dial_is_being_retried(api, engine):
    setup = new_campaign(api, 4, first_phone=400)
    engine.set_fault(mode="error500", count=None)

    start_calling(api, setup)
    wait_until(lambda: engine.calls_for(setup.campaign_id), timeout=20, what="the first attempt")
    response = api.post(f"{CAMPAIGNS}/{setup.campaign_id}/stop-calling")
    assert response.status_code == 200
    stop_answered = calling_status(api, setup.campaign_id)
    assert stop_answered["isRunning"] is False and stop_answered["progress"]["status"] == "stopped"

    time.sleep(2.5)
    # The dial in flight may finish its retries (same contact, same key); no one else is called.
    calls = engine.calls_for(setup.campaign_id)
    assert {c["phone"] for c in calls} == {setup.phones[0]}
    assert len({c["headers"]["idempotency-key"] for c in calls}) == 1
    engine.clear_faults()
    progress = calling_status(api, setup.campaign_id)["progress"]
    assert progress["status"] == "stopped"
    assert_exact_accounting(api, engine, setup, progress)


def test_a_stopped_run_is_not_resumed_by_a_redrive(api, engine):
    setup = new_campaign(api, 4, first_phone=400)
    start_calling(api, setup, delay_ms=1000)
    wait_until(lambda: engine.calls_for(setup.campaign_id), timeout=20, what="the first dial")
    assert api.post(f"{CAMPAIGNS}/{setup.campaign_id}/stop-calling").status_code == 200
    progress = calling_status(api, setup.campaign_id)["progress"]
    # (the calls the provider was asked to place; their records go on as the calls live)
    before = [call["callId"] for call in engine.calls_for(setup.campaign_id)]

    # Someone restarts the run's first execution from the console with its original input...
    sfn = engine.aws_client("stepfunctions")
    (first,) = executions_of(engine, progress["runId"])
    original = sfn.describe_execution(executionArn=first["executionArn"])
    restarted = sfn.start_execution(
        stateMachineArn=original["stateMachineArn"], name=f"{progress['runId']}-redrive", input=original["input"]
    )["executionArn"]
    wait_until(
        lambda: sfn.describe_execution(executionArn=restarted)["status"] != "RUNNING",
        timeout=20,
        what="the restarted execution",
    )
    # ...or a dial task is delivered again, as a redrive of a failed state would do.
    state = json.loads(original["input"])
    contact = {"seq": 3, "index": 2, "contactId": "ct_0000000003"}
    invoked = httpx.post(
        f"{engine.lambda_url}/2015-03-31/functions/DialContactFunction/invocations",
        json={"run": state["run"], "contact": {**contact, "waitSeconds": 0}},
        timeout=30,
    ).json()

    assert invoked["dialed"] is False and "stopped" in invoked["reason"]
    assert [call["callId"] for call in engine.calls_for(setup.campaign_id)] == before
    after = calling_status(api, setup.campaign_id)["progress"]
    assert (after["status"], after["completedCalls"]) == ("stopped", progress["completedCalls"])


def test_no_phone_number_appears_whole_in_the_functions_logs(api, engine):
    # Given a run whose calls fail and pause it, a single call and a rejected contact
    setup = new_campaign(api, 3, first_phone=400)
    engine.set_fault(mode="error500", count=None)
    start_calling(api, setup)
    finished(api, engine, setup.campaign_id)
    engine.clear_faults()
    api.post(
        f"{CAMPAIGNS}/{setup.campaign_id}/make-call", json={"contactId": "ct_0000000001", "agentId": setup.agent_id}
    )
    rejected = api.post(
        f"{CAMPAIGNS}/{setup.campaign_id}/contacts", json={"contacts": [{"name": "X", "phone": "+1202"}]}
    )
    assert rejected.status_code == 400

    # When the functions' log records are read (Powertools' JSON lines)
    records = []
    for line in engine.log_path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("service") == "campaign-calling":
            records.append(line)

    # Then the functions logged, and no line holds a contact's number
    assert records
    for phone in setup.phones:
        assert [line for line in records if phone[2:] in line] == []


# -- 8. secrets ----------------------------------------------------------------------------------


def test_the_provider_key_never_appears_in_logs_call_logs_responses_or_errors(api, engine):
    setup = new_campaign(api, 2, first_phone=400)
    answers: list[str] = []
    engine.set_fault(mode="error500", count=3)
    start_calling(api, setup)
    finished(api, engine, setup.campaign_id)
    answers.append(
        api.post(
            f"{CAMPAIGNS}/{setup.campaign_id}/make-call", json={"contactId": "ct_0000000001", "agentId": setup.agent_id}
        ).text
    )
    answers.append(
        api.post(
            f"{CAMPAIGNS}/{setup.campaign_id}/make-call", json={"contactId": "ct_0000000009", "agentId": setup.agent_id}
        ).text
    )
    answers.append(api.get(f"{CAMPAIGNS}/{setup.campaign_id}/calling-status").text)
    answers.append(api.get(f"{CAMPAIGNS}/{setup.campaign_id}/call-logs", params={"limit": 100}).text)
    answers.append(api.post(f"{CAMPAIGNS}/{setup.campaign_id}/start-calling", content=b"{").text)
    answers.append(httpx.get(f"{engine.dialer_url}/calls", timeout=10).text)

    # The key was really used: the provider accepted our calls.
    assert placed_calls(engine, setup.campaign_id)
    for text in [*answers, engine.log_path.read_text()]:
        assert PROVIDER_KEY not in text
    ddb = engine.aws_client("dynamodb")
    for table in ("CallLogsTable", "ProgressTable", "MainTable"):
        assert PROVIDER_KEY not in json.dumps(ddb.scan(TableName=table)["Items"])
