"""Placing one call outside a run, through the same dial path as a run's calls."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from campaign_calling.calls.logs import CallLogRepository
from campaign_calling.calls.placing import CallPlacer
from campaign_calling.catalog.agents import AgentRepository
from campaign_calling.catalog.campaigns import CampaignRepository
from campaign_calling.clock import Clock
from campaign_calling.deadline import Deadline
from campaign_calling.errors import Conflict, DeadlineExceeded, NotFound
from campaign_calling.idempotency import IdempotentRequests
from campaign_calling.ids import call_unique_id
from campaign_calling.runs.claims import DialClaims
from campaign_calling.runs.models import RunRef

# Kept back from the function's remaining time to write the call log and answer.
CALL_LOG_RESERVE_SECONDS = 1.5


class SingleCallService:
    def __init__(
        self,
        *,
        agents: AgentRepository,
        campaigns: CampaignRepository,
        call_logs: CallLogRepository,
        runs: DialClaims,
        placer: CallPlacer,
        clock: Clock,
        idempotency: IdempotentRequests | None = None,
    ) -> None:
        self._agents = agents
        self._campaigns = campaigns
        self._call_logs = call_logs
        self._runs = runs
        self._idempotency = idempotency
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
        idempotency_key: str | None = None,
        lambda_context: Any = None,
    ) -> dict[str, Any]:
        """Place the call and log it, once per ``idempotency_key`` (the client's
        Idempotency-Key): a repeat answers the first call's result, and a repeat of a call
        that timed out (504) answers that again, since the call may have been placed.
        Any other error is not remembered: nothing was placed, so a retry may place it."""
        if idempotency_key is None or self._idempotency is None:
            return self._answer(self._place(client_id, campaign_id, contact_id, agent_id, time_left_ms, None))
        answer = self._idempotency.run(
            lambda: self._place(client_id, campaign_id, contact_id, agent_id, time_left_ms, idempotency_key),
            client_id=client_id,
            key=idempotency_key,
            request={"campaignId": campaign_id, "contactId": contact_id, "agentId": agent_id},
            lambda_context=lambda_context,
        )
        return self._answer(answer)

    @staticmethod
    def _answer(answer: dict[str, Any]) -> dict[str, Any]:
        timed_out = answer.get("timedOut")
        if timed_out:
            raise DeadlineExceeded(timed_out["message"], timed_out["data"])
        call: dict[str, Any] = answer["call"]
        return call

    def _place(
        self,
        client_id: str,
        campaign_id: str,
        contact_id: str,
        agent_id: str,
        time_left_ms: Callable[[], int] | None,
        idempotency_key: str | None,
    ) -> dict[str, Any]:
        """``{"call": ...}``, or ``{"timedOut": ...}`` when the provider may have taken the
        call but did not answer in time; raises for anything that placed nothing."""
        deadline = (
            Deadline.from_remaining_ms(time_left_ms, reserve_seconds=CALL_LOG_RESERVE_SECONDS)
            if time_left_ms
            else Deadline.unbounded()
        )
        campaign = self._campaigns.get(client_id, campaign_id)
        contact = self._campaigns.get_contact(client_id, campaign_id, contact_id)
        if contact.seq > campaign.nextContactSeq:
            raise NotFound("contact")  # written by an add that has not finished (or failed)
        agent = self._agents.get(client_id, agent_id)
        if campaign.isRunning and campaign.currentRunId:
            claim = self._runs.get(RunRef(client_id, campaign_id, campaign.currentRunId), contact.seq)
            if claim is not None and claim.status == "dialing":
                raise Conflict(
                    "the campaign's running run is calling this contact right now; try again after that call"
                )
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
            idempotency_key=provider_key(client_id, campaign_id, contact_id, agent_id, idempotency_key)
            or f"manual:{unique_id}",
            run_id=None,
            deadline=deadline,
        )
        self._call_logs.put(client_id, log)
        if deadline_exceeded:
            if log.outcome == "unknown":
                message = (
                    "Timed out waiting for the telephony provider: the call may have been placed (logged as unknown)"
                )
                # Remembered under the Idempotency-Key: a retry must not place it again.
                return {"timedOut": {"message": message, "data": {"uniqueId": log.uniqueId}}}
            message = "Timed out before the telephony provider accepted the call: it was not placed (logged as failed)"
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
        return {"call": result}


def provider_key(
    client_id: str, campaign_id: str, contact_id: str, agent_id: str, idempotency_key: str | None
) -> str | None:
    """The provider's Idempotency-Key for a request that carries one: derived from the
    client's key and the request, so a retry reaches the provider with the same key even
    after our own record of it has expired, and no client can guess another's."""
    if idempotency_key is None:
        return None
    digest = hashlib.sha256("\n".join((client_id, campaign_id, contact_id, agent_id, idempotency_key)).encode())
    return f"manual:{digest.hexdigest()[:40]}"
