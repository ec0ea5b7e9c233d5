"""One contact's dial in a run: claimed once, placed, logged and counted once; failures,
pauses, deleted contacts and interrupted attempts (runs/dial.py)."""

from __future__ import annotations

import pytest

from campaign_calling.errors import DependencyUnavailable
from campaign_calling.runs.dial import CONTACT_GONE, CONTACT_UNREADABLE, DNC_REASON
from campaign_calling.runs.models import RunState
from tests.support.builders import CLIENT, PAUSE_AFTER_FAILURES, RunsWorld
from tests.support.fakes import contact_id, phone


def counts(world: RunsWorld, state: RunState) -> tuple[int, int, int]:
    p = world.progress(state.run)
    return p.completedCalls, p.successfulCalls, p.failedCalls


def test_given_a_running_run_when_a_contact_is_dialed_twice_then_it_is_called_logged_and_counted_once() -> None:
    world = RunsWorld()
    state = world.started(contacts=2)
    contact = world.first_page(state)[0]

    first = world.dial_step().dial_contact(state.run, contact)
    again = world.dial_step().dial_contact(state.run, contact)

    assert (first.dialed, first.outcome, first.reason) == (True, "success", None)
    assert (again.dialed, again.uniqueId, again.outcome, again.reason) == (
        True,
        first.uniqueId,
        "success",
        "already dialed",
    )
    assert [c.contact_id for c in world.placer.calls] == [contact_id(1)]
    assert world.placer.calls[0].idempotency_key == f"{state.run.runId}:1:1"
    [log] = world.claims.logs
    assert (log.uniqueId, log.phone, log.runId, log.source) == (first.uniqueId, phone(1), state.run.runId, "campaign")
    assert counts(world, state) == (1, 1, 0)
    assert world.progress(state.run).currentIndex == 0


def test_given_a_refusing_provider_when_dialed_then_the_call_is_logged_and_counted_failed() -> None:
    world = RunsWorld()
    state = world.started(contacts=2)
    world.placer.fail_next(1, "number unreachable")

    outcome = world.dial_step().dial_contact(state.run, world.first_page(state)[0])

    assert (outcome.dialed, outcome.outcome) == (True, "failed")
    assert world.claims.logs[0].error == "number unreachable"
    assert counts(world, state) == (1, 0, 1)


def test_given_failures_in_a_row_when_the_limit_is_reached_then_the_run_pauses_and_its_execution_stops() -> None:
    world = RunsWorld()
    state = world.started(contacts=5)
    contacts = world.first_page(state)
    world.placer.fail_next(PAUSE_AFTER_FAILURES, f"bad number {phone(3)} for C3")
    step = world.dial_step()

    outcomes = [step.dial_contact(state.run, c) for c in contacts[:PAUSE_AFTER_FAILURES]]

    assert [o.reason for o in outcomes] == [None] * (PAUSE_AFTER_FAILURES - 1) + ["run paused"]
    progress = world.progress(state.run)
    assert progress.status == "paused"
    assert progress.reason is not None and progress.reason.startswith("paused after 3 consecutive failed calls")
    # The reason is kept in the progress and the execution's history: no contact in it.
    assert phone(3) not in progress.reason and "C3" not in progress.reason
    assert world.workflow.stopped == [(world.current_execution(state.run), progress.reason)]
    assert not world.campaigns.get(CLIENT, "cmp_1").isRunning
    later = step.dial_contact(state.run, contacts[3])
    assert (later.dialed, later.reason) == (False, "run paused")


def test_given_failures_when_a_call_succeeds_then_the_count_towards_pausing_starts_again() -> None:
    world = RunsWorld()
    state = world.started(contacts=5)
    contacts = world.first_page(state)
    world.placer.outcomes = [("failed", "x"), ("failed", "x"), ("success", None), ("failed", "x"), ("failed", "x")]
    step = world.dial_step()

    for contact in contacts:
        step.dial_contact(state.run, contact)

    assert world.progress(state.run).status == "running"
    assert counts(world, state) == (5, 1, 4)


def test_given_a_stopped_run_when_its_next_contact_comes_up_then_nothing_is_dialed() -> None:
    world = RunsWorld()
    state = world.started(contacts=2)
    contact = world.first_page(state)[0]
    world.calling().stop(CLIENT, "cmp_1")

    outcome = world.dial_step().dial_contact(state.run, contact)

    assert (outcome.dialed, outcome.reason) == (False, "run stopped")
    assert world.placer.calls == [] and world.claims.logs == []


