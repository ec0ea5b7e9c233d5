"""Retries (recycling): a contact whose call ends as retryOn says is dialed again after the
delay, until maxAttempts; each attempt its own claim, log and idempotency key; the run waits
in Step Functions for the next retry and completes only when every contact is final
(runs/retries.py, runs/pages.py, runs/dial.py)."""

from __future__ import annotations

from datetime import datetime

import pytest

from campaign_calling.errors import InvalidRequest
from campaign_calling.models import RetryPolicy
from campaign_calling.runs.models import PageContact, RunState
from tests.support.builders import CLIENT, RunsWorld

DELAY_S = 120
RETRY = RetryPolicy(maxAttempts=3, retryDelaySeconds=DELAY_S, retryOn=["no-answer", "busy"])
MAX_CALL_SECONDS = 1800


def page(world: RunsWorld, state: RunState) -> RunState:
    loaded = world.pages().load_page(state.run, state.cursor)
    assert loaded.page is not None
    return loaded


def dial(world: RunsWorld, state: RunState, contact: PageContact) -> str:
    """Dial the contact; the provider's call id of the call placed."""
    outcome = world.dial_step().dial_contact(state.run, contact)
    assert outcome.dialed and outcome.uniqueId, outcome
    (log,) = [log for log in world.claims.logs if log.uniqueId == outcome.uniqueId]
    assert log.providerCallId
    return log.providerCallId


def test_given_a_contact_not_answering_then_it_is_dialed_again_after_the_delay_until_max_attempts() -> None:
    # Given a run of one contact with 3 attempts on no-answer
    world = RunsWorld()
    state = world.started(contacts=1, retry=RETRY)
    state = page(world, state)
    (first,) = state.page.contacts  # type: ignore[union-attr]

    # When every attempt ends no-answer, each dialed when its page says
    attempts = []
    contact = first
    for attempt in (1, 2, 3):
        call_id = dial(world, state, contact)
        attempts.append((contact.attempt, world.clock.now_ms()))
        world.report(call_id, "no-answer")
        ended_ms = world.clock.now_ms()
        state = page(world, state)
        if attempt == 3:
            break
        # the run waits in a Wait state until the retry is due, then gets it as a page
        assert state.page is not None and state.page.wait and not state.page.contacts
        assert state.page.waitUntil is not None
        world.clock.advance(DELAY_S * 1000)
        state = page(world, state)
        assert state.page is not None and [c.attempt for c in state.page.contacts] == [attempt + 1]
        (contact,) = state.page.contacts
        assert world.clock.now_ms() >= ended_ms + DELAY_S * 1000

    # Then it was dialed exactly 3 times, with distinct idempotency keys and call logs
    keys = [c.idempotency_key for c in world.placer.calls]
    assert keys == [f"{state.run.runId}:1:{n}" for n in (1, 2, 3)]
    assert [log.attempt for log in world.claims.logs] == [1, 2, 3]
    assert len({log.uniqueId for log in world.claims.logs}) == 3
    # And the run has nothing more to do: it completes; accounting is exact
    assert state.page is not None and not state.page.hasMore
    progress = world.progress(state.run)
    assert (progress.completedCalls, progress.successfulCalls + progress.failedCalls) == (3, 3)
    assert (progress.contactsDone, progress.retriesPending, progress.outcomes.no_answer) == (1, 0, 3)


def test_given_a_call_answered_then_the_contact_is_done_and_not_retried() -> None:
    # Given a run with retries whose only call is answered
    world = RunsWorld()
    state = page(world, world.started(contacts=1, retry=RETRY))
    world.report(dial(world, state, state.page.contacts[0]), "completed")  # type: ignore[union-attr]

    # When the next page is loaded
    after = page(world, state)

    # Then the run ends: the contact is done
    assert after.page is not None and not after.page.hasMore and not after.page.wait
    assert world.progress(state.run).contactsDone == 1


