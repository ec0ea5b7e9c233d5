"""Pause and resume, end to end on the local engine: a paused run dials nobody, a resume
goes on with the same run in a new execution, and no contact is ever dialed twice, also
when the execution was stopped outside the API (as from the console)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from campaign_cli.client import data
from tests.support.e2e import (
    all_call_logs,
    calling_status,
    executions_of,
    new_campaign,
    running_engine,
    start_calling,
    wait_until,
)

pytestmark = pytest.mark.e2e

DELAY_MS = 2000  # time between calls to pause in


def finished(api, engine, campaign_id: str, timeout: float = 60) -> dict:
    return wait_until(
        lambda: (s := calling_status(api, campaign_id))["progress"] and not s["isRunning"] and s["progress"],
        timeout=timeout,
        what="the run to end",
        interval=0.3,
        log=engine.log_path,
    )


def dialed_per_phone(engine, campaign_id: str) -> Counter[str]:
    return Counter(call["phone"] for call in engine.calls_for(campaign_id))


def test_pause_mid_run_dials_nobody_and_resume_dials_each_contact_exactly_once(api, engine):
    # Given a campaign of 6 calling with a delay, two calls in
    setup = new_campaign(api, 6, first_phone=700)
    start_calling(api, setup, DELAY_MS)
    wait_until(lambda: len(engine.calls_for(setup.campaign_id)) >= 2, timeout=20, what="two calls", log=engine.log_path)
    run_id = calling_status(api, setup.campaign_id)["progress"]["runId"]

    # When it is paused
    paused = api.pause_calling(setup.campaign_id)

    # Then the answer says so, the progress says paused, and nobody is dialed while paused
    assert paused.status_code == 200, paused.text
    assert paused.json() == {
        "success": True,
        "message": "Campaign calling paused",
        "data": {"campaignId": setup.campaign_id, "status": "paused"},
    }
    status = calling_status(api, setup.campaign_id)
    assert (status["isRunning"], status["progress"]["status"]) == (False, "paused")
    time.sleep(1.0)  # a dial in flight may finish
    dialed_at_pause = len(engine.calls_for(setup.campaign_id))
    time.sleep(3 * DELAY_MS / 1000)
    assert len(engine.calls_for(setup.campaign_id)) == dialed_at_pause < 6
    # And a start is refused, naming resume and stop; a second pause too
    refused = start_calling(api, setup, 0, expect=409)
    assert "resume-calling" in refused.json()["message"] and "stop-calling" in refused.json()["message"]
    assert api.pause_calling(setup.campaign_id).status_code == 409

    # When it is resumed
    resumed = api.resume_calling(setup.campaign_id)

    # Then the same run goes on in a new execution, and a second resume is refused
    assert resumed.status_code == 200, resumed.text
    assert resumed.json() == {
        "success": True,
        "message": "Campaign calling resumed",
        "data": {"campaignId": setup.campaign_id, "status": "running"},
    }
    assert api.resume_calling(setup.campaign_id).status_code == 409
    progress = finished(api, engine, setup.campaign_id)
    assert (progress["runId"], progress["status"]) == (run_id, "completed")
    assert {e["name"] for e in executions_of(engine, run_id)} == {f"{run_id}-0001", f"{run_id}-0002"}
    # And every contact was dialed exactly once, logged once and counted once
    assert dialed_per_phone(engine, setup.campaign_id) == Counter(setup.phones)
    logs = all_call_logs(api, setup.campaign_id)
    assert sorted(log["phone"] for log in logs) == sorted(setup.phones)
    assert progress["completedCalls"] == progress["successfulCalls"] + progress["failedCalls"] == len(logs) == 6
    assert progress["currentIndex"] == 6


def test_a_run_whose_execution_was_stopped_outside_the_api_is_resumed_without_dialing_anyone_twice(api, engine):
    # Given a campaign of 3 calling with a delay, its first contact dialed
    setup = new_campaign(api, 3, first_phone=720)
    start_calling(api, setup, 3000)
    wait_until(lambda: engine.calls_for(setup.campaign_id), timeout=15, what="the first call", log=engine.log_path)
    run_id = calling_status(api, setup.campaign_id)["progress"]["runId"]
    (execution,) = executions_of(engine, run_id)

    # When its execution is stopped in the console, and the finaliser closes the run
    engine.aws_client("stepfunctions").stop_execution(executionArn=execution["executionArn"], cause="console")
    failed = finished(api, engine, setup.campaign_id, timeout=15)
    assert failed["status"] == "failed" and failed["reason"].startswith(f"execution {run_id}-0001 ended")
    # Then a start is refused (the run is resumable), and a resume goes on with it
    start_calling(api, setup, 0, expect=409)
    resumed = api.resume_calling(setup.campaign_id)
    assert resumed.status_code == 200, resumed.text
    assert data(resumed)["status"] == "running"

    progress = finished(api, engine, setup.campaign_id)
    assert (progress["runId"], progress["status"], progress["reason"]) == (run_id, "completed", None)
    assert dialed_per_phone(engine, setup.campaign_id) == Counter(setup.phones)
    logs = all_call_logs(api, setup.campaign_id)
    assert progress["completedCalls"] == len(logs) == 3


def test_a_paused_run_stopped_ends_stopped_and_nothing_is_left_to_resume(api, engine):
    setup = new_campaign(api, 3, first_phone=740)
    start_calling(api, setup, 5000)
    wait_until(lambda: engine.calls_for(setup.campaign_id), timeout=15, what="the first call", log=engine.log_path)
    assert api.pause_calling(setup.campaign_id).status_code == 200

    stopped = api.stop_calling(setup.campaign_id)

    assert stopped.status_code == 200, stopped.text
    progress = calling_status(api, setup.campaign_id)["progress"]
    assert (progress["status"], progress["isRunning"]) == ("stopped", False)
    assert api.resume_calling(setup.campaign_id).status_code == 409
    assert len(engine.calls_for(setup.campaign_id)) == 1


def test_a_run_cut_off_by_an_engine_restart_is_resumed_without_dialing_anyone_twice(tmp_path: Path) -> None:
    # Given an engine calling a campaign of 12, stopped mid-run (its executions are lost)
    with running_engine(tmp_path) as first, first.client() as api:
        setup = new_campaign(api, 12, first_phone=760)
        start_calling(api, setup, 300)
        wait_until(lambda: len(first.calls_for(setup.campaign_id)) >= 3, timeout=30, what="3 calls", log=first.log_path)
    # When it starts again, the sweeper closes the run as failed (its execution vanished)
    sweep_soon = {"LOCAL_SWEEP_SECONDS": "1", "RUN_SWEEP_GRACE_SECONDS": "0"}
    with running_engine(tmp_path, sweep_soon) as second, second.client() as api:
        failed = finished(api, second, setup.campaign_id, timeout=30)
        assert failed["status"] == "failed"
        logged_before = {log["phone"] for log in all_call_logs(api, setup.campaign_id)}
        assert 3 <= len(logged_before) < 12

        # And the run is resumed
        resumed = api.resume_calling(setup.campaign_id)
        assert resumed.status_code == 200, resumed.text
        progress = finished(api, second, setup.campaign_id)

        # Then it completes the same run; nobody logged before was dialed again, and every
        # contact has exactly one call log, counted once
        assert (progress["runId"], progress["status"]) == (failed["runId"], "completed")
        dialed_after = [call["phone"] for call in second.calls_for(setup.campaign_id)]
        assert not set(dialed_after) & logged_before
        assert len(dialed_after) == len(set(dialed_after))
        logs = all_call_logs(api, setup.campaign_id)
        assert sorted(log["phone"] for log in logs) == sorted(setup.phones)
        assert progress["completedCalls"] == len(logs) == 12
