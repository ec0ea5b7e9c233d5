"""Retries on DynamoDB (moto): a final status writes the contact's retry and counts it
pending in one transaction; the retry's claim takes it once; the page step reads the due
ones, soonest first (runs/retry_store.py, runs/claims.py, calls/status_store.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from campaign_calling.runs.claims import ClaimResult
from campaign_calling.runs.retries import ContactDone, RetryDue
from campaign_calling.runs.retry_store import CallOfContact, DueRetry
from tests.support.stores import NOW, RunStores, a_log, run_stores, unique

DUE = NOW + 60_000


@pytest.fixture
def world(aws: Any) -> Iterator[RunStores]:
    yield run_stores(aws.resolver)


def test_a_final_status_writes_the_retry_and_counts_it_pending_once(world: RunStores) -> None:
    # Given a run's call in progress, logged as attempt 1 of contact 1
    ref = world.start_run()
    assert world.claims.claim(ref, seq=1, index=0, unique_id=unique(ref, 1), now_ms=NOW) == ClaimResult.CLAIMED
    assert world.claims.complete(ref, seq=1, log=a_log(ref, 1), now_ms=NOW, call=CallOfContact(1, 0, "ct_1", 1))

    # When its final status (no-answer) leads to a retry, and arrives twice
    call = CallOfContact(1, 0, "ct_0000000001", 1)
    assert world.end(ref, 1, "no-answer", of_run=call, follow_up=RetryDue(DUE, 2))
    assert not world.end(ref, 1, "no-answer", of_run=call, follow_up=RetryDue(DUE, 2))

    # Then one retry is pending, due when the follow-up said, found by the page step only then
    assert world.runs.get_run(ref).progress.retriesPending == 1
    assert world.retries.due(ref, now_ms=DUE - 1, limit=10) == []
    assert world.retries.due(ref, now_ms=DUE, limit=10) == [DueRetry(1, 0, "ct_0000000001", 2, DUE)]
    assert world.retries.next_due_ms(ref) == DUE


def test_a_retrys_claim_takes_it_once_and_leaves_the_resume_point_alone(world: RunStores) -> None:
    # Given a pending retry of contact 1 (attempt 2), after contact 3 was claimed
    ref = world.start_run()
    for seq in (1, 3):
        world.claims.claim(ref, seq=seq, index=seq - 1, unique_id=unique(ref, seq), now_ms=NOW)
    world.claims.complete(ref, seq=1, log=a_log(ref, 1), now_ms=NOW)
    assert world.end(ref, 1, "busy", of_run=CallOfContact(1, 0, "ct_0000000001", 1), follow_up=RetryDue(DUE, 2))

    # When its attempt is claimed twice
    retry_id = f"aidial-{DUE}-rbcdef"
    first = world.claims.claim(ref, seq=1, index=0, unique_id=retry_id, now_ms=DUE, attempt=2, due_ms=DUE)
    again = world.claims.claim(ref, seq=1, index=0, unique_id=retry_id + "x", now_ms=DUE, attempt=2, due_ms=DUE)

    # Then the first takes it, the second finds it taken; the run's resume point stays at 3
    assert (first, again) == (ClaimResult.CLAIMED, ClaimResult.ALREADY_CLAIMED)
    record = world.runs.get_run(ref)
    assert (record.progress.retriesPending, record.claimed_seq) == (0, 3)
    assert world.retries.next_due_ms(ref) is None
    assert world.claims.get(ref, 1, 2) is not None


def test_a_contact_done_is_counted_with_its_final_status(world: RunStores) -> None:
    # Given a run's call in progress
    ref = world.start_run()
    world.claims.claim(ref, seq=1, index=0, unique_id=unique(ref, 1), now_ms=NOW)
    world.claims.complete(ref, seq=1, log=a_log(ref, 1), now_ms=NOW)

    # When it ends answered, with nothing more to do
    assert world.end(ref, 1, "completed", of_run=CallOfContact(1, 0, "ct_0000000001", 1), follow_up=ContactDone())

    # Then the contact is done, no retry written
    progress = world.runs.get_run(ref).progress
    assert (progress.contactsDone, progress.retriesPending, progress.outcomes.completed) == (1, 0, 1)
    assert world.retries.next_due_ms(ref) is None
