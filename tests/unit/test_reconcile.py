"""No campaign stuck running: an execution that fails, times out or is aborted outside our
API still closes its run (the execution finaliser, on EventBridge's status-change event),
and a scheduled sweep closes what a lost event left behind. moto does not execute the
state machine here: executions stay RUNNING until stopped."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from campaign_calling import wiring
from campaign_calling.models import AgentInput, CampaignInput, ContactInput, Progress
from campaign_calling.runs.models import RunRef, RunState
from campaign_calling.runs.reconcile import FinaliseResult
from campaign_calling.runs.repository import ACTIVE_ATTRIBUTE, ACTIVE_RUNS_INDEX, ACTIVE_VALUE
from campaign_calling.settings import SweepSettings, get_settings
from campaign_local.template import Resolver, Template, find_template, state_machine_arn
from campaign_local.watcher import ExecutionWatcher, Subscriptions, status_change_event
from tests.support import stores

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Template(find_template(ROOT))
EVENTS = ROOT / "events"
CLIENT = "client-a"
FINALISER = "ExecutionFinaliserFunction"
SWEEPER = "RunSweeperFunction"
ENDED_BADLY = {"FAILED", "TIMED_OUT", "ABORTED"}


# -- helpers ---------------------------------------------------------------------------------


@dataclass
class Started:
    campaign_id: str
    agent_id: str
    state: RunState
    execution_arn: str

    @property
    def run_id(self) -> str:
        return self.state.run.runId


def start_campaign(aws: Any, contacts: int = 3, *, campaign_id: str | None = None, agent_id: str | None = None):
    if agent_id is None:
        aws.use_function("AgentsFunction")
        agent_id = wiring.catalog_service().create_agent(CLIENT, AgentInput(name="Bot", providerAgentId="pa-1")).id
    if campaign_id is None:
        aws.use_function("CampaignsFunction")
        people = [ContactInput(name=f"C{i}", phone=f"+4420794600{i:02d}") for i in range(1, contacts + 1)]
        campaign_id = wiring.catalog_service().create_campaign(CLIENT, CampaignInput(name="S", contacts=people)).id
    aws.use_function("StartCallingFunction")
    started = wiring.calling_service().start(CLIENT, campaign_id, agent_id, 2000)
    execution = sfn().describe_execution(executionArn=started.execution_arn)
    return Started(campaign_id, agent_id, RunState.model_validate_json(execution["input"]), started.execution_arn)


def sfn() -> Any:
    return boto3.client("stepfunctions")


def stop_outside_the_api(execution_arn: str) -> dict[str, Any]:
    """What a console user does: the run's progress knows nothing of it."""
    sfn().stop_execution(executionArn=execution_arn, cause="stopped in the console")
    return sfn().describe_execution(executionArn=execution_arn)


def finalise(aws: Any, execution: dict[str, Any], **detail: Any) -> str:
    event = status_change_event(execution)
    event["detail"].update(detail)
    return aws.invoke(FINALISER, event)["result"]


def progress(aws: Any, started: Started) -> Progress:
    aws.use_function("CallingStatusFunction")
    status = wiring.calling_status_service().status(CLIENT, started.campaign_id)
    assert status.progress is not None and status.progress.runId == started.run_id
    assert status.isRunning is status.progress.isRunning
    return status.progress


def run_record(aws: Any, started: Started):
    aws.use_function(SWEEPER)
    return stores.run_repository(aws.resolver).get_run(started.state.run.ref)


def running_runs(aws: Any) -> list[RunRef]:
    aws.use_function(SWEEPER)
    return list(stores.run_repository(aws.resolver).running_runs(page_size=1))  # one per page: paging is used


def hand_over(aws: Any, started: Started) -> str:
    """The run continues in execution 2, as ContinueRunFunction does."""
    aws.use_function("ContinueRunFunction")
    machine = aws.resolver.ref("CampaignCallingStateMachine")
    cursor = started.state.cursor.model_copy(update={"pagesInExecution": 10})
    new_arn = wiring.run_steps().continue_as_new(
        started.state.run, cursor, current_execution_arn=started.execution_arn, state_machine_arn=machine
    )
    assert new_arn and new_arn != started.execution_arn
    return new_arn


def sweep(aws: Any, now_ms: int | None = None):
    aws.use_function(SWEEPER)
    return wiring.run_reconciler().sweep(now_ms)


# -- the finaliser ---------------------------------------------------------------------------


