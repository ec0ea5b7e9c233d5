"""A campaign's run history: GET .../runs and GET .../runs/{runId}.

Each run has a history item that outlives its progress item (runs/history_store.py). While
the progress item exists and has not expired, a run's status and counters are read from it,
live (they change with every dial and webhook, after the run ended too); afterwards the
history's own, as they were last copied (at the run's end).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from campaign_calling.clock import Clock
from campaign_calling.errors import NotFound
from campaign_calling.models import RunPage, RunSummary
from campaign_calling.runs.models import RunRef
from campaign_calling.runs.ports import RunStore


class RunHistoryStore(Protocol):
    """The history items (runs/history_store.RunHistoryRepository)."""

    def campaign_exists(self, client_id: str, campaign_id: str) -> bool: ...

    def list(
        self, client_id: str, campaign_id: str, limit: int, token: str | None
    ) -> tuple[list[RunSummary], str | None]: ...

    def get(self, ref: RunRef) -> RunSummary | None: ...


class RunHistoryService:
    def __init__(self, *, history: RunHistoryStore, runs: RunStore, clock: Clock, progress_ttl_seconds: int) -> None:
        self._history = history
        self._runs = runs
        self._clock = clock
        self._ttl_ms = progress_ttl_seconds * 1000

    def list_runs(self, client_id: str, campaign_id: str, limit: int, token: str | None) -> RunPage:
        if not self._history.campaign_exists(client_id, campaign_id):
            raise NotFound("campaign")  # not an empty page
        runs, next_token = self._history.list(client_id, campaign_id, limit, token)
        return RunPage(items=[self._live(client_id, run) for run in runs], nextToken=next_token)

    def get_run(self, client_id: str, campaign_id: str, run_id: str) -> RunSummary:
        ref = RunRef(client_id, campaign_id, run_id)
        run = self._history.get(ref)
        if run is None:
            raise NotFound("run")
        return self._live(client_id, run)

    def _live(self, client_id: str, run: RunSummary) -> RunSummary:
        """The run with its progress item's status and counters while that item lives."""
        if not self._may_be_live(run):
            return run  # its progress has expired: one read saved per old run
        try:
            record = self._runs.get_run(RunRef(client_id, run.campaignId, run.runId))
        except NotFound:
            return run
        if record.expired(self._clock.now_ms()):
            return run
        progress = record.progress
        return run.model_copy(
            update={
                "status": progress.status,
                "isRunning": progress.isRunning,
                "endTime": progress.endTime,
                "reason": progress.reason,
                "totalContacts": progress.totalContacts,
                "currentIndex": progress.currentIndex,
                "completedCalls": progress.completedCalls,
                "successfulCalls": progress.successfulCalls,
                "failedCalls": progress.failedCalls,
                "lastCallTime": progress.lastCallTime,
                "contactsDone": progress.contactsDone,
                "retriesPending": progress.retriesPending,
                "contactsWaiting": progress.contactsWaiting,
                "outcomes": progress.outcomes,
            }
        )

    def _may_be_live(self, run: RunSummary) -> bool:
        if run.status in ("running", "paused") or not run.endTime:
            return True
        return _ms(run.endTime) + self._ttl_ms > self._clock.now_ms()


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