def test_given_a_call_in_progress_then_a_run_with_retries_waits_for_it_before_it_completes() -> None:
    # Given a run with retries whose only call has no final status yet
    world = RunsWorld()
    state = page(world, world.started(contacts=1, retry=RETRY))
    call_id = dial(world, state, state.page.contacts[0])  # type: ignore[union-attr]

    # When the next page is loaded, then the call ends busy, then the delay passes
    waiting = page(world, state)
    world.report(call_id, "busy")
    world.clock.advance(DELAY_S * 1000)
    retry = page(world, waiting)

    # Then the run first waited (a while, for the call), then got the contact's retry
    assert waiting.page is not None and waiting.page.wait and waiting.page.hasMore
    assert retry.page is not None and [c.attempt for c in retry.page.contacts] == [2]


def test_given_a_call_whose_final_status_never_comes_then_it_ends_unknown_and_is_never_retried() -> None:
    # Given a run with retries whose only call never gets a final status
    world = RunsWorld()
    state = page(world, world.started(contacts=1, retry=RETRY))
    dial(world, state, state.page.contacts[0])  # type: ignore[union-attr]

    # When MaxCallSeconds pass
    world.clock.advance(MAX_CALL_SECONDS * 1000)
    after = page(world, state)

    # Then the call counts unknown, the contact is done, and the run completes
    assert after.page is not None and not after.page.hasMore
    progress = world.progress(state.run)
    assert (progress.outcomes.unknown, progress.contactsDone, progress.retriesPending) == (1, 1, 0)


def test_given_a_retry_served_twice_then_it_is_dialed_once() -> None:
    # Given a due retry
    world = RunsWorld()
    state = page(world, world.started(contacts=1, retry=RETRY))
    world.report(dial(world, state, state.page.contacts[0]), "no-answer")  # type: ignore[union-attr]
    world.clock.advance(DELAY_S * 1000)
    retry_page = page(world, state)
    assert retry_page.page is not None
    (retry,) = retry_page.page.contacts

    # When its dial runs twice (a retried step, or two executions)
    first = world.dial_step().dial_contact(state.run, retry)
    again = world.dial_step().dial_contact(state.run, retry)

    # Then the provider saw it once
    assert first.dialed and again.reason == "already dialed"
    assert len(world.placer.calls) == 2


def test_given_a_run_without_retries_then_it_completes_with_calls_still_in_progress() -> None:
    # Given a run without retries whose call has no final status yet
    world = RunsWorld()
    state = page(world, world.started(contacts=1))
    dial(world, state, state.page.contacts[0])  # type: ignore[union-attr]

    # When the next page is loaded
    after = page(world, state)

    # Then the run completes as before retries existed, its contact counted done at once
    assert after.page is not None and not after.page.hasMore and not after.page.wait
    assert world.progress(state.run).contactsDone == 1


def test_given_a_retry_delay_below_the_deployments_minimum_then_start_is_refused() -> None:
    # Given a campaign
    world = RunsWorld()
    world.campaign(1)

    # When a run asks for retries sooner than MinRetryDelaySeconds
    with pytest.raises(InvalidRequest) as refused:
        world.calling().start(
            CLIENT,
            "cmp_1",
            "ag_1",
            0,
            retry=RetryPolicy(maxAttempts=2, retryDelaySeconds=30),
            min_retry_delay_seconds=60,
        )

    # Then it is refused naming the field, and nothing started
    assert "retry.retryDelaySeconds must be at least 60" in refused.value.message
    assert world.workflow.started == []


def test_given_calls_in_progress_then_the_run_looks_again_after_1_s_then_a_second_more_each_time() -> None:
    # Given a run with retries whose only call has no final status yet
    world = RunsWorld()
    state = page(world, world.started(contacts=1, retry=RETRY))
    dial(world, state, state.page.contacts[0])  # type: ignore[union-attr]

    # When the run waits three times in a row
    waits = []
    for _ in range(3):
        now_ms = world.clock.now_ms()
        state = page(world, state)
        assert state.page is not None and state.page.wait and state.page.waitUntil is not None
        until = datetime.strptime(state.page.waitUntil, "%Y-%m-%dT%H:%M:%S%z").timestamp()
        waits.append(until - now_ms / 1000)

    # Then it waits 1 s, 2 s, 3 s (to the next whole second at or after that)
    assert [int(w) for w in waits] == [1, 2, 3]