def test_finaliser_closes_a_running_run_whose_current_execution_ended_outside_the_api(aws) -> None:
    started = start_campaign(aws)
    execution = stop_outside_the_api(started.execution_arn)
    assert execution["status"] in ENDED_BADLY

    assert finalise(aws, execution) == FinaliseResult.FINALISED

    p = progress(aws, started)
    name = started.execution_arn.rpartition(":")[2]
    assert (p.isRunning, p.status) == (False, "failed")
    assert p.reason == f"execution {name} ended {execution['status']}"
    assert p.endTime
    assert running_runs(aws) == []
    # The campaign is released: the failed run can be resumed, in its next execution.
    aws.use_function("StartCallingFunction")
    resumed = wiring.calling_service().resume(CLIENT, started.campaign_id)
    assert (resumed.run_id, resumed.execution_arn.rpartition("-")[2]) == (started.run_id, "0002")
    assert progress(aws, started).status == "running"


@pytest.mark.parametrize("status", sorted(ENDED_BADLY))
def test_finaliser_names_how_the_execution_ended(aws, status: str) -> None:
    started = start_campaign(aws)
    execution = stop_outside_the_api(started.execution_arn)
    assert finalise(aws, execution, status=status) == FinaliseResult.FINALISED
    assert progress(aws, started).reason.endswith(f"ended {status}")


def test_finaliser_ignores_an_execution_that_handed_over(aws) -> None:
    started = start_campaign(aws)
    second = hand_over(aws, started)
    execution = stop_outside_the_api(started.execution_arn)

    assert finalise(aws, execution, status="FAILED") == FinaliseResult.NOT_CURRENT

    p = progress(aws, started)
    assert (p.isRunning, p.status) == (True, "running")
    assert run_record(aws, started).execution_arn == second
    # The run's current execution ending still closes it.
    assert finalise(aws, stop_outside_the_api(second)) == FinaliseResult.FINALISED
    assert progress(aws, started).status == "failed"


def test_finaliser_leaves_a_run_stopped_through_the_api_stopped(aws) -> None:
    started = start_campaign(aws)
    aws.use_function("StopCallingFunction")
    wiring.calling_service().stop(CLIENT, started.campaign_id)
    execution = sfn().describe_execution(executionArn=started.execution_arn)
    assert execution["status"] == "ABORTED"  # we stopped it ourselves

    # moto reports an execution stopped during a Wait as FAILED: either way, nothing to do.
    for status in ("ABORTED", "FAILED"):
        assert finalise(aws, execution, status=status) == FinaliseResult.NOT_RUNNING
    p = progress(aws, started)
    assert (p.isRunning, p.status, p.reason) == (False, "stopped", "stopped by request")


NOT_ACCOUNTED = "contact ct_0000000002 at position 1 was neither dialed nor logged"


def test_finaliser_gives_the_failed_executions_error_and_cause_as_the_reason(aws) -> None:
    # Given a run whose execution failed at a contact it could neither dial nor log
    started = start_campaign(aws)
    execution = stop_outside_the_api(started.execution_arn)

    # When EventBridge's event (which carries error and cause for FAILED) reaches the finaliser
    result = finalise(aws, execution, status="FAILED", error="ContactNotAccountedFor", cause=NOT_ACCOUNTED)

    # Then the run ends failed, naming the contact's position and id
    assert result == FinaliseResult.FINALISED
    name = started.execution_arn.rpartition(":")[2]
    p = progress(aws, started)
    assert (p.status, p.reason) == ("failed", f"execution {name} ended FAILED: ContactNotAccountedFor: {NOT_ACCOUNTED}")


def test_finaliser_ignores_what_is_not_an_ended_run_execution(aws) -> None:
    started = start_campaign(aws)
    execution = sfn().describe_execution(executionArn=started.execution_arn)
    assert finalise(aws, execution, status="RUNNING") == FinaliseResult.STILL_RUNNING
    assert finalise(aws, execution, status="FAILED", input="{}") == FinaliseResult.UNKNOWN_RUN
    assert finalise(aws, execution, status="FAILED", input=None) == FinaliseResult.UNKNOWN_RUN
    other = json.loads(execution["input"])
    other["run"]["runId"] = "run-0000000000000-nope00"
    assert finalise(aws, execution, status="FAILED", input=json.dumps(other)) == FinaliseResult.UNKNOWN_RUN
    assert progress(aws, started).status == "running"


def test_end_run_for_an_execution_that_is_no_longer_current_changes_nothing(aws) -> None:
    """The close is one conditional write: a hand-over between read and write wins."""
    started = start_campaign(aws)
    hand_over(aws, started)
    aws.use_function(FINALISER)
    closed = stores.run_repository(aws.resolver).end_run(
        started.state.run.ref, status="failed", reason="late", execution_arn=started.execution_arn
    )
    assert closed is False
    assert progress(aws, started).status == "running"


# -- the sweep -------------------------------------------------------------------------------