def test_given_a_delay_when_dialing_in_turn_then_calls_start_at_least_the_delay_apart() -> None:
    world = RunsWorld()
    state = world.started(contacts=3, delay_ms=1500)
    step = world.dial_step()

    for contact in world.first_page(state):
        step.dial_contact(state.run, contact)

    starts = [c.at_ms for c in world.placer.calls]
    call_ms = world.placer.call_ms
    # Paced from the provider's answer to the previous call: the whole delay after it.
    assert [b - a for a, b in zip(starts, starts[1:], strict=False)] == [call_ms + 1500] * 2


def test_given_a_stop_during_the_pacing_wait_when_the_wait_ends_then_the_contact_is_not_dialed() -> None:
    world = RunsWorld()
    state = world.started(contacts=2, delay_ms=60_000)
    first, second = world.first_page(state)
    world.dial_step().dial_contact(state.run, first)
    waits: list[float] = []

    def stop_instead_of_sleeping(seconds: float) -> None:
        waits.append(seconds)
        world.calling().stop(CLIENT, "cmp_1")

    outcome = world.dial_step(sleep=stop_instead_of_sleeping).dial_contact(state.run, second)

    assert (outcome.dialed, outcome.reason) == (False, "run stopped")
    assert len(waits) == 1 and 0 < waits[0] <= 60
    assert [c.contact_id for c in world.placer.calls] == [first.contactId]
    assert counts(world, state) == (1, 1, 0)


def test_given_no_delay_when_dialing_in_turn_then_no_dial_waits() -> None:
    world = RunsWorld()
    state = world.started(contacts=3, delay_ms=0)
    step = world.dial_step()

    for contact in world.first_page(state):
        step.dial_contact(state.run, contact)

    starts = [c.at_ms for c in world.placer.calls]
    assert [b - a for a, b in zip(starts, starts[1:], strict=False)] == [world.placer.call_ms] * 2


def test_given_a_contact_deleted_after_its_page_when_its_turn_comes_then_it_is_logged_failed_not_dialed() -> None:
    world = RunsWorld()
    state = world.started(contacts=2)
    contact = world.first_page(state)[0]
    world.campaigns.delete_contact(CLIENT, "cmp_1", contact.contactId)

    outcome = world.dial_step(pause_after_failures=1).dial_contact(state.run, contact)

    assert (outcome.dialed, outcome.outcome, outcome.reason) == (False, "failed", CONTACT_GONE)
    [log] = world.claims.logs
    assert (log.contactId, log.contactName, log.phone) == (contact.contactId, "", "")
    assert world.placer.calls == []
    assert counts(world, state) == (1, 0, 1)
    # Not the provider failing: even a limit of one failure does not pause the run.
    assert world.progress(state.run).status == "running"


def test_given_a_number_on_the_do_not_call_list_when_its_turn_comes_then_it_is_skipped_logged_once_not_dialed() -> None:
    # Given a run of two contacts, the first one's number on the client's do-not-call list
    world = RunsWorld()
    state = world.started(contacts=2)
    first, second = world.first_page(state)[:2]
    world.do_not_call.add(CLIENT, [phone(1)])
    step = world.dial_step(pause_after_failures=1)

    # When both turns come (the first one's step run twice)
    skipped = step.dial_contact(state.run, first)
    again = step.dial_contact(state.run, first)
    step.dial_contact(state.run, second)

    # Then the first is never sent to the provider, logged skipped once, counted once
    assert (skipped.dialed, skipped.outcome, skipped.reason) == (False, "failed", DNC_REASON)
    assert (again.uniqueId, again.reason) == (skipped.uniqueId, "already dialed")
    assert [c.contact_id for c in world.placer.calls] == [contact_id(2)]
    log = next(log for log in world.claims.logs if log.contactId == first.contactId)
    assert (log.status, log.endedReason, log.outcome) == ("skipped", DNC_REASON, "failed")
    assert len(world.claims.logs) == 2
    progress = world.progress(state.run)
    assert counts(world, state) == (2, 1, 1)
    assert progress.outcomes.skipped == 1
    # and a skip is no sign of a failing provider: even a limit of one does not pause the run
    assert progress.status == "running"


def test_given_a_number_taken_off_the_list_when_its_turn_comes_then_it_is_dialed() -> None:
    world = RunsWorld()
    state = world.started(contacts=1)
    world.do_not_call.add(CLIENT, [phone(1)])
    world.do_not_call.remove(CLIENT, phone(1))

    outcome = world.dial_step().dial_contact(state.run, world.first_page(state)[0])

    assert (outcome.dialed, outcome.outcome) == (True, "success")


def test_given_another_clients_list_when_a_contact_comes_up_then_it_is_dialed() -> None:
    world = RunsWorld()
    state = world.started(contacts=1)
    world.do_not_call.add("client-b", [phone(1)])

    outcome = world.dial_step().dial_contact(state.run, world.first_page(state)[0])

    assert outcome.dialed is True


