"""Calls in progress: a run's cap (maxConcurrentCalls), the client's cap and rate, slots
given back at the final status or reaped after MaxCallSeconds, and the hand-over of an
execution that waited too often (runs/dial.py, calls/slots.py)."""

from __future__ import annotations

from campaign_calling.catalog.limits import ClientLimits
from campaign_calling.runs.budget import SLOT_WAITS_PER_EXECUTION
from campaign_calling.runs.models import PageContact, ResumePoint, RunState
from tests.support.builders import CLIENT, STATE_MACHINE_ARN, RunsWorld

MAX_CALL_SECONDS = 1800


def dial(world: RunsWorld, state: RunState, contact: PageContact):  # type: ignore[no-untyped-def]
    return world.dial_step().dial_contact(state.run, contact)


def end_call(world: RunsWorld, unique_id: str) -> None:
    """The call's first final status arrived: its slot is given back."""
    assert world.claims.release(CLIENT, unique_id)


def test_given_a_run_capped_at_two_when_two_calls_are_in_progress_then_the_third_waits_without_dialing() -> None:
    # Given a run capped at 2 calls in progress, with 2 placed and not yet ended
    world = RunsWorld()
    state = world.started(contacts=3, max_concurrent_calls=2)
    first, second, third = world.first_page(state)
    assert dial(world, state, first).dialed and dial(world, state, second).dialed

    # When the third contact's turn comes
    waiting = dial(world, state, third)

    # Then nobody is dialed: the step says to wait a second and try again, counting the wait
    assert not waiting.dialed and waiting.slotWait is not None
    assert (waiting.slotWait.seconds, waiting.slotWait.handOver) == (1, False)
    assert waiting.slotWait.contact == third.model_copy(update={"slotWaits": 1})
    assert len(world.placer.calls) == 2
    assert world.progress(state.run).completedCalls == 2


def test_given_a_waiting_dial_when_a_call_ends_then_the_next_try_dials() -> None:
    # Given a run capped at 1 whose second contact waited for the first call
    world = RunsWorld()
    state = world.started(contacts=2, max_concurrent_calls=1)
    first, second = world.first_page(state)
    placed = dial(world, state, first)
    waiting = dial(world, state, second)
    assert waiting.slotWait is not None

    # When the first call ends, and the wait is over
    end_call(world, placed.uniqueId or "")
    world.clock.advance(waiting.slotWait.seconds * 1000)
    retried = dial(world, state, waiting.slotWait.contact)

    # Then the second contact is dialed once
    assert retried.dialed and retried.slotWait is None
    assert [c.contact_id for c in world.placer.calls] == [first.contactId, second.contactId]


def test_given_longer_waits_then_each_waits_a_second_more_up_to_ten() -> None:
    # Given a run capped at 1 with a call in progress
    world = RunsWorld()
    state = world.started(contacts=2, max_concurrent_calls=1)
    first, second = world.first_page(state)
    dial(world, state, first)

    # When the second contact keeps finding no slot
    waits, contact = [], second
    for _ in range(12):
        outcome = dial(world, state, contact)
        assert outcome.slotWait is not None
        waits.append(outcome.slotWait.seconds)
        contact = outcome.slotWait.contact

    # Then it waits 1, 2, 3 ... 10 s, then 10 s each time
    assert waits == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10]


def test_given_a_call_that_never_ends_when_max_call_seconds_pass_then_its_slot_is_reaped_and_it_counts_unknown() -> (
    None
):
    # Given a run capped at 1 whose only call in progress never gets its final status
    world = RunsWorld()
    state = world.started(contacts=2, max_concurrent_calls=1)
    first, second = world.first_page(state)
    lost = dial(world, state, first)
    assert dial(world, state, second).slotWait is not None

    # When MaxCallSeconds have passed since it was dialed
    world.clock.advance(MAX_CALL_SECONDS * 1000)
    outcome = dial(world, state, second)

    # Then the lost call counts as ended, unknown, and the waiting contact is dialed
    assert outcome.dialed
    [lost_log] = [log for log in world.claims.logs if log.uniqueId == lost.uniqueId]
    assert lost_log.status == "unknown"
    outcomes = world.progress(state.run).outcomes
    assert (outcomes.unknown, outcomes.pending) == (1, 1)


def test_given_a_wait_for_a_slot_then_it_never_lasts_past_the_oldest_calls_expiry() -> None:
    # Given a run capped at 1 whose call in progress expires in 3 s
    world = RunsWorld()
    state = world.started(contacts=2, max_concurrent_calls=1)
    first, second = world.first_page(state)
    dial(world, state, first)
    world.clock.advance((MAX_CALL_SECONDS - 3) * 1000)

    # When the next contact has waited often already (its next wait would be 10 s)
    outcome = dial(world, state, second.model_copy(update={"slotWaits": 9}))

    # Then it waits only until that call counts as ended
    assert outcome.slotWait is not None and outcome.slotWait.seconds == 3


