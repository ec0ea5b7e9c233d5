"""Pause and resume a run (runs/lifecycle.py): the same run goes on in a new execution from
its first contact not yet dialed, and no contact of the run is ever dialed twice."""

from __future__ import annotations

from collections import Counter

import pytest

from campaign_calling.errors import Conflict
from campaign_calling.runs.lifecycle import PAUSED_BY_REQUEST, RESUMABLE_RUN
from campaign_calling.runs.models import RunState
from tests.support.builders import CLIENT, RunsWorld
from tests.support.fakes import contact_id


def execute(world: RunsWorld, state: RunState, *, dials: int | None = None) -> None:
    """What one execution does with its state: pages, a dial step per contact, the end.
    ``dials``: stop after that many dial steps (the execution is stopped or dies there)."""
    cursor = state.cursor
    done = 0
    while True:
        loaded = world.pages().load_page(state.run, cursor)
        assert loaded.page is not None
        if not loaded.page.running:
            return
        for contact in loaded.page.contacts:
            if dials is not None and done >= dials:
                return
            world.dial_step().dial_contact(state.run, contact)
            done += 1
        cursor = loaded.cursor
        if not loaded.page.hasMore:
            world.steps().finalise(state.run, cursor)
            return


def latest_state(world: RunsWorld) -> RunState:
    return RunState.model_validate(world.workflow.started[-1][1])


def dialed_per_contact(world: RunsWorld) -> Counter[str]:
    return Counter(call.contact_id for call in world.placer.calls)


def test_given_a_running_run_when_paused_then_it_is_paused_without_expiry_and_no_dial_starts() -> None:
    # Given a run that dialed two of its five contacts
    world = RunsWorld()
    state = world.started(contacts=5)
    third = world.first_page(state)[2]
    execute(world, state, dials=2)

    # When it is paused
    world.calling().pause(CLIENT, "cmp_1")

    # Then it says paused, its execution is stopped, and its progress does not expire
    progress = world.progress(state.run)
    assert (progress.status, progress.isRunning, progress.reason) == ("paused", False, PAUSED_BY_REQUEST)
    assert world.workflow.stopped == [(world.current_execution(state.run), PAUSED_BY_REQUEST)]
    assert world.runs.get_run(state.run.ref).expires_at is None
    assert not world.campaigns.get(CLIENT, "cmp_1").isRunning
    # And the next contact's dial step dials nobody
    outcome = world.dial_step().dial_contact(state.run, third)
    assert (outcome.dialed, outcome.reason) == (False, "run paused")
    assert len(world.placer.calls) == 2


def test_given_a_paused_run_when_resumed_then_the_same_run_goes_on_in_a_new_execution_from_where_it_stood() -> None:
    # Given a run paused after two of its five contacts
    world = RunsWorld()
    state = world.started(contacts=5)
    execute(world, state, dials=2)
    world.calling().pause(CLIENT, "cmp_1")

    # When it is resumed and its new execution runs
    resumed = world.calling().resume(CLIENT, "cmp_1")
    new_state = latest_state(world)
    execute(world, new_state)

    # Then it is the same run, in execution 0002, starting at the last contact claimed
    assert resumed.run_id == state.run.runId
    assert resumed.execution_arn.endswith(f":{state.run.runId}-0002")
    assert (new_state.cursor.execution, new_state.cursor.nextIndex) == (2, 1)
    # And every contact was dialed exactly once; the counters went on
    assert dialed_per_contact(world) == Counter({contact_id(seq): 1 for seq in range(1, 6)})
    progress = world.progress(state.run)
    assert (progress.status, progress.completedCalls, progress.currentIndex) == ("completed", 5, 5)
    assert world.runs.get_run(state.run.ref).expires_at is not None


def test_given_a_run_whose_execution_died_mid_dial_when_resumed_then_the_contact_is_logged_unknown_not_redialed() -> (
    None
):
    # Given a run whose execution ended between dialing its second contact and logging it
    world = RunsWorld()
    state = world.started(contacts=3)
    execute(world, state, dials=1)
    second = world.first_page(state)[1]
    world.claims.busy_completions = 100  # the call log never gets written
    with pytest.raises(Exception):  # noqa: B017 - the step fails, whatever the error
        world.dial_step(patience_seconds=0).dial_contact(state.run, second)
    world.claims.busy_completions = 0
    world.ending.fail(state.run.ref, "execution run-0001 ended FAILED")

    # When it is resumed
    world.calling().resume(CLIENT, "cmp_1")
    execute(world, latest_state(world))

    # Then the interrupted contact is logged unknown, nobody is dialed twice, all are accounted for
    assert sorted(dialed_per_contact(world).values()) == [1, 1, 1]
    assert [log.outcome for log in world.claims.logs_of(second.contactId)] == ["unknown"]
    progress = world.progress(state.run)
    assert (progress.status, progress.completedCalls) == ("completed", 3)


