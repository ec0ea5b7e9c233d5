"""Runs whose execution ended without closing them: the execution finaliser and the
sweeper end them as failed, and leave every other run alone (runs/reconcile.py)."""

from __future__ import annotations

import json

from campaign_calling.aws.stepfunctions import execution_arn
from campaign_calling.runs.models import RunState
from campaign_calling.runs.reconcile import MAX_REASON_LENGTH, FinaliseResult
from tests.support.builders import CLIENT, STATE_MACHINE_ARN, SWEEP_GRACE_SECONDS, RunsWorld


def execution_input(state: RunState) -> str:
    return json.dumps(state.model_dump(exclude_none=True))


def test_given_a_running_run_when_its_current_execution_failed_then_the_run_fails_with_why() -> None:
    world = RunsWorld()
    state = world.started()
    arn = world.current_execution(state.run)

    result = world.reconciler().finalise_execution(
        arn, "FAILED", execution_input(state), error="States.TaskFailed", cause="dial step\n  failed"
    )

    assert result == FinaliseResult.FINALISED
    progress = world.progress(state.run)
    assert progress.status == "failed"
    assert progress.reason == f"execution {arn.rpartition(':')[2]} ended FAILED: States.TaskFailed: dial step failed"
    assert not world.campaigns.get(CLIENT, "cmp_1").isRunning


def test_given_a_closed_run_when_its_execution_end_is_delivered_again_then_nothing_changes() -> None:
    world = RunsWorld()
    state = world.started()
    arn = world.current_execution(state.run)
    world.reconciler().finalise_execution(arn, "ABORTED", execution_input(state))
    reason = world.progress(state.run).reason

    again = world.reconciler().finalise_execution(arn, "ABORTED", execution_input(state))

    assert again == FinaliseResult.NOT_RUNNING
    assert world.progress(state.run).reason == reason


def test_given_an_event_without_error_and_cause_when_finalised_then_they_are_read_from_the_execution() -> None:
    world = RunsWorld()
    state = world.started()
    arn = world.current_execution(state.run)
    world.executions.set(arn, "FAILED", "Lambda.Unknown", "contact 3 timed out")

    world.reconciler().finalise_execution(arn, "FAILED", execution_input(state))

    assert world.progress(state.run).reason.endswith("ended FAILED: Lambda.Unknown: contact 3 timed out")


def test_given_a_very_long_cause_when_finalised_then_the_reason_is_cut_short() -> None:
    world = RunsWorld()
    state = world.started()
    arn = world.current_execution(state.run)

    world.reconciler().finalise_execution(arn, "FAILED", execution_input(state), error="E", cause="x" * 40_000)

    reason = world.progress(state.run).reason
    assert reason is not None and len(reason) == MAX_REASON_LENGTH and reason.endswith("\u2026")


def test_given_a_handed_over_run_when_the_previous_execution_ends_then_the_run_goes_on() -> None:
    world = RunsWorld()
    state = world.started(contacts=5)
    first = world.current_execution(state.run)
    world.steps().continue_as_new(
        state.run, state.cursor, current_execution_arn=first, state_machine_arn=STATE_MACHINE_ARN
    )

    result = world.reconciler().finalise_execution(first, "SUCCEEDED", execution_input(state))

    assert result == FinaliseResult.NOT_CURRENT
    assert world.progress(state.run).status == "running"


def test_given_a_run_that_ended_through_the_api_when_its_execution_ends_then_its_status_stays() -> None:
    world = RunsWorld()
    state = world.started()
    arn = world.current_execution(state.run)
    world.calling().stop(CLIENT, "cmp_1")
    world.steps().finalise(state.run, state.cursor)

    assert world.reconciler().finalise_execution(arn, "ABORTED", execution_input(state)) == FinaliseResult.NOT_RUNNING
    assert world.progress(state.run).status == "stopped"


def test_given_what_is_not_an_ended_execution_of_a_run_when_finalised_then_nothing_happens() -> None:
    world = RunsWorld()
    state = world.started()
    arn = world.current_execution(state.run)
    reconciler = world.reconciler()

    assert reconciler.finalise_execution(arn, "RUNNING", execution_input(state)) == FinaliseResult.STILL_RUNNING
    assert reconciler.finalise_execution(arn, "FAILED", '{"other": 1}') == FinaliseResult.UNKNOWN_RUN
    assert reconciler.finalise_execution(arn, "FAILED", None) == FinaliseResult.UNKNOWN_RUN
    unknown = state.model_copy(update={"run": state.run.model_copy(update={"runId": "run-unknown"})})
    assert reconciler.finalise_execution(arn, "FAILED", execution_input(unknown)) == FinaliseResult.UNKNOWN_RUN
    assert world.progress(state.run).status == "running"


def test_given_runs_whose_executions_ended_or_live_when_swept_then_only_the_ended_ones_fail() -> None:
    world = RunsWorld()
    ended = world.started(campaign_id="cmp_ended")
    live = world.started(campaign_id="cmp_live")
    world.executions.set(world.current_execution(ended.run), "TIMED_OUT")
    world.executions.set(world.current_execution(live.run), "RUNNING")

    result = world.reconciler().sweep()

    assert (result.checked, result.finalised, result.errors) == (2, [ended.run.runId], 0)
    assert world.progress(ended.run).status == "failed"
    assert world.progress(ended.run).reason.endswith("ended TIMED_OUT")
    assert world.progress(live.run).status == "running"
    assert list(world.runs.running_runs()) == [live.run.ref]


def test_given_an_execution_recorded_but_never_started_when_swept_then_it_fails_after_the_grace_period() -> None:
    world = RunsWorld()
    state = world.started()  # recorded; the fake Step Functions knows no such execution
    reconciler = world.reconciler()

    world.clock.advance(SWEEP_GRACE_SECONDS * 1000 - 1)
    assert reconciler.sweep().finalised == []

    world.clock.advance(1)
    assert reconciler.sweep().finalised == [state.run.runId]
    assert world.progress(state.run).reason.endswith("was never started")


def test_given_a_hand_over_still_starting_its_execution_when_swept_late_then_the_run_is_left_alone() -> None:
    world = RunsWorld()
    state = world.started(contacts=5)
    first = world.current_execution(state.run)
    second = execution_arn(STATE_MACHINE_ARN, f"{state.run.runId}-0002")
    assert world.runs.set_execution(state.run.ref, second, replaces=first)
    world.executions.set(first, "RUNNING")  # the previous execution is still retrying the start

    world.clock.advance(SWEEP_GRACE_SECONDS * 1000 * 10)

    assert world.reconciler().sweep().finalised == []
    assert world.progress(state.run).status == "running"


def test_given_a_run_that_cannot_be_checked_when_swept_then_the_others_are_still_closed() -> None:
    world = RunsWorld()
    broken = world.started(campaign_id="cmp_broken")
    ended = world.started(campaign_id="cmp_ended")
    world.executions.broken.add(world.current_execution(broken.run))
    world.executions.set(world.current_execution(ended.run), "FAILED")

    result = world.reconciler().sweep()

    assert (result.checked, result.finalised, result.errors) == (2, [ended.run.runId], 1)
    assert world.progress(broken.run).status == "running"