def test_running_runs_come_from_the_sparse_index(aws) -> None:
    first = start_campaign(aws)
    second = start_campaign(aws)
    assert running_runs(aws) == [
        RunRef(CLIENT, first.campaign_id, first.run_id),
        RunRef(CLIENT, second.campaign_id, second.run_id),
    ]
    aws.use_function("StopCallingFunction")
    wiring.calling_service().stop(CLIENT, first.campaign_id)
    assert running_runs(aws) == [RunRef(CLIENT, second.campaign_id, second.run_id)]
    # Only running runs are in the index: no summaries, claims or ended runs.
    items = boto3.client("dynamodb").scan(TableName=aws.resolver.ref("ProgressTable"), IndexName=ACTIVE_RUNS_INDEX)
    assert [i[ACTIVE_ATTRIBUTE]["S"] for i in items["Items"]] == [ACTIVE_VALUE]


def test_sweep_closes_runs_whose_execution_ended_and_leaves_live_ones(aws) -> None:
    stuck = start_campaign(aws)
    live = start_campaign(aws)
    handed_over = start_campaign(aws)
    hand_over(aws, handed_over)
    stop_outside_the_api(handed_over.execution_arn)  # the previous execution: not current
    ended = stop_outside_the_api(stuck.execution_arn)

    result = aws.invoke(SWEEPER, json.loads((EVENTS / "run_sweeper.json").read_text()))

    assert result == {"checked": 3, "finalised": [stuck.run_id], "errors": 0}
    p = progress(aws, stuck)
    name = stuck.execution_arn.rpartition(":")[2]
    assert (p.isRunning, p.status, p.reason) == (False, "failed", f"execution {name} ended {ended['status']}")
    assert progress(aws, live).status == "running"
    assert progress(aws, handed_over).status == "running"
    # Idempotent: nothing more to do.
    assert aws.invoke(SWEEPER, {}) == {"checked": 2, "finalised": [], "errors": 0}


def test_sweep_waits_the_grace_period_for_an_execution_not_started_yet(aws) -> None:
    started = start_campaign(aws)
    # A hand-over recorded its execution, then never started it (ContinueRun gave up).
    machine = aws.resolver.ref("CampaignCallingStateMachine")
    missing = machine.replace(":stateMachine:", ":execution:") + f":{started.run_id}-0002"
    aws.use_function("ContinueRunFunction")
    assert stores.run_repository(aws.resolver).set_execution(
        started.state.run.ref, missing, replaces=started.execution_arn
    )
    since = run_record(aws, started).execution_since_ms
    assert since is not None
    aws.use_function(SWEEPER)
    grace_ms = get_settings(SweepSettings).run_sweep_grace_seconds * 1000
    assert grace_ms == 300_000

    # While the execution handing over still runs (retrying the start), never.
    assert sweep(aws, since + grace_ms + 60_000).finalised == []
    stop_outside_the_api(started.execution_arn)
    assert sweep(aws, since + grace_ms - 1).finalised == []
    assert progress(aws, started).status == "running"
    assert sweep(aws, since + grace_ms).finalised == [started.run_id]
    p = progress(aws, started)
    assert (p.status, p.reason) == ("failed", f"execution {started.run_id}-0002 was never started")


def test_sweep_goes_on_past_a_run_it_cannot_check(aws) -> None:
    broken = start_campaign(aws)
    stuck = start_campaign(aws)
    aws.use_function(SWEEPER)
    assert stores.run_repository(aws.resolver).set_execution(
        broken.state.run.ref, "not-an-execution-arn", replaces=None
    )
    stop_outside_the_api(stuck.execution_arn)
    result = sweep(aws)
    assert (result.checked, result.finalised, result.errors) == (2, [stuck.run_id], 1)
    assert progress(aws, broken).status == "running"


# -- the local watcher -----------------------------------------------------------------------


def test_watcher_subscribes_as_the_template_does() -> None:
    subs = Subscriptions.of(TEMPLATE)
    assert subs.status_change == {FINALISER: frozenset(ENDED_BADLY)}
    assert subs.scheduled == (SWEEPER,)


def test_watcher_delivers_each_ended_execution_once(aws) -> None:
    stuck = start_campaign(aws)
    live = start_campaign(aws)
    stop_outside_the_api(stuck.execution_arn)
    aws.use_function(FINALISER)
    watcher = ExecutionWatcher(aws.functions, TEMPLATE, [aws.resolver.ref("CampaignCallingStateMachine")])
    assert watcher.deliver_execution_ends() == 1
    assert watcher.deliver_execution_ends() == 0
    assert progress(aws, stuck).status == "failed"
    assert progress(aws, live).status == "running"


