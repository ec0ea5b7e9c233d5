"""The call lifecycle: events move a call forward only, whatever order they arrive in."""

from __future__ import annotations

import pytest

from campaign_calling.calls.providers.lifecycle import (
    CALL_STATUSES,
    FINAL_STATUSES,
    StatusEvent,
    epoch_ms_from_iso,
    is_final,
    moves_forward,
    rank,
    whole_seconds,
)


def apply(events: list[str]) -> str | None:
    """The status a call ends with after ``events``, each applied only if it moves it forward."""
    status: str | None = None
    for new in events:
        if moves_forward(status, new):
            status = new
    return status


def test_given_the_statuses_when_ranked_then_progress_comes_before_every_final_status() -> None:
    assert [rank(s) for s in ("queued", "ringing", "in-progress")] == [0, 1, 2]
    assert {rank(s) for s in FINAL_STATUSES} == {3}
    assert set(CALL_STATUSES) - FINAL_STATUSES == {"queued", "ringing", "in-progress"}


def test_given_a_completed_call_when_a_late_ringing_arrives_then_it_stays_completed() -> None:
    assert apply(["queued", "ringing", "in-progress", "completed", "ringing"]) == "completed"


def test_given_events_out_of_order_when_applied_then_the_call_ends_where_the_provider_said() -> None:
    assert apply(["completed", "in-progress", "queued", "ringing"]) == "completed"
    assert apply(["ringing", "queued"]) == "ringing"


def test_given_a_final_status_when_another_final_status_arrives_then_the_first_one_stays() -> None:
    # A retried or contradictory webhook never rewrites the outcome already counted.
    assert apply(["in-progress", "voicemail", "completed", "failed"]) == "voicemail"


def test_given_duplicates_when_applied_then_they_change_nothing() -> None:
    assert moves_forward("ringing", "ringing") is False
    assert moves_forward("busy", "busy") is False


def test_given_no_status_yet_when_any_event_arrives_then_it_applies() -> None:
    assert all(moves_forward(None, status) for status in CALL_STATUSES)


def test_given_a_word_that_is_not_a_status_when_ranked_then_it_is_an_error() -> None:
    with pytest.raises(ValueError):
        rank("exploded")


def test_given_an_event_when_asked_then_it_says_whether_it_is_final() -> None:
    assert StatusEvent("c", "no-answer").is_final and not StatusEvent("c", "ringing").is_final
    assert is_final("canceled") and not is_final("in-progress")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-15T10:31:02.000Z", 1_705_314_662_000),
        ("2024-01-15T11:31:02+01:00", 1_705_314_662_000),
        ("2024-01-15T10:31:02", 1_705_314_662_000),
        ("yesterday", None),
        (None, None),
        (1_705_314_662, None),
    ],
)
def test_given_an_iso_time_when_read_then_it_is_epoch_milliseconds(value: object, expected: int | None) -> None:
    assert epoch_ms_from_iso(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(37, 37), (41.6, 42), ("12", 12), ("", None), ("x", None), (True, None), (-3, 0)]
)
def test_given_a_duration_when_read_then_it_is_whole_seconds(value: object, expected: int | None) -> None:
    assert whole_seconds(value) == expected
