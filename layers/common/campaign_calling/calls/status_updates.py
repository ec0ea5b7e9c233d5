"""A call's lifecycle from its provider's status webhooks.

A webhook names the provider's call id and nothing of ours we may trust: the call is found
through our own provider call index, whose entry says whose call it is (never a client or
campaign id from the payload), and the request is checked with that call's account's
credentials before anything is written. The call log's status then only moves forward (the
store's write is conditional on the status rank), so replays, duplicates and late events
change nothing; the first final status also moves the run's outcome from pending to that
status, in the same transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Literal, Protocol

from campaign_calling.calls.providers.accounts import CredentialsError
from campaign_calling.calls.providers.dialect import Dialect
from campaign_calling.calls.providers.lifecycle import StatusEvent, rank
from campaign_calling.clock import Clock, iso_from_ms
from campaign_calling.errors import DependencyUnavailable, Unauthorized
from campaign_calling.models import Account, RetryPolicy
from campaign_calling.runs.retries import FollowUp, after_final
from campaign_calling.runs.retry_store import CallOfContact

# -- what the service depends on -------------------------------------------------------------


@dataclass(frozen=True)
class IndexedCall:
    """Whose call a provider call id is, from our own index."""

    provider: Dialect
    client_id: str
    campaign_id: str
    unique_id: str
    run_id: str | None
    account: Account
    # A run's call: which contact and attempt, and the run's retries (None: make-call, or a
    # call indexed before retries existed).
    of_run: CallOfContact | None = None
    retry: RetryPolicy | None = None


@dataclass(frozen=True)
class StatusChange:
    """What one event writes on a call log; None fields are left as they are."""

    status: str
    rank: int
    final: bool
    answered_by: str | None = None
    duration_seconds: int | None = None
    ended_reason: str | None = None
    ended_at: str | None = None


class CallIndex(Protocol):
    def find(self, provider: Dialect, provider_call_id: str) -> IndexedCall | None: ...


class CallStatusStore(Protocol):
    def apply(self, call: IndexedCall, change: StatusChange, *, now_ms: int, follow_up: FollowUp | None = None) -> bool:
        """Write ``change`` on the call's log only if it raises the log's status rank; when it
        is the first final status, move the run's outcome (if the run's progress still
        exists) and write its ``follow_up`` (runs/retries.py) in the same transaction. False
        when nothing was written."""
        ...


class WebhookKeys(Protocol):
    """A provider account's credentials (issue 11's design, section 1 and 4)."""

    def credentials(
        self, provider: Dialect, client_id: str, account: Literal["client", "default"]
    ) -> Mapping[str, str] | None: ...


class OptOuts(Protocol):
    """Lists the number of a call whose person opted out (calls/opt_outs.py)."""

    def opted_out(self, call: IndexedCall) -> None: ...


class CallMetrics(Protocol):
    def call_ended(self, provider: Dialect, status: str) -> None: ...


# -- the service -------------------------------------------------------------------------------


class Recorded(Enum):
    CHANGED = "recorded"
    UNCHANGED = "unchanged"
    UNKNOWN_CALL = "unknown-call"


# A call's final webhook can beat its call log: the provider may end a call it has just taken
# (nobody answers, the number fails) while the dial step is still writing the log and the
# index entry. Such a final status is looked up again a few times before the call is taken
# for unknown; progress events are not (a later one supersedes them).
UNKNOWN_FINAL_RETRY_SECONDS = (0.2, 0.4, 0.8)


class StatusUpdates:
    def __init__(
        self,
        *,
        index: CallIndex,
        store: CallStatusStore,
        keys: WebhookKeys,
        metrics: CallMetrics,
        clock: Clock,
        opt_outs: OptOuts,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._index = index
        self._store = store
        self._keys = keys
        self._metrics = metrics
        self._clock = clock
        self._opt_outs = opt_outs
        self._sleep = sleep

    def record(self, provider: Dialect, event: StatusEvent, signed_by: Callable[[Mapping[str, str]], bool]) -> Recorded:
        """Apply one webhook's event. ``signed_by(credentials)`` says whether the request was
        signed with those credentials. An unknown call writes nothing (the provider is
        answered 200, so it stops retrying); Unauthorized when the call's account did not
        sign it (nothing written either)."""
        call = self._index.find(provider, event.provider_call_id)
        for pause in UNKNOWN_FINAL_RETRY_SECONDS if event.is_final else ():
            if call is not None:
                break
            self._sleep(pause)
            call = self._index.find(provider, event.provider_call_id)
        if call is None:
            return Recorded.UNKNOWN_CALL
        try:
            credentials = self._keys.credentials(provider, call.client_id, call.account)
        except CredentialsError:
            # The account's secret is misconfigured: the provider retries a 503 until it is fixed.
            raise DependencyUnavailable(f"the {provider} account's credentials cannot be read") from None
        if credentials is None or not signed_by(credentials):
            raise Unauthorized("webhook signature is not valid")
        if event.opt_out:
            # Before the log's change, and whether or not that changes anything: a replay of an
            # event whose listing failed lists the number then (listing twice changes nothing).
            self._opt_outs.opted_out(call)
        now_ms = self._clock.now_ms()
        change = change_of(event, now_ms)
        follow_up = None
        if event.is_final and call.of_run is not None:
            # A retry is due its delay after the call ended (the provider's end time if given).
            ended_ms = event.ended_at_ms if event.ended_at_ms is not None else now_ms
            follow_up = after_final(call.retry, event.status, call.of_run.attempt, ended_ms=max(ended_ms, now_ms))
        if not self._store.apply(call, change, now_ms=now_ms, follow_up=follow_up):
            return Recorded.UNCHANGED
        if event.is_final:
            self._metrics.call_ended(provider, event.status)
        return Recorded.CHANGED


def change_of(event: StatusEvent, now_ms: int) -> StatusChange:
    """The log's new fields. A final status ends the call: at the provider's end time, or
    when we learned it."""
    ended_at = None
    if event.is_final:
        ended_at = iso_from_ms(event.ended_at_ms if event.ended_at_ms is not None else now_ms)
    return StatusChange(
        status=event.status,
        rank=rank(event.status),
        final=event.is_final,
        answered_by=event.answered_by,
        duration_seconds=event.duration_seconds,
        ended_reason=event.ended_reason,
        ended_at=ended_at,
    )
