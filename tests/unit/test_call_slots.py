"""Calls in progress on DynamoDB (moto): the slot taken with a dial's claim under the run's
and the client's caps and the client's rate, given back with the call's first final status
(or at once when it was never placed), and reaped after MaxCallSeconds (calls/slots.py,
runs/claims.py, calls/status_store.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from campaign_calling.calls.slots import CallLimits
from campaign_calling.runs.claims import ClaimResult
from tests.support.stores import CLIENT, MAX_CALL_SECONDS, NOW, RunStores, run_stores, unique


@pytest.fixture
def world(aws: Any) -> Iterator[RunStores]:
    yield run_stores(aws.resolver)


def test_a_runs_cap_refuses_the_claim_that_would_exceed_it_and_writes_nothing(world: RunStores) -> None:
    # Given a run capped at 2 calls in progress, with 2 claimed
    ref = world.start_run()
    capped = CallLimits(run_calls=2, max_call_seconds=MAX_CALL_SECONDS)
    assert world.claim(ref, 1, capped) == world.claim(ref, 2, capped) == ClaimResult.CLAIMED

    # When a third contact is claimed
    refused = world.claim(ref, 3, capped)

    # Then it is refused for the run's cap, with no claim and no slot written
    assert refused == ClaimResult.NO_SLOT_RUN
    assert world.claims.get(ref, 3) is None
    assert world.held() == {unique(ref, 1), unique(ref, 2)}
    assert world.runs.get_run(ref).claimed_seq == 2


def test_a_final_status_gives_the_slot_back_once(world: RunStores) -> None:
    # Given a run capped at 1 whose call is in progress
    ref = world.start_run()
    capped = CallLimits(run_calls=1, max_call_seconds=MAX_CALL_SECONDS)
    assert world.claim(ref, 1, capped) == ClaimResult.CLAIMED
    world.complete(ref, 1)
    assert world.claim(ref, 2, capped) == ClaimResult.NO_SLOT_RUN

    # When its final status arrives (twice)
    assert world.end(ref, 1)
    assert not world.end(ref, 1)

    # Then its slot is free once: one more call may start, not two
    assert world.held() == set()
    assert world.claim(ref, 2, capped) == ClaimResult.CLAIMED
    assert world.claim(ref, 3, capped) == ClaimResult.NO_SLOT_RUN


def test_a_call_never_placed_gives_its_slot_back_with_its_log(world: RunStores) -> None:
    # Given a run capped at 1
    ref = world.start_run()
    capped = CallLimits(run_calls=1, max_call_seconds=MAX_CALL_SECONDS)
    assert world.claim(ref, 1, capped) == ClaimResult.CLAIMED

    # When the provider refuses the call
    world.complete(ref, 1, placed=False)

    # Then the slot is free at once
    assert world.held() == set()
    assert world.claim(ref, 2, capped) == ClaimResult.CLAIMED


def test_the_clients_cap_counts_every_run_of_the_client(world: RunStores) -> None:
    # Given a client capped at 2 and two runs of it with no caps of their own
    one, two = world.start_run("cmp_1"), world.start_run("cmp_2")
    client = CallLimits(client_calls=2, max_call_seconds=MAX_CALL_SECONDS)

    # When each run claims two contacts
    results = [world.claim(one, 1, client), world.claim(two, 1, client), world.claim(one, 2, client)]
    results.append(world.claim(two, 2, client))

    # Then only two calls are in progress together
    assert results == [ClaimResult.CLAIMED, ClaimResult.CLAIMED, ClaimResult.NO_SLOT_CLIENT, ClaimResult.NO_SLOT_CLIENT]
    assert len(world.held()) == 2


def test_the_clients_rate_counts_call_starts_per_second(world: RunStores) -> None:
    # Given a client that starts at most 2 calls per second
    ref = world.start_run()
    rate = CallLimits(client_calls_per_second=2, max_call_seconds=MAX_CALL_SECONDS)

    # When three calls start in one second, and a fourth in the next
    within = [world.claim(ref, seq, rate, now_ms=NOW + seq) for seq in (1, 2, 3)]
    next_second = world.claim(ref, 3, rate, now_ms=NOW + 1000)

    # Then the third waits for the next second
    assert within == [ClaimResult.CLAIMED, ClaimResult.CLAIMED, ClaimResult.NO_SLOT_RATE]
    assert next_second == ClaimResult.CLAIMED


def test_an_expired_slot_is_reaped_its_call_counts_unknown_and_a_late_status_changes_nothing(world: RunStores) -> None:
    # Given a run capped at 1 whose call never gets its final status
    ref = world.start_run()
    capped = CallLimits(run_calls=1, max_call_seconds=MAX_CALL_SECONDS)
    assert world.claim(ref, 1, capped) == ClaimResult.CLAIMED
    world.complete(ref, 1)
    (slot,) = world.slots.held(CLIENT)

    # When it is reaped before MaxCallSeconds, then after
    too_soon = world.slots.reap(slot, now_ms=NOW + MAX_CALL_SECONDS * 1000 - 1)
    reaped = world.slots.reap(slot, now_ms=NOW + MAX_CALL_SECONDS * 1000)

    # Then only the second releases it: the call is unknown, the run's outcome moved once
    assert (too_soon, reaped) == (False, True)
    assert world.held() == set()
    assert world.log_status(ref, 1) == "unknown"
    outcomes = world.runs.get_run(ref).progress.outcomes
    assert (outcomes.pending, outcomes.unknown) == (0, 1)
    assert not world.slots.reap(slot, now_ms=NOW + MAX_CALL_SECONDS * 1000)
    # And its final status, arriving late, moves nothing
    assert not world.end(ref, 1)
    assert world.log_status(ref, 1) == "unknown"
    assert world.claim(ref, 2, capped) == ClaimResult.CLAIMED


def test_a_slot_whose_dial_never_logged_is_reaped_all_the_same(world: RunStores) -> None:
    # Given a claimed dial whose step died before it logged the call
    ref = world.start_run()
    capped = CallLimits(run_calls=1, max_call_seconds=MAX_CALL_SECONDS)
    assert world.claim(ref, 1, capped) == ClaimResult.CLAIMED
    (slot,) = world.slots.held(CLIENT)

    # When MaxCallSeconds have passed
    assert world.slots.reap(slot, now_ms=NOW + MAX_CALL_SECONDS * 1000)

    # Then the slot is free though there was no log to mark
    assert world.claim(ref, 2, capped) == ClaimResult.CLAIMED