def test_status_change_event_has_aws_shape(aws) -> None:
    started = start_campaign(aws)
    event = status_change_event(stop_outside_the_api(started.execution_arn))
    sample = json.loads((EVENTS / "execution_finaliser.json").read_text())
    assert set(event) == set(sample)
    assert set(event["detail"]) == set(sample["detail"])
    assert event["resources"] == [event["detail"]["executionArn"]] == [started.execution_arn]
    assert RunState.model_validate_json(event["detail"]["input"]) == started.state


# -- template and sample events --------------------------------------------------------------


def function_events(logical_id: str) -> list[dict[str, Any]]:
    return list(TEMPLATE.resources[logical_id]["Properties"].get("Events", {}).values())


def policies(logical_id: str) -> list[Any]:
    return TEMPLATE.resources[logical_id]["Properties"]["Policies"]


def local_resolver() -> Resolver:
    return Resolver(TEMPLATE, parameters={"DialerBaseUrl": "http://dialer.invalid"}, physical_ids={})


def machine_id() -> str:
    ((logical_id, _),) = TEMPLATE.state_machines().items()
    return logical_id


def test_finaliser_rule_matches_bad_ends_of_this_machine_only() -> None:
    (event,) = function_events(FINALISER)
    assert event["Type"] == "EventBridgeRule"
    assert event["Properties"]["Pattern"] == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"], "stateMachineArn": [{"Ref": machine_id()}]},
    }


def test_sweeper_runs_on_a_schedule() -> None:
    (event,) = function_events(SWEEPER)
    assert event["Type"] in ("Schedule", "ScheduleV2")
    assert event["Properties"]["Schedule"].startswith("rate(")


def test_progress_table_has_the_sparse_active_runs_index() -> None:
    ref = TEMPLATE.doc["Globals"]["Function"]["Environment"]["Variables"]["PROGRESS_TABLE_NAME"]["Ref"]
    props = TEMPLATE.tables()[ref].properties
    (index,) = [i for i in props["GlobalSecondaryIndexes"] if i["IndexName"] == ACTIVE_RUNS_INDEX]
    assert index["KeySchema"][0] == {"AttributeName": ACTIVE_ATTRIBUTE, "KeyType": "HASH"}
    assert {"clientId", "campaignId", "runId"} <= set(index["Projection"].get("NonKeyAttributes", []))
    defined = {a["AttributeName"] for a in props["AttributeDefinitions"]}
    assert {k["AttributeName"] for k in index["KeySchema"]} <= defined


def test_reconcile_functions_have_least_privilege() -> None:
    def names(logical_id: str) -> list[str]:
        return [k for p in policies(logical_id) for k in p if k != "Statement"]

    def state_actions(logical_id: str) -> list[tuple[str, str]]:
        resolver = local_resolver()
        return [
            (statement["Action"], resolver.resolve(statement["Resource"]))
            for p in policies(logical_id)
            for statement in p.get("Statement", [])
        ]

    executions = state_machine_arn(local_resolver().state_machine_name(machine_id())).replace(
        ":stateMachine:", ":execution:"
    )
    for logical_id in (FINALISER, SWEEPER):
        assert "DynamoDBCrudPolicy" not in names(logical_id)  # nothing here deletes
        assert not [n for n in names(logical_id) if "StepFunctions" in n or "FullAccess" in n]
    # The finaliser reads an execution only when its event leaves out the error and cause.
    for logical_id in (FINALISER, SWEEPER):
        assert state_actions(logical_id) == [("states:DescribeExecution", executions + ":*")]


def test_finaliser_sample_event_fits_the_rule_and_the_sample_run() -> None:
    event = json.loads((EVENTS / "execution_finaliser.json").read_text())
    (rule,) = function_events(FINALISER)
    pattern = rule["Properties"]["Pattern"]
    assert event["source"] in pattern["source"] and event["detail-type"] in pattern["detail-type"]
    assert event["detail"]["status"] in pattern["detail"]["status"]
    machine = local_resolver().resolve(pattern["detail"]["stateMachineArn"][0])
    assert event["detail"]["stateMachineArn"] == machine
    assert event["resources"] == [event["detail"]["executionArn"]]
    state = RunState.model_validate_json(event["detail"]["input"])
    assert state.run.model_dump(exclude_none=True) == json.loads((EVENTS / "finalise_run.json").read_text())["run"]
    assert event["detail"]["name"] == f"{state.run.runId}-0001"


def test_sample_events_through_their_handlers(aws) -> None:
    sample = json.loads((EVENTS / "execution_finaliser.json").read_text())
    assert aws.invoke(FINALISER, sample) == {"result": FinaliseResult.UNKNOWN_RUN}  # the demo run was never made
    sweeper_sample = json.loads((EVENTS / "run_sweeper.json").read_text())
    assert sweeper_sample["detail-type"] == "Scheduled Event"
    assert aws.invoke(SWEEPER, sweeper_sample) == {"checked": 0, "finalised": [], "errors": 0}