def test_given_a_call_not_placed_then_its_slot_is_given_back_at_once() -> None:
    # Given a run capped at 1 whose first call the provider refuses
    world = RunsWorld()
    state = world.started(contacts=2, max_concurrent_calls=1)
    first, second = world.first_page(state)
    world.placer.fail_next(1, "number unreachable")

    # When both contacts are dialed
    refused = dial(world, state, first)
    placed = dial(world, state, second)

    # Then the refused call (final at once: failed) held no slot past its dial
    assert (refused.outcome, placed.dialed, placed.slotWait) == ("failed", True, None)


def test_given_two_runs_of_a_client_capped_at_two_then_together_they_never_have_more_in_progress() -> None:
    # Given a client capped at 2 calls in progress, and two uncapped runs of it
    world = RunsWorld()
    world.client_limits.put(CLIENT, ClientLimits(maxConcurrentCalls=2))
    one = world.started(contacts=2, campaign_id="cmp_1")
    two = world.started(contacts=2, campaign_id="cmp_2")
    one_contacts, two_contacts = world.first_page(one), world.first_page(two)

    # When each run dials its contacts in turn
    outcomes = [
        dial(world, one, one_contacts[0]),
        dial(world, two, two_contacts[0]),
        dial(world, one, one_contacts[1]),
        dial(world, two, two_contacts[1]),
    ]

    # Then the first two are placed and the others wait for the client's slots
    assert [o.dialed for o in outcomes] == [True, True, False, False]
    assert all(o.slotWait is not None for o in outcomes[2:])
    assert len(world.claims.held(CLIENT)) == 2


def test_given_a_client_rate_of_two_per_second_then_a_third_start_in_that_second_waits_a_second() -> None:
    # Given a client that starts at most 2 calls per second, and a run of 3
    world = RunsWorld()
    world.client_limits.put(CLIENT, ClientLimits(maxCallsPerSecond=2))
    state = world.started(contacts=3)
    contacts = world.first_page(state)

    # When all three are dialed within one second
    outcomes = [dial(world, state, c) for c in contacts]

    # Then the third waits one second, and is dialed in the next
    assert [o.dialed for o in outcomes] == [True, True, False]
    wait = outcomes[2].slotWait
    assert wait is not None and wait.seconds == 1
    world.clock.advance(1000)
    assert dial(world, state, wait.contact).dialed


def test_given_an_execution_that_waited_its_budget_then_the_next_wait_hands_the_run_over_at_that_contact() -> None:
    # Given a run capped at 1 with a call in progress that does not end
    world = RunsWorld()
    state = world.started(contacts=3, max_concurrent_calls=1)
    first, second, _ = world.first_page(state)
    dial(world, state, first)

    # When its execution has waited for slots as often as its history allows
    contact = second
    for _ in range(SLOT_WAITS_PER_EXECUTION):
        outcome = dial(world, state, contact)
        assert outcome.slotWait is not None and not outcome.slotWait.handOver
        contact = outcome.slotWait.contact
    handing_over = dial(world, state, contact)

    # Then the run is handed over to a fresh execution starting at the waiting contact
    assert handing_over.slotWait is not None and handing_over.slotWait.handOver
    point = ResumePoint.model_validate(f"{handing_over.slotWait.contact.seq}:{handing_over.slotWait.contact.index}")
    steps = world.steps()
    arn = steps.continue_as_new(
        state.run,
        state.cursor,
        current_execution_arn=world.current_execution(state.run),
        state_machine_arn=STATE_MACHINE_ARN,
        resume_at=point,
    )
    assert arn is not None
    next_state = RunState.model_validate(world.workflow.started[-1][1])
    assert (next_state.cursor.afterSeq, next_state.cursor.nextIndex) == (second.seq - 1, second.index)
    assert world.first_page(next_state)[0].contactId == second.contactId
    # And the fresh execution's count of waits starts again
    assert dial(world, next_state, world.first_page(next_state)[0]).slotWait.handOver is False  # type: ignore[union-attr]


def test_given_no_caps_then_every_call_still_holds_a_slot_until_it_ends() -> None:
    # Given a run with no cap of its own and a client with none
    world = RunsWorld()
    state = world.started(contacts=3)

    # When its contacts are dialed
    placed = [dial(world, state, c) for c in world.first_page(state)]

    # Then each call in progress is counted, so a cap set later counts them
    assert all(p.dialed for p in placed)
    assert len(world.claims.held(CLIENT)) == 3
    end_call(world, placed[0].uniqueId or "")
    assert len(world.claims.held(CLIENT)) == 2
