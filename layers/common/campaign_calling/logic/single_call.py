"""Placing one call outside a run, through the same dial path as a run's calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from campaign_calling.clock import Clock
from campaign_calling.data.agents import AgentRepository
from campaign_calling.data.call_logs import CallLogRepository
from campaign_calling.data.campaigns import CampaignRepository
from campaign_calling.deadline import Deadline
from campaign_calling.errors import DeadlineExceeded
from campaign_calling.ids import call_unique_id
from campaign_calling.logic.placing import CallPlacer

# Kept back from the function's remaining time to write the call log and answer.
CALL_LOG_RESERVE_SECONDS = 1.5


class SingleCallService:
    def __init__(
        self,
        *,
        agents: AgentRepository,
        campaigns: CampaignRepository,
        call_logs: CallLogRepository,
        placer: CallPlacer,
        clock: Clock,
    ) -> None:
        self._agents = agents
        self._campaigns = campaigns
        self._call_logs = call_logs
        self._placer = placer
        self._clock = clock

    def make_call(
        self,
        client_id: str,
        campaign_id: str,
        contact_id: str,
        agent_id: str,
        *,
        time_left_ms: Callable[[], int] | None = None,
    ) -> dict[str, Any]:
        """Place the call and log it. ``time_left_ms`` is the Lambda context's time left:
        the dial stops in time to log the call, and then DeadlineExceeded says so."""
        deadline = (
            Deadline.from_remaining_ms(time_left_ms, reserve_seconds=CALL_LOG_RESERVE_SECONDS)
            if time_left_ms
            else Deadline.unbounded()
        )
        self._campaigns.get(client_id, campaign_id)
        contact = self._campaigns.get_contact(client_id, campaign_id, contact_id)
        agent = self._agents.get(client_id, agent_id)
        started = self._clock.now_ms()
        unique_id = call_unique_id(started)
        log, deadline_exceeded = self._placer.place(
            client_id=client_id,
            campaign_id=campaign_id,
            contact=contact,
            agent_id=agent.id,
            provider_agent_id=agent.providerAgentId,
            caller_id=agent.callerId,
            unique_id=unique_id,
            started_ms=started,
            idempotency_key=f"manual:{unique_id}",
            run_id=None,
            deadline=deadline,
        )
        self._call_logs.put(client_id, log)
        if deadline_exceeded:
            if log.outcome == "unknown":
                message = (
                    "Timed out waiting for the telephony provider: the call may have been placed (logged as unknown)"
                )
            else:
                message = (
                    "Timed out before the telephony provider accepted the call: it was not placed (logged as failed)"
                )
            raise DeadlineExceeded(message, {"uniqueId": log.uniqueId})
        result: dict[str, Any] = {
            "success": log.outcome == "success",
            "uniqueId": log.uniqueId,
            "contact": {"_id": contact.id, "name": contact.name, "phone": contact.phone},
            "timestamp": log.startedAt,
            "externalResponse": log.externalResponse,
        }
        if log.error:
            result["error"] = log.error
        return result
