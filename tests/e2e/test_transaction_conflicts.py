"""Calling while DynamoDB cancels transactions, as AWS does when another transaction on the
same item is in flight (TransactionConflict) or the table is throttled: the local engine's
switch cancels the next N transactions touching a table, with the reason on that table's
items. Stops during dials under that fault: no false 409, every claimed dial logged and
counted once, counts exact, nobody dialed twice.

The provider here answers after 300 ms, so a run at no delay is nearly always mid-dial.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.e2e import (
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

BASE = "/api/v1/client/campaigns"


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with running_engine(tmp_path_factory.mktemp("txn"), {"SIM_DIALER_LATENCY_MS": "300"}) as started:
        yield started


@pytest.fixture
def engine(busy: Engine) -> Iterator[Engine]:
    yield from faults_cleared(busy)


def progress_of(api: httpx.Client, campaign_id: str) -> dict[str, Any]:
    return calling_status(api, campaign_id)["progress"]


def placed(engine: Engine, campaign_id: str) -> Counter[str]:
    """Calls the provider placed, per phone (replays of an idempotency key place nothing)."""
    return Counter(
        c["phone"] for c in engine.calls_for(campaign_id) if c["status"] in (200, 201) and not c["idempotentReplay"]
    )


def ended(api: httpx.Client, engine: Engine, campaign_id: str, timeout: float = 60) -> dict[str, Any]:
    return wait_until(
        lambda: (s := calling_status(api, campaign_id))["progress"] and not s["isRunning"] and s["progress"],
        timeout=timeout,
        what="the run to end",
        interval=0.2,
        log=engine.log_path,
    )


def settled(api: httpx.Client, engine: Engine, setup: CampaignSetup) -> dict[str, Any]:
    """Once every call the provider received has been answered and logged, the progress;
    then checks that it stays so (nothing logged or dialed late)."""

    def every_call_logged() -> dict[str, Any] | None:
        calls = engine.calls_for(setup.campaign_id)
        if any(c["status"] is None for c in calls):
            return None
        progress = progress_of(api, setup.campaign_id)
        logs = all_call_logs(api, setup.campaign_id)
        return progress if len(logs) == len({c["phone"] for c in calls}) == progress["completedCalls"] else None

    progress = wait_until(every_call_logged, timeout=30, what="every dial to be logged", log=engine.log_path)
    time.sleep(1.5)
    # (the calls' outcomes move on as the provider's status webhooks come in: not the dials')
    assert without_outcomes(progress_of(api, setup.campaign_id)) == without_outcomes(progress)
    return progress


def without_outcomes(progress: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in progress.items() if key != "outcomes"}


def assert_exact_accounting(api: httpx.Client, engine: Engine, setup: CampaignSetup, progress: dict[str, Any]) -> None:
    logs = [log for log in all_call_logs(api, setup.campaign_id) if log["runId"] == progress["runId"]]
    assert progress["completedCalls"] == progress["successfulCalls"] + progress["failedCalls"] == len(logs)
    # One call log per contact, and nobody called twice.
    assert len({log["contactId"] for log in logs}) == len(logs)
    calls = placed(engine, setup.campaign_id)
    assert all(n == 1 for n in calls.values()), calls
    # Every contact the provider called is logged: a claimed dial is always settled.
    assert set(calls) <= {log["phone"] for log in logs}


# -- stop during dials ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["transaction-conflict", "throttle"])
def test_a_stop_during_dials_under_conflicts_stops_and_every_claimed_dial_is_counted(api, engine, mode):
    setup = new_campaign(api, 10, first_phone=600)
    start_calling(api, setup)
    wait_until(lambda: len(engine.calls_for(setup.campaign_id)) >= 2, timeout=20, what="the first dials")

    # The next transactions on the progress table collide: the stop's, the dial's in flight.
    engine.set_table_fault("ProgressTable", mode, count=3)
    response = api.post(f"{BASE}/{setup.campaign_id}/stop-calling")
    stopped_at = time.time()

    assert response.status_code == 200, response.text  # never "campaign is not running"
    assert engine.faults() == []  # the stop went through every cancellation
    answered = calling_status(api, setup.campaign_id)
    assert (answered["isRunning"], answered["progress"]["status"]) == (False, "stopped")

    progress = settled(api, engine, setup)
    assert progress["status"] == "stopped"
    assert 2 <= progress["completedCalls"] < 10
    # The dial in flight may finish; none starts after the stop.
    assert len([c for c in engine.calls_for(setup.campaign_id) if c["receivedAt"] > stopped_at]) <= 1
    assert_exact_accounting(api, engine, setup, progress)
    # Stopping again is a true 409: the run really is not running.
    again = api.post(f"{BASE}/{setup.campaign_id}/stop-calling")
    assert again.status_code == 409
    assert again.json() == {"success": False, "message": "campaign is not running"}


def test_stops_at_many_moments_of_a_run_under_conflicts(api, engine):
    """Stops land at different points of the dial cycle (claim, provider, log)."""
    for attempt, after_calls in enumerate((1, 2, 3)):
        setup = new_campaign(api, 6, first_phone=600)
        start_calling(api, setup)
        wait_until(lambda s=setup, n=after_calls: len(engine.calls_for(s.campaign_id)) >= n, timeout=20, what="dials")
        time.sleep(0.1 * attempt)
        engine.set_table_fault("ProgressTable", "transaction-conflict", count=2 + attempt)

        response = api.post(f"{BASE}/{setup.campaign_id}/stop-calling")

        assert response.status_code == 200, response.text
        progress = settled(api, engine, setup)
        assert progress["status"] == "stopped"
        assert_exact_accounting(api, engine, setup, progress)


def test_a_stop_while_the_database_stays_busy_answers_503_then_stops(api, engine):
    setup = new_campaign(api, 2, first_phone=600)
    start_calling(api, setup, delay_ms=60_000)  # after the first call the run waits a minute
    # One call, and its end reported by the provider (whose webhook writes the progress too)
    wait_until(
        lambda: (lambda p: p["completedCalls"] == 1 and p["outcomes"]["pending"] == 0)(
            progress_of(api, setup.campaign_id)
        ),
        timeout=20,
        what="one call, ended",
    )

    engine.set_table_fault("ProgressTable", "throttle", count=8)
    busy = api.post(f"{BASE}/{setup.campaign_id}/stop-calling")

    assert busy.status_code == 503
    assert busy.json()["success"] is False
    assert "busy" in busy.json()["message"] and "ThrottlingError" in busy.json()["message"]
    assert calling_status(api, setup.campaign_id)["isRunning"] is True  # nothing was written
    assert [(f["table"], f["count"]) for f in engine.faults()] == [("ProgressTable", 2)]

    stopped = api.post(f"{BASE}/{setup.campaign_id}/stop-calling")
    assert stopped.status_code == 200, stopped.text
    progress = progress_of(api, setup.campaign_id)
    assert (progress["status"], progress["completedCalls"]) == ("stopped", 1)
    assert_exact_accounting(api, engine, setup, progress)


@pytest.mark.parametrize("log_conflicts", [3, 9], ids=["a-few", "more-than-one-transactions-attempts"])
def test_a_dial_that_collides_with_the_stop_is_still_logged_and_counted(api, engine, log_conflicts):
    setup = new_campaign(api, 3, first_phone=600)
    engine.set_fault(mode="slow", count=1, latencyMs=1500)  # the first dial waits on the provider
    start_calling(api, setup)
    wait_until(lambda: engine.calls_for(setup.campaign_id), timeout=20, what="the first dial")

    # The stop's transaction collides twice; then the dial's log-and-count transaction,
    # landing on a stopped run, collides again and again (only it writes call logs). With
    # the execution stopped nothing would retry the step, so the step keeps trying.
    engine.set_table_fault("ProgressTable", "transaction-conflict", count=2)
    engine.set_table_fault("CallLogsTable", "transaction-conflict", count=log_conflicts)
    response = api.post(f"{BASE}/{setup.campaign_id}/stop-calling")

    assert response.status_code == 200, response.text
    progress = settled(api, engine, setup)
    assert engine.faults() == []
    assert (progress["status"], progress["completedCalls"], progress["successfulCalls"]) == ("stopped", 1, 1)
    (log,) = all_call_logs(api, setup.campaign_id)
    assert (log["phone"], log["outcome"]) == (setup.phones[0], "success")
    assert placed(engine, setup.campaign_id) == Counter(setup.phones[:1])
    assert_exact_accounting(api, engine, setup, progress)


# -- a dial whose log keeps colliding ------------------------------------------------------------


def dial_invocations(engine: Engine) -> int:
    return httpx.get(f"{engine.lambda_url}/stats", timeout=10).json()["invocations"].get("DialContactFunction", 0)


def test_a_dial_whose_log_cannot_be_written_is_settled_by_the_retry_once(api, engine):
    setup = new_campaign(api, 3, first_phone=600)
    engine.set_fault(mode="slow", count=1, latencyMs=1500)  # the first dial waits on the provider
    before = dial_invocations(engine)
    start_calling(api, setup)
    wait_until(lambda: engine.calls_for(setup.campaign_id), timeout=20, what="the first dial")

    # The first dial's log-and-count transaction is cancelled until the step gives up
    # (about 10 s); Step Functions retries the step, and the database recovers.
    engine.set_table_fault("CallLogsTable", "transaction-conflict", count=None)
    wait_until(lambda: dial_invocations(engine) >= before + 2, timeout=40, what="the dial step's retry")
    engine.clear_faults()
    # The retry settles the claimed dial, as unknown, without dialing again.
    progress = ended(api, engine, setup.campaign_id)

    assert engine.faults() == []
    assert progress["status"] == "completed"
    assert (progress["completedCalls"], progress["successfulCalls"], progress["failedCalls"]) == (3, 2, 1)
    logs = {log["phone"]: log for log in all_call_logs(api, setup.campaign_id)}
    assert logs[setup.phones[0]]["outcome"] == "unknown"
    assert placed(engine, setup.campaign_id) == Counter(setup.phones)
    assert_exact_accounting(api, engine, setup, progress)


# -- start and contacts ----------------------------------------------------------------------------


def test_creating_importing_and_starting_under_conflicts_count_exactly(api, engine):
    engine.set_table_fault("MainTable", "transaction-conflict", count=3)
    engine.set_table_fault("ProgressTable", "throttle", count=2)
    setup = new_campaign(api, 4, first_phone=600)
    assert engine.faults() == []
    more = [{"name": f"M{i}", "phone": f"+1202555{700 + i:04d}"} for i in range(3)]
    engine.set_table_fault("MainTable", "throttle", count=4)
    added = api.post(f"{BASE}/{setup.campaign_id}/contacts", json={"contacts": more})
    assert added.status_code == 201, added.text
    assert added.json()["data"]["totalContacts"] == 7

    engine.set_table_fault("MainTable", "transaction-conflict", count=2)
    start_calling(api, setup)
    progress = ended(api, engine, setup.campaign_id)

    assert (progress["status"], progress["totalContacts"], progress["successfulCalls"]) == ("completed", 7, 7)
    assert_exact_accounting(api, engine, setup, progress)


# -- the switch ------------------------------------------------------------------------------------


def test_the_transaction_fault_switch_takes_logical_ids_and_refuses_what_it_cannot_do(engine):
    faults = f"{engine.lambda_url}/faults"

    bad_table = httpx.post(faults, json={"table": "NoSuchTable", "mode": "throttle"})
    bad_mode = httpx.post(faults, json={"table": "ProgressTable", "mode": "explode"})
    assert (bad_table.status_code, bad_mode.status_code) == (400, 400)
    assert "ProgressTable" in bad_table.json()["message"]

    armed = httpx.post(faults, json={"table": "ProgressTable", "mode": "transaction-conflict", "count": None})
    engine.set_lambda_fault("DialContactFunction", "delay", count=1, after_ms=10)
    assert armed.status_code == 200
    listed = {f.get("table") or f.get("function"): f for f in engine.faults()}
    assert listed["ProgressTable"]["mode"] == "transaction-conflict"
    assert listed["ProgressTable"]["count"] is None
    assert listed["ProgressTable"]["tableName"]  # the table the engine created
    assert listed["DialContactFunction"]["mode"] == "delay"

    assert httpx.delete(faults).json() == []
