"""Retries (recycling): which ended calls of a run are dialed again, and when.

A contact's attempt ends with its first final status (the status webhook, or the dial
itself when the call was never placed, or ``unknown`` once MaxCallSeconds passed). Then,
in the same transaction that writes that status:

- its status is in the run's ``retryOn`` and it has had fewer than ``maxAttempts``
  attempts: a *retry item* is written beside the run's dial claims, keyed by when it is due
  (the attempt's end + ``retryDelaySeconds``), and the run counts it in ``retriesPending``;
- otherwise the contact is done: ``contactsDone`` counts it. ``unknown`` is never retried
  (the call may have happened).

A run without retries (``maxAttempts`` 1) counts a contact done once its one call is
logged, as before retries existed: nothing waits for its final status.

The page step serves the due retry items first, each as the contact with its attempt
number; the attempt's claim (``DIAL#<seq>#<attempt>``) deletes its retry item in the same
transaction, so a retry is dialed at most once, with its own uniqueId, call log and
idempotency key (``runId:seq:attempt``). A run with retries completes only once it has no
contact left to read, no retry pending and no call of its in progress.
"""

from __future__ import annotations

from dataclasses import dataclass

from campaign_calling.models import RetryPolicy


@dataclass(frozen=True)
class RetryDue:
    """The contact is dialed again at ``due_ms`` (epoch ms), as attempt ``attempt``."""

    due_ms: int
    attempt: int


@dataclass(frozen=True)
class ContactDone:
    """Nothing more to do for the contact."""


FollowUp = RetryDue | ContactDone


def after_final(policy: RetryPolicy | None, status: str, attempt: int, *, ended_ms: int) -> FollowUp | None:
    """What a call's first final status leads to; None when the run has no retries (its
    contacts were counted done when their calls were logged)."""
    if policy is None or not policy.retries:
        return None
    if status in policy.retryOn and attempt < policy.maxAttempts:
        return RetryDue(ended_ms + policy.retryDelaySeconds * 1000, attempt + 1)
    return ContactDone()


def at_log(policy: RetryPolicy | None, status: str | None, attempt: int, *, now_ms: int) -> FollowUp | None:
    """What logging a call leads to: without retries the contact is done; with them, a call
    final already (never placed) is followed up as its status says, one in progress waits
    for its final status."""
    if policy is None or not policy.retries:
        return ContactDone()
    if status is None or status in ("queued", "ringing", "in-progress"):
        return None
    return after_final(policy, status, attempt, ended_ms=now_ms)
