"""A campaign's calling status: what the seed's frontend polls every 2 seconds."""

from __future__ import annotations

from campaign_calling.clock import Clock
from campaign_calling.models import CallingStatus
from campaign_calling.runs.ports import RunStore


class CallingStatusService:
    def __init__(self, *, runs: RunStore, clock: Clock) -> None:
        self._runs = runs
        self._clock = clock

    def status(self, client_id: str, campaign_id: str) -> CallingStatus:
        """One DynamoDB query, whatever the campaign's size."""
        total_contacts, run = self._runs.status_snapshot(client_id, campaign_id)
        if run is None or run.expired(self._clock.now_ms()):
            return CallingStatus(campaignId=campaign_id, isRunning=False, totalContacts=total_contacts, progress=None)
        progress = run.progress
        return CallingStatus(
            campaignId=campaign_id,
            isRunning=progress.isRunning,
            totalContacts=progress.totalContacts,
            progress=progress,
        )
