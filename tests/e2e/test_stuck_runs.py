"""No campaign stuck running: an execution stopped outside our API (as from the console)
still ends its run, through the local stand-in for EventBridge and the execution finaliser;
a run stopped through the API stays stopped."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.e2e import CAMPAIGNS, CampaignSetup, Engine, calling_status, start_calling, wait_until

pytestmark = pytest.mark.e2e

LONG_DELAY_MS = 60_000  # the run sits in a Wait state between its calls


def current_execution(engine: Engine, run_id: str) -> dict[str, Any]:
    sfn = engine.aws_client("stepfunctions")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    listed = sfn.list_executions(stateMachineArn=machine, maxResults=1000)["executions"]
    (execution,) = [e for e in listed if e["name"] == f"{run_id}-0001"]
    return execution


def finaliser_results(engine: Engine, execution_arn: str) -> list[str]:
    """What the execution finaliser did about one execution, from its log lines."""
    results = []
    for line in engine.log_path.read_text().splitlines():
        if line.startswith("{") and execution_arn in line:
            entry = json.loads(line)
            if entry.get("message") == "execution end handled" and entry.get("execution_arn") == execution_arn:
                results.append(entry["result"])
    return results


def started_run(api: httpx.Client, engine: Engine, setup: CampaignSetup) -> tuple[str, str]:
    response = start_calling(api, setup, LONG_DELAY_MS, expect=None)
    assert response.status_code == 200, response.text
    # The first contact is called at once, then the run waits a minute.
    wait_until(lambda: engine.calls_for(setup.campaign_id), timeout=15, what="the first call", log=engine.log_path)
    running = calling_status(api, setup.campaign_id)
    assert running["isRunning"] is True
    run_id = running["progress"]["runId"]
    return run_id, current_execution(engine, run_id)["executionArn"]


def test_an_execution_stopped_outside_the_api_closes_its_run(api, engine, make_campaign):
    # Given a campaign calling with a long delay
    setup = make_campaign(3)
    run_id, execution_arn = started_run(api, engine, setup)

    # When someone stops its execution in the console, not through our API
    engine.aws_client("stepfunctions").stop_execution(executionArn=execution_arn, cause="stopped in the console")

    # Then within seconds the run is over, as failed, saying why
    ended = wait_until(
        lambda: not (s := calling_status(api, setup.campaign_id))["isRunning"] and s,
        timeout=10,
        what="the run to be closed by the execution finaliser",
        interval=0.2,
        log=engine.log_path,
    )
    progress = ended["progress"]
    assert (progress["runId"], progress["isRunning"], progress["status"]) == (run_id, False, "failed")
    # moto reports an execution stopped during a Wait as FAILED, AWS as ABORTED; the
    # execution's error and cause, when it has them, follow.
    ends = [f"execution {run_id}-0001 ended {s}" for s in ("ABORTED", "FAILED")]
    assert any(progress["reason"] == end or progress["reason"].startswith(f"{end}: ") for end in ends)
    assert progress["endTime"]
    assert len(engine.calls_for(setup.campaign_id)) == 1
    assert "finalised" in wait_until(
        lambda: finaliser_results(engine, execution_arn), timeout=5, what="the finaliser's log", log=engine.log_path
    )

    # And the run is resumable: a start is refused until it is resumed or stopped
    assert start_calling(api, setup, 0, expect=None).status_code == 409
    assert api.stop_calling(setup.campaign_id).status_code == 200
    again = start_calling(api, setup, 0, expect=None)
    assert again.status_code == 200, again.text
    finished = wait_until(
        lambda: (
            (s := calling_status(api, setup.campaign_id))["progress"]["runId"] != run_id and not s["isRunning"] and s
        ),
        timeout=30,
        what="the second run to finish",
        interval=0.2,
        log=engine.log_path,
    )
    assert finished["progress"]["status"] == "completed"


def test_a_run_stopped_through_the_api_stays_stopped(api, engine, make_campaign):
    # Given a campaign calling with a long delay
    setup = make_campaign(3)
    run_id, execution_arn = started_run(api, engine, setup)

    # When it is stopped through our API
    stopped = api.post(f"{CAMPAIGNS}/{setup.campaign_id}/stop-calling")
    assert stopped.status_code == 200, stopped.text

    # Then its execution ends, the finaliser hears of it and leaves the run alone
    sfn = engine.aws_client("stepfunctions")
    wait_until(
        lambda: sfn.describe_execution(executionArn=execution_arn)["status"] != "RUNNING",
        timeout=10,
        what="the execution to end",
        log=engine.log_path,
    )
    handled = wait_until(
        lambda: finaliser_results(engine, execution_arn),
        timeout=10,
        what="the finaliser to handle the execution's end",
        interval=0.2,
        log=engine.log_path,
    )
    assert handled == ["run not running"]
    progress = calling_status(api, setup.campaign_id)["progress"]
    assert (progress["runId"], progress["isRunning"]) == (run_id, False)
    assert (progress["status"], progress["reason"]) == ("stopped", "stopped by request")
