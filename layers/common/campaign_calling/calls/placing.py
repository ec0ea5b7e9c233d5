"""Placing one call and describing it as a call log: shared by make-call and by runs."""

from __future__ import annotations

from typing import NamedTuple, Protocol

from campaign_calling.calls.provider import DialRequest, DialResult
from campaign_calling.calls.providers.dialect import Dialect
from campaign_calling.clock import Clock, iso_from_ms
from campaign_calling.deadline import Deadline
from campaign_calling.models import Account, CallLog, CallOutcome, Contact


class PlacedCall(NamedTuple):
    log: CallLog
    # The deadline ended the dial before the provider's final answer (see DialResult).
    deadline_exceeded: bool


class Dialer(Protocol):
    """The telephony provider as placing sees it (in AWS, calls.provider.DialerClient)."""

    def prepare(self) -> None: ...

    def dial(self, request: DialRequest, deadline: Deadline | None = None) -> DialResult: ...


class CallingAgent(Protocol):
    """What placing needs of an agent (models.Agent, or the run's copy runs.models.RunAgent)."""

    @property
    def providerAgentId(self) -> str: ...

    @property
    def callerId(self) -> str | None: ...

    @property
    def provider(self) -> Dialect: ...

    @property
    def account(self) -> Account: ...

    @property
    def twimlUrl(self) -> str | None: ...

    @property
    def phoneNumberId(self) -> str | None: ...


class CallPlacer:
    def __init__(self, dialer: Dialer, clock: Clock) -> None:
        self._dialer = dialer
        self._clock = clock

    def prepare(self) -> None:
        self._dialer.prepare()

    def place(
        self,
        *,
        client_id: str,
        campaign_id: str,
        contact: Contact,
        agent_id: str,
        agent: CallingAgent,
        unique_id: str,
        started_ms: int,
        idempotency_key: str,
        run_id: str | None,
        deadline: Deadline | None = None,
    ) -> PlacedCall:
        result = self._dialer.dial(
            DialRequest(
                to=contact.phone,
                provider_agent_id=agent.providerAgentId,
                caller_id=agent.callerId,
                idempotency_key=idempotency_key,
                metadata={
                    "uniqueId": unique_id,
                    "campaignId": campaign_id,
                    "contactId": contact.id,
                    "clientId": client_id,
                },
                provider=agent.provider,
                account=agent.account,
                client_id=client_id,
                twiml_url=agent.twimlUrl,
                phone_number_id=agent.phoneNumberId,
                # Only Vapi's assistant greets the contact by name; no other provider gets it.
                customer_name=contact.name if agent.provider == "vapi" else None,
            ),
            deadline,
        )
        log = self.describe(
            result,
            campaign_id=campaign_id,
            contact=contact,
            agent_id=agent_id,
            unique_id=unique_id,
            started_ms=started_ms,
            run_id=run_id,
            provider=agent.provider,
            account=agent.account,
        )
        return PlacedCall(log, result.deadline_exceeded)

    def describe(
        self,
        result: DialResult,
        *,
        campaign_id: str,
        contact: Contact,
        agent_id: str,
        unique_id: str,
        started_ms: int,
        run_id: str | None,
        provider: Dialect,
        account: Account,
    ) -> CallLog:
        outcome: CallOutcome = "success" if result.accepted else ("unknown" if result.outcome_unknown else "failed")
        return new_call_log(
            campaign_id=campaign_id,
            contact=contact,
            agent_id=agent_id,
            unique_id=unique_id,
            started_ms=started_ms,
            ended_ms=self._clock.now_ms(),
            run_id=run_id,
            outcome=outcome,
            error=result.error,
            provider=provider,
            account=account,
        ).model_copy(update={"externalResponse": result.response, "providerCallId": result.provider_call_id})


def new_call_log(
    *,
    campaign_id: str,
    contact: Contact,
    agent_id: str,
    unique_id: str,
    started_ms: int,
    ended_ms: int,
    run_id: str | None,
    outcome: CallOutcome,
    error: str | None,
    provider: Dialect = "generic",
    account: Account = "default",
) -> CallLog:
    """The log of a call as placing left it: ``queued`` when the provider took it (or may
    have: its status webhooks will say), ``failed`` when it was not placed."""
    placed = outcome != "failed"
    return CallLog(
        uniqueId=unique_id,
        campaignId=campaign_id,
        contactId=contact.id,
        contactName=contact.name,
        phone=contact.phone,
        agentId=agent_id,
        runId=run_id,
        source="campaign" if run_id else "manual",
        outcome=outcome,
        error=error,
        startedAt=iso_from_ms(started_ms),
        endedAt=iso_from_ms(ended_ms),
        durationMs=max(0, ended_ms - started_ms),
        provider=provider,
        account=account,
        status="queued" if placed else "failed",
        endedReason=None if placed else f"not placed: {error}" if error else "not placed",
    )
