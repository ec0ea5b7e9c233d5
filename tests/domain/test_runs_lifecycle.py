"""How a run starts and ends: start, stop, pause, complete, fail (runs/lifecycle.py)."""

from __future__ import annotations

import pytest

from campaign_calling.errors import Conflict, DependencyUnavailable, InvalidRequest, NotFound
from campaign_calling.runs.lifecycle import WORKFLOW_NOT_STARTED
from campaign_calling.runs.models import RunRef, RunState
from tests.support.builders import CLIENT, STATE_MACHINE_ARN, RunsWorld
from tests.support.clock import T0_MS


def test_given_a_campaign_when_started_then_the_run_is_recorded_and_its_first_execution_started() -> None:
    world = RunsWorld()
    world.campaign(contacts=3)

    started = world.calling().start(CLIENT, "cmp_1", "ag_1", 1500)

    assert started.total_contacts == 3
    assert started.execution_arn == STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:") + (
        f":{started.run_id}-0001"
    )
    [(arn, payload)] = world.workflow.started
    assert arn == started.execution_arn
    state = RunState.model_validate(payload)
    assert (state.run.runId, state.run.delayMs, state.run.lastSeq, state.run.totalContacts) == (
        started.run_id,
        1500,
        3,
        3,
    )
    assert state.run.agent.providerAgentId == "pa-1"
    progress = world.progress(RunRef(CLIENT, "cmp_1", started.run_id))
    assert (progress.status, progress.isRunning, progress.delayBetweenCalls) == ("running", True, 1500)
    assert world.runs.get_run(RunRef(CLIENT, "cmp_1", started.run_id)).execution_arn == started.execution_arn
    assert world.campaigns.get(CLIENT, "cmp_1").isRunning


def test_given_a_running_campaign_when_started_again_then_conflict() -> None:
    world = RunsWorld()
    world.started()

    with pytest.raises(Conflict, match="already running"):
        world.calling().start(CLIENT, "cmp_1", "ag_1", 0)


def test_given_an_empty_campaign_or_an_unknown_agent_when_started_then_refused() -> None:
    world = RunsWorld()
    world.campaign(contacts=0)

    with pytest.raises(InvalidRequest, match="no contacts"):
        world.calling().start(CLIENT, "cmp_1", "ag_1", 0)
    with pytest.raises(NotFound):
        world.calling().start(CLIENT, "cmp_1", "ag_unknown", 0)
    with pytest.raises(NotFound):
        world.calling().start(CLIENT, "cmp_unknown", "ag_1", 0)
    assert world.workflow.started == []


def test_given_step_functions_down_when_started_then_the_run_fails_and_the_campaign_is_released() -> None:
    world = RunsWorld()
    world.campaign()
    world.workflow.unavailable = True

    with pytest.raises(DependencyUnavailable):
        world.calling().start(CLIENT, "cmp_1", "ag_1", 0)

    [ref] = world.runs.runs
    progress = world.progress(ref)
    assert (progress.status, progress.reason) == ("failed", WORKFLOW_NOT_STARTED)
    assert not world.campaigns.get(CLIENT, "cmp_1").isRunning
    world.workflow.unavailable = False
    world.calling().start(CLIENT, "cmp_1", "ag_1", 0)  # the next start is not blocked


def test_given_a_running_run_when_stopped_then_it_ends_stopped_and_its_execution_is_stopped() -> None:
    world = RunsWorld()
    state = world.started()
    world.clock.advance(1234)

    world.calling().stop(CLIENT, "cmp_1")

    progress = world.progress(state.run)
    assert (progress.status, progress.isRunning, progress.reason) == ("stopped", False, "stopped by request")
    assert progress.endTime == "2024-01-15T10:30:01.234Z"
    assert world.runs.get_run(state.run.ref).expires_at == (T0_MS + 1234) // 1000 + 3600
    assert world.workflow.stopped == [(world.current_execution(state.run), "stopped by request")]
    assert world.campaigns.get(CLIENT, "cmp_1").lastRunStatus == "stopped"


def test_given_a_stopped_run_when_stopped_again_then_conflict_and_nothing_changes() -> None:
    world = RunsWorld()
    state = world.started()
    world.calling().stop(CLIENT, "cmp_1")

    with pytest.raises(Conflict, match="not running"):
        world.calling().stop(CLIENT, "cmp_1")
    assert world.progress(state.run).status == "stopped"
    assert len(world.workflow.stopped) == 1


def test_given_a_running_run_when_completed_then_it_reports_the_contacts_handed_to_dials() -> None:
    world = RunsWorld()
    state = world.started(contacts=3)
    cursor = state.cursor.model_copy(update={"nextIndex": 2})

    assert world.steps().finalise(state.run, cursor) == "completed"

    progress = world.progress(state.run)
    assert (progress.status, progress.currentIndex, progress.reason) == ("completed", 2, None)
    assert not world.campaigns.get(CLIENT, "cmp_1").isRunning
    assert world.workflow.stopped == []  # the execution is ending by itself


def test_given_no_cursor_when_completed_then_the_index_stays_as_claimed() -> None:
    world = RunsWorld()
    state = world.started(contacts=3)
    world.dial_step().dial_contact(state.run, world.first_page(state)[0])

    world.steps().finalise(state.run)

    assert world.progress(state.run).currentIndex == 0


def test_given_a_stopped_run_when_completed_then_it_stays_stopped() -> None:
    world = RunsWorld()
    state = world.started()
    world.calling().stop(CLIENT, "cmp_1")

    assert world.steps().finalise(state.run, state.cursor) == "already ended"
    assert world.progress(state.run).status == "stopped"


def test_given_a_run_that_ended_when_its_status_is_read_after_the_ttl_then_it_reads_as_absent() -> None:
    world = RunsWorld()
    state = world.started(contacts=3)
    world.calling().stop(CLIENT, "cmp_1")
    assert world.status().status(CLIENT, "cmp_1").progress is not None

    world.clock.advance(3600 * 1000 + 1000)

    status = world.status().status(CLIENT, "cmp_1")
    assert (status.isRunning, status.totalContacts, status.progress) == (False, 3, None)
    assert world.runs.get_run(state.run.ref).progress.status == "stopped"


def test_given_an_unknown_campaign_when_its_status_is_read_then_not_found() -> None:
    world = RunsWorld()

    with pytest.raises(NotFound):
        world.status().status(CLIENT, "cmp_unknown")