def test_given_a_dial_step_that_failed_for_good_when_recorded_then_the_contact_is_logged_failed_once() -> None:
    world = RunsWorld()
    state = world.started(contacts=2)
    contact = world.first_page(state)[0]

    first = world.recorder().record_failure(state.run, contact, "States.Timeout")
    again = world.recorder().record_failure(state.run, contact, "States.Timeout")

    assert (first.dialed, first.outcome, first.reason) == (False, "failed", "dial step failed")
    assert (again.uniqueId, again.reason) == (first.uniqueId, "already dialed")
    [log] = world.claims.logs
    assert log.error == "not dialed: States.Timeout"
    assert log.phone == phone(1)
    assert counts(world, state) == (1, 0, 1)


@pytest.mark.parametrize(
    ("gone", "unreadable", "missing"), [(True, False, CONTACT_GONE), (False, True, CONTACT_UNREADABLE)]
)
def test_given_a_contact_deleted_or_unreadable_when_its_failed_step_is_recorded_then_it_is_still_logged(
    gone: bool, unreadable: bool, missing: str
) -> None:
    world = RunsWorld()
    state = world.started(contacts=2)
    contact = world.first_page(state)[0]
    if gone:
        world.campaigns.delete_contact(CLIENT, "cmp_1", contact.contactId)
    if unreadable:
        world.campaigns.unreadable.add(contact.contactId)

    world.recorder().record_failure(state.run, contact, "States.Timeout")

    [log] = world.claims.logs
    assert log.error == f"not dialed: States.Timeout; {missing}"
    assert counts(world, state) == (1, 0, 1)


@pytest.mark.parametrize("step", ["dial", "record-failure"])
def test_given_an_earlier_attempt_that_claimed_and_vanished_when_retried_then_it_is_logged_unknown_not_redialed(
    step: str,
) -> None:
    world = RunsWorld()
    state = world.started(contacts=2)
    contact = world.first_page(state)[0]
    world.claims.claim(state.run.ref, seq=contact.seq, index=contact.index, unique_id="aidial-1-earlier", now_ms=1)

    if step == "dial":
        outcome = world.dial_step().dial_contact(state.run, contact)
    else:
        outcome = world.recorder().record_failure(state.run, contact, "Lambda.Unknown")

    assert (outcome.dialed, outcome.uniqueId, outcome.outcome, outcome.reason) == (
        True,
        "aidial-1-earlier",
        "unknown",
        "earlier attempt interrupted",
    )
    assert world.placer.calls == []
    [log] = world.claims.logs
    assert log.outcome == "unknown" and log.error is not None and log.error.startswith("outcome unknown")
    assert counts(world, state) == (1, 0, 1)


def test_given_an_earlier_claim_when_the_run_was_stopped_since_then_the_retry_still_settles_it() -> None:
    world = RunsWorld()
    state = world.started(contacts=2)
    contact = world.first_page(state)[0]
    world.claims.claim(state.run.ref, seq=contact.seq, index=contact.index, unique_id="aidial-1-earlier", now_ms=1)
    world.calling().stop(CLIENT, "cmp_1")

    outcome = world.dial_step().dial_contact(state.run, contact)

    assert (outcome.outcome, outcome.reason) == ("unknown", "earlier attempt interrupted")
    assert world.progress(state.run).status == "stopped"
    assert counts(world, state) == (1, 0, 1)


def test_given_a_busy_database_when_a_placed_call_is_logged_then_it_is_tried_again_until_logged() -> None:
    world = RunsWorld()
    state = world.started(contacts=2)
    world.claims.busy_completions = 3

    outcome = world.dial_step().dial_contact(state.run, world.first_page(state)[0])

    assert outcome.outcome == "success"
    assert len(world.claims.logs) == 1
    assert counts(world, state) == (1, 1, 0)


def test_given_a_database_busy_for_too_long_when_a_placed_call_is_logged_then_the_step_fails_claim_open() -> None:
    world = RunsWorld()
    state = world.started(contacts=2)
    contact = world.first_page(state)[0]
    world.claims.busy_completions = 1000

    with pytest.raises(DependencyUnavailable):
        world.dial_step(patience_seconds=2).dial_contact(state.run, contact)

    claim = world.claims.get(state.run.ref, contact.seq)
    assert claim is not None and claim.status == "dialing"
    assert world.claims.logs == []
    # The step's retry settles the call as unknown, without calling again.
    world.claims.busy_completions = 0
    retried = world.dial_step().dial_contact(state.run, contact)
    assert (retried.outcome, len(world.placer.calls)) == ("unknown", 1)
