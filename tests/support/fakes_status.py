"""In-memory stand-ins for what status webhooks depend on (calls/status_updates.py): the
provider call index, the conditional status update over the fakes' call logs and runs'
progress, the accounts' credentials and the metrics. They keep the rules the DynamoDB
store enforces with conditions (only a higher status rank is written; the first final
status moves the run's outcome, unless its progress is gone or expired); tests/unit proves
the real conditions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from campaign_calling.calls.providers.dialect import Dialect
from campaign_calling.calls.providers.lifecycle import rank
from campaign_calling.calls.status_updates import IndexedCall, StatusChange
from campaign_calling.models import CallLog, RetryPolicy
from campaign_calling.runs.models import RunRef
from campaign_calling.runs.retries import FollowUp
from campaign_calling.runs.retry_store import CallOfContact


class InMemoryCallIndex:
    """Provider call id -> whose call it is; an id indexed once keeps its first entry."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], IndexedCall] = {}

    def add(
        self, client_id: str, log: CallLog, of_run: CallOfContact | None = None, retry: RetryPolicy | None = None
    ) -> None:
        if not log.providerCallId:
            return
        key = (log.provider, log.providerCallId)
        self.entries.setdefault(
            key,
            IndexedCall(
                provider=log.provider,
                client_id=client_id,
                campaign_id=log.campaignId,
                unique_id=log.uniqueId,
                run_id=log.runId,
                account=log.account,
                of_run=of_run,
                retry=retry,
            ),
        )

    def find(self, provider: Dialect, provider_call_id: str) -> IndexedCall | None:
        return self.entries.get((provider, provider_call_id))


class LogBook(Protocol):
    """Where a fake keeps call logs (FakeClaims for runs, InMemoryCallLogs for make-call)."""

    def stored_log(self, client_id: str, campaign_id: str, unique_id: str) -> CallLog | None: ...

    def replace_log(self, client_id: str, log: CallLog) -> None: ...


class ProgressBook(Protocol):
    """FakeRunStore as the status store sees it."""

    def live_progress(self, ref: RunRef, now_ms: int) -> bool: ...

    def move_outcome(self, ref: RunRef, from_outcome: str, to_outcome: str) -> None: ...

    def snapshot_history(self, ref: RunRef, *, ended_only: bool = False) -> None: ...


class FollowUpBook(Protocol):
    """FakeClaims as the status store sees it: a call's slot and its follow-up."""

    def release(self, client_id: str, unique_id: str) -> bool: ...

    def follow(self, ref: RunRef, call: CallOfContact, follow_up: FollowUp | None) -> None: ...


class InMemoryStatusStore:
    def __init__(
        self, *books: LogBook, runs: ProgressBook | None = None, follow_ups: FollowUpBook | None = None
    ) -> None:
        self._books = books
        self._runs = runs
        self._follow_ups = follow_ups
        self.writes = 0

    def apply(self, call: IndexedCall, change: StatusChange, *, now_ms: int, follow_up: FollowUp | None = None) -> bool:
        for book in self._books:
            log = book.stored_log(call.client_id, call.campaign_id, call.unique_id)
            if log is None:
                continue
            if log.status is not None and rank(log.status) >= change.rank:
                return False
            fields = {
                "status": change.status,
                "answeredBy": change.answered_by,
                "durationSeconds": change.duration_seconds,
                "endedReason": change.ended_reason,
                "endedAt": change.ended_at,
            }
            book.replace_log(call.client_id, log.model_copy(update={k: v for k, v in fields.items() if v is not None}))
            self.writes += 1
            if change.final and self._follow_ups is not None:
                self._follow_ups.release(call.client_id, call.unique_id)
            if change.final and call.run_id is not None and self._runs is not None:
                ref = RunRef(call.client_id, call.campaign_id, call.run_id)
                if self._runs.live_progress(ref, now_ms):
                    self._runs.move_outcome(ref, "pending", change.status)
                    self._runs.snapshot_history(ref, ended_only=True)  # as calls/status_store.py
                    if self._follow_ups is not None and call.of_run is not None:
                        self._follow_ups.follow(ref, call.of_run, follow_up)
            return True
        return False


class FakeWebhookKeys:
    """Credentials per (provider, client, account); the default account is any client's."""

    def __init__(self) -> None:
        self.default: dict[str, Mapping[str, str]] = {}
        self.clients: dict[tuple[str, str], Mapping[str, str]] = {}
        self.asked: list[tuple[str, str, str]] = []

    def credentials(self, provider: Dialect, client_id: str, account: str) -> Mapping[str, str] | None:
        self.asked.append((provider, client_id, account))
        if account == "default":
            return self.default.get(provider)
        return self.clients.get((provider, client_id))


class RecordingMetrics:
    def __init__(self) -> None:
        self.ended: list[tuple[str, str]] = []

    def call_ended(self, provider: Dialect, status: str) -> None:
        self.ended.append((provider, status))


class LoggedPhones:
    """The numbers of calls as their logs hold them (CallLogPhones' promise), over the logs
    ``logs()`` returns (a run's claims, a make-call log book)."""

    def __init__(self, logs: Callable[[], list[CallLog]]) -> None:
        self._logs = logs

    def phone_of(self, client_id: str, campaign_id: str, unique_id: str) -> str | None:
        found = [log for log in self._logs() if log.uniqueId == unique_id and log.campaignId == campaign_id]
        return found[0].phone or None if found else None