def test_given_a_resumed_run_when_resumed_again_then_conflict() -> None:
    world = RunsWorld()
    world.started(contacts=3)
    world.calling().pause(CLIENT, "cmp_1")
    world.calling().resume(CLIENT, "cmp_1")

    with pytest.raises(Conflict, match="already running"):
        world.calling().resume(CLIENT, "cmp_1")
    assert len(world.workflow.started) == 2


def test_given_a_run_not_running_when_paused_then_conflict() -> None:
    world = RunsWorld()
    world.started(contacts=3)
    world.calling().stop(CLIENT, "cmp_1")

    with pytest.raises(Conflict, match="not running"):
        world.calling().pause(CLIENT, "cmp_1")
    world.campaign(campaign_id="cmp_2")
    with pytest.raises(Conflict, match="not running"):
        world.calling().pause(CLIENT, "cmp_2")


def test_given_nothing_to_resume_when_resumed_then_conflict() -> None:
    # A campaign never started, and one whose run was stopped
    world = RunsWorld()
    world.campaign(campaign_id="cmp_new")
    world.started(contacts=2)
    world.calling().stop(CLIENT, "cmp_1")

    for campaign in ("cmp_new", "cmp_1"):
        with pytest.raises(Conflict, match="nothing to resume"):
            world.calling().resume(CLIENT, campaign)


def test_given_a_paused_run_when_started_then_conflict_naming_resume_and_stop() -> None:
    world = RunsWorld()
    world.started(contacts=2)
    world.calling().pause(CLIENT, "cmp_1")

    with pytest.raises(Conflict) as refused:
        world.calling().start(CLIENT, "cmp_1", "ag_1", 0)
    assert str(refused.value) == RESUMABLE_RUN
    assert "resume-calling" in RESUMABLE_RUN and "stop-calling" in RESUMABLE_RUN


def test_given_a_paused_run_when_stopped_then_it_ends_stopped_and_a_new_start_is_allowed() -> None:
    world = RunsWorld()
    state = world.started(contacts=2)
    world.calling().pause(CLIENT, "cmp_1")

    world.calling().stop(CLIENT, "cmp_1")

    progress = world.progress(state.run)
    assert (progress.status, progress.isRunning) == ("stopped", False)
    assert world.runs.get_run(state.run.ref).expires_at is not None
    with pytest.raises(Conflict, match="nothing to resume"):
        world.calling().resume(CLIENT, "cmp_1")
    world.calling().start(CLIENT, "cmp_1", "ag_1", 0)


def test_given_contacts_added_while_paused_when_resumed_then_the_run_calls_them_after_its_own() -> None:
    # Given a run of 3 paused after one dial, and 2 contacts added meanwhile
    world = RunsWorld()
    state = world.started(contacts=3)
    execute(world, state, dials=1)
    world.calling().pause(CLIENT, "cmp_1")
    world.campaigns.add_contacts(CLIENT, "cmp_1", 2)

    # When it is resumed and runs to its end
    world.calling().resume(CLIENT, "cmp_1")
    execute(world, latest_state(world))

    # Then all 5 are dialed once, in order, and the progress counts 5
    assert sorted(dialed_per_contact(world).values()) == [1] * 5
    assert [c.contact_id for c in world.placer.calls] == sorted(c.contact_id for c in world.placer.calls)
    progress = world.progress(state.run)
    assert (progress.totalContacts, progress.completedCalls, progress.status) == (5, 5, "completed")


def test_given_a_run_that_never_started_when_started_again_then_it_is_a_new_run() -> None:
    world = RunsWorld()
    world.campaign()
    world.workflow.unavailable = True
    with pytest.raises(Exception):  # noqa: B017
        world.calling().start(CLIENT, "cmp_1", "ag_1", 0)
    world.workflow.unavailable = False

    with pytest.raises(Conflict, match="nothing to resume"):
        world.calling().resume(CLIENT, "cmp_1")
    world.calling().start(CLIENT, "cmp_1", "ag_1", 0)
