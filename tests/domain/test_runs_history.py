"""A campaign's run history (runs/history.py): every run listed newest first with how it was
started and its counters, kept after its live progress expires."""

from __future__ import annotations

import pytest

from campaign_calling.errors import InvalidRequest, NotFound
from campaign_calling.models import RetryPolicy
from campaign_calling.runs.models import RunRef
from tests.support.builders import CLIENT, RunsWorld


def test_given_a_running_run_when_listed_then_it_shows_how_it_started_and_its_live_counters() -> None:
    # Given a run started with a delay, a cap and retries, one contact dialed
    world = RunsWorld()
    retry = RetryPolicy(maxAttempts=2, retryDelaySeconds=600)
    state = world.started(3, delay_ms=1500, max_concurrent_calls=2, retry=retry)
    world.dial_step().dial_contact(state.run, world.first_page(state)[0])

    # When the campaign's runs are listed
    page = world.history().list_runs(CLIENT, "cmp_1", 10, None)

    # Then the run is there, running, with its options and the live counters
    [run] = page.items
    assert page.nextToken is None
    assert (run.runId, run.status, run.isRunning, run.endTime) == (state.run.runId, "running", True, None)
    assert (run.agentId, run.delayBetweenCalls, run.maxConcurrentCalls, run.retry) == ("ag_1", 1500, 2, retry)
    assert (run.totalContacts, run.completedCalls, run.successfulCalls) == (3, 1, 1)
    assert run.outcomes.pending == 1


def test_given_a_stopped_run_whose_progress_expired_then_its_history_keeps_the_final_counters() -> None:
    # Given a run that dialed two contacts and was stopped
    world = RunsWorld()
    state = world.started(3)
    for contact in world.first_page(state)[:2]:
        world.dial_step().dial_contact(state.run, contact)
    world.clock.advance(5000)
    world.calling().stop(CLIENT, "cmp_1")
    ref = RunRef(CLIENT, "cmp_1", state.run.runId)

    # When its progress expires: first as reads see it (past its TTL), then deleted by DynamoDB
    world.clock.advance(world.runs.ttl * 1000)
    assert world.status().status(CLIENT, "cmp_1").progress is None
    expired = world.history().get_run(CLIENT, "cmp_1", state.run.runId)
    world.runs.expire(ref)
    deleted = world.history().get_run(CLIENT, "cmp_1", state.run.runId)

    # Then the history still has the run, as it ended
    for run in (expired, deleted):
        assert (run.status, run.isRunning, run.reason) == ("stopped", False, "stopped by request")
        assert run.endTime is not None and run.endTime > run.startTime
        assert (run.completedCalls, run.successfulCalls, run.failedCalls, run.totalContacts) == (2, 2, 0, 3)


def test_given_an_ended_run_whose_calls_end_later_then_its_history_keeps_their_final_outcomes() -> None:
    # Given a run stopped with its one call still pending
    world = RunsWorld()
    state = world.started(2)
    outcome = world.dial_step().dial_contact(state.run, world.first_page(state)[0])
    world.calling().stop(CLIENT, "cmp_1")
    ref = RunRef(CLIENT, "cmp_1", state.run.runId)
    assert world.history().get_run(CLIENT, "cmp_1", ref.run_id).outcomes.pending == 1

    # When the call's final status arrives after the end (the provider's webhook)
    [log] = [log for log in world.claims.logs if log.uniqueId == outcome.uniqueId]
    assert log.providerCallId
    world.report(log.providerCallId, "busy")

    # Then the history answers it, live while the progress item lives, and kept after it
    live = world.history().get_run(CLIENT, "cmp_1", ref.run_id)
    world.runs.expire(ref)
    kept = world.history().get_run(CLIENT, "cmp_1", ref.run_id)
    for run in (live, kept):
        assert (run.outcomes.pending, run.outcomes.busy, run.completedCalls) == (0, 1, 1)


def test_given_a_paused_then_resumed_run_then_its_history_follows_its_status() -> None:
    world = RunsWorld()
    state = world.started(3)
    ref = RunRef(CLIENT, "cmp_1", state.run.runId)

    world.calling().pause(CLIENT, "cmp_1")
    assert world.runs.history[ref].status == "paused"
    world.calling().resume(CLIENT, "cmp_1")
    assert (world.runs.history[ref].status, world.runs.history[ref].endTime) == ("running", None)
    world.calling().stop(CLIENT, "cmp_1")
    assert world.runs.history[ref].status == "stopped"


def test_given_three_runs_when_listed_in_pages_of_two_then_newest_first_each_once() -> None:
    # Given three runs of one campaign, one after the other, and a run of another campaign
    world = RunsWorld()
    world.campaign(2)
    run_ids = []
    for _ in range(3):
        run_ids.append(world.calling().start(CLIENT, "cmp_1", "ag_1", 0).run_id)
        world.calling().stop(CLIENT, "cmp_1")
        world.clock.advance(1000)
    world.started(1, campaign_id="cmp_2")

    # When listed two at a time
    first = world.history().list_runs(CLIENT, "cmp_1", 2, None)
    second = world.history().list_runs(CLIENT, "cmp_1", 2, first.nextToken)

    # Then newest first, each once, and only this campaign's
    assert [r.runId for r in first.items + second.items] == run_ids[::-1]
    assert second.nextToken is None


def test_given_an_unknown_campaign_or_run_then_not_found_and_a_foreign_token_is_refused() -> None:
    world = RunsWorld()
    world.started(1)
    with pytest.raises(NotFound, match="campaign"):
        world.history().list_runs(CLIENT, "cmp_none", 10, None)
    with pytest.raises(NotFound, match="run"):
        world.history().get_run(CLIENT, "cmp_1", "run-1700000000000-nope00")
    with pytest.raises(NotFound, match="campaign"):
        world.history().list_runs("client-b", "cmp_1", 10, None)  # another client's campaign
    with pytest.raises(InvalidRequest):
        world.history().list_runs(CLIENT, "cmp_1", 10, "client-b|cmp_1|run-9")
