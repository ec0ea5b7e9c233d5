"""Placing one call outside a run (make-call), through the same dial path as a run's calls."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel

from campaign_calling.calls.placing import CallPlacer
from campaign_calling.calls.providers.lifecycle import is_final
from campaign_calling.calls.slots import (
    DEFAULT_MAX_CALL_SECONDS,
    LONGEST_SLOT_WAIT_SECONDS,
    CallLimits,
    HeldSlot,
    SlotOwner,
    slot_wait_seconds,
)
from campaign_calling.clock import Clock, iso_from_ms
from campaign_calling.compliance.number_limits import NumberCall, NumberLimits, NumberUse, next_allowed_ms
from campaign_calling.deadline import Deadline
from campaign_calling.errors import Conflict, DeadlineExceeded, NotFound, TooManyCalls
from campaign_calling.ids import call_unique_id
from campaign_calling.models import Agent, CalledContact, CallLog, CallPlaced, Campaign, Contact, DomainModel

if TYPE_CHECKING:
    from campaign_calling.catalog.limits import ClientLimits
from campaign_calling.runs.models import RunRef

# Kept back from the function's remaining time to write the call log and answer.
CALL_LOG_RESERVE_SECONDS = 1.5

Answer = TypeVar("Answer")


# -- what make-call depends on (in AWS: the repositories, the placer, IdempotentRequests) ----


class AgentReader(Protocol):
    def get(self, client_id: str, agent_id: str) -> Agent: ...


class CampaignReader(Protocol):
    def get(self, client_id: str, campaign_id: str, *, consistent: bool = False) -> Campaign: ...

    def get_contact(
        self, client_id: str, campaign_id: str, contact_id: str, *, consistent: bool = False
    ) -> Contact: ...


class CallLogWriter(Protocol):
    def put(self, client_id: str, log: CallLog) -> None: ...


class ClaimState(Protocol):
    @property
    def status(self) -> str: ...  # "dialing" while the run's call is under way


class DialClaimReader(Protocol):
    def get(self, ref: RunRef, seq: int) -> ClaimState | None: ...


class CallSlots(Protocol):
    """The calls in progress (calls/slots.SlotStore): a manual call holds a slot too."""

    def take(self, owner: SlotOwner, limits: CallLimits, *, now_ms: int) -> str | None: ...

    def give_back(self, owner: SlotOwner) -> bool: ...

    def held(self, client_id: str) -> list[HeldSlot]: ...

    def reap_expired(self, client_id: str, *, now_ms: int) -> bool: ...


class ClientLimitsReader(Protocol):
    def get(self, client_id: str) -> ClientLimits: ...


class DoNotCallReader(Protocol):
    def is_listed(self, client_id: str, phone: str) -> bool: ...


class NumberUses(Protocol):
    """When the client called a number (compliance/number_limits.NumberUseStore)."""

    def number_use(self, client_id: str, phone: str) -> NumberUse: ...

    def record(self, call: NumberCall) -> bool: ...


class Idempotency(Protocol):
    def run(
        self,
        fn: Callable[[], Answer],
        *,
        client_id: str,
        key: str | None,
        request: dict[str, Any],
        lambda_context: Any = None,
        answer_type: type[BaseModel] | None = None,
    ) -> Answer: ...


# -- what an Idempotency-Key answers again ---------------------------------------------------


class TimedOut(DomainModel):
    message: str
    data: dict[str, str]


class Attempt(DomainModel):
    """The outcome a key remembers: the call, or the 504 of a call that may have been
    placed (the same JSON as records written before this model existed)."""

    call: CallPlaced | None = None
    timedOut: TimedOut | None = None


class MakeCallService:
    def __init__(
        self,
        *,
        agents: AgentReader,
        campaigns: CampaignReader,
        call_logs: CallLogWriter,
        claims: DialClaimReader,
        placer: CallPlacer,
        clock: Clock,
        slots: CallSlots,
        client_limits: ClientLimitsReader,
        do_not_call: DoNotCallReader,
        numbers: NumberUses,
        max_call_seconds: int = DEFAULT_MAX_CALL_SECONDS,
        idempotency: Idempotency | None = None,
    ) -> None:
        self._numbers = numbers
        self._slots = slots
        self._client_limits = client_limits
        self._do_not_call = do_not_call
        self._max_call_seconds = max_call_seconds
        self._agents = agents
        self._campaigns = campaigns
        self._call_logs = call_logs
        self._claims = claims
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
    ) -> CallPlaced:
        """Place the call and log it, once per ``idempotency_key`` (the client's
        Idempotency-Key): a repeat answers the first call's result, and a repeat of a call
        that timed out (504) answers that again, since the call may have been placed.
        Any other error is not remembered: nothing was placed, so a retry may place it."""
        if idempotency_key is None or self._idempotency is None:
            return self._answer(self._place(client_id, campaign_id, contact_id, agent_id, time_left_ms, None))
        attempt = self._idempotency.run(
            lambda: self._place(client_id, campaign_id, contact_id, agent_id, time_left_ms, idempotency_key),
            client_id=client_id,
            key=idempotency_key,
            request={"campaignId": campaign_id, "contactId": contact_id, "agentId": agent_id},
            lambda_context=lambda_context,
            answer_type=Attempt,
        )
        return self._answer(attempt)

    @staticmethod
    def _answer(attempt: Attempt) -> CallPlaced:
        if attempt.timedOut:
            raise DeadlineExceeded(attempt.timedOut.message, attempt.timedOut.data)
        if attempt.call is None:
            raise ValueError("a remembered make-call answer holds neither a call nor a timeout")
        return attempt.call

    def _place(
        self,
        client_id: str,
        campaign_id: str,
        contact_id: str,
        agent_id: str,
        time_left_ms: Callable[[], int] | None,
        idempotency_key: str | None,
    ) -> Attempt:
        """The call, or the timeout of a call the provider may have taken without answering
        in time; raises for anything that placed nothing."""
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
        if self._do_not_call.is_listed(client_id, contact.phone):
            # Nothing placed, nothing logged; the message never quotes the number.
            raise Conflict("this contact's number is on the do-not-call list; it is not called")
        if campaign.isRunning and campaign.currentRunId:
            claim = self._claims.get(RunRef(client_id, campaign_id, campaign.currentRunId), contact.seq)
            if claim is not None and claim.status == "dialing":
                raise Conflict(
                    "the campaign's running run is calling this contact right now; try again after that call"
                )
        started = self._clock.now_ms()
        number = self._number_call(client_id, contact.phone, started)
        unique_id = call_unique_id(started)
        slot = self._take_slot(SlotOwner(client_id, unique_id, campaign_id), started)
        if number is not None and not self._numbers.record(number):
            self._slots.give_back(slot)
            raise Conflict("this contact's number is being called right now; try again in a moment")
        try:
            log, deadline_exceeded = self._placer.place(
                client_id=client_id,
                campaign_id=campaign_id,
                contact=contact,
                agent_id=agent.id,
                agent=agent,
                unique_id=unique_id,
                started_ms=started,
                idempotency_key=provider_key(client_id, campaign_id, contact_id, agent_id, idempotency_key)
                or f"manual:{unique_id}",
                run_id=None,
                deadline=deadline,
            )
        except Exception:
            self._slots.give_back(slot)  # nothing was placed
            raise
        self._call_logs.put(client_id, log)
        if log.status is not None and is_final(log.status):
            self._slots.give_back(slot)  # not placed: no call in progress
        if deadline_exceeded:
            if log.outcome == "unknown":
                message = (
                    "Timed out waiting for the telephony provider: the call may have been placed (logged as unknown)"
                )
                # Remembered under the Idempotency-Key: a retry must not place it again.
                return Attempt(timedOut=TimedOut(message=message, data={"uniqueId": log.uniqueId}))
            message = "Timed out before the telephony provider accepted the call: it was not placed (logged as failed)"
            raise DeadlineExceeded(message, {"uniqueId": log.uniqueId})
        call = CallPlaced(
            success=log.outcome == "success",
            uniqueId=log.uniqueId,
            contact=CalledContact(id=contact.id, name=contact.name, phone=contact.phone),
            timestamp=log.startedAt,
            externalResponse=log.externalResponse,
            error=log.error,
        )
        return Attempt(call=call)

    def _number_call(self, client_id: str, phone: str, now_ms: int) -> NumberCall | None:
        """The call to record against the client's per-number limits (None: no limit set);
        409 when it would break them, saying from when the number may be called."""
        limits = NumberLimits.of(self._client_limits.get(client_id))
        if not limits.active:
            return None
        use = self._numbers.number_use(client_id, phone)
        allowed = next_allowed_ms(use, limits, now_ms)
        if allowed > now_ms:
            # The message never quotes the number.
            raise Conflict(
                "this contact's number was called too recently for your per-number limits "
                f"(minMinutesBetweenCallsToNumber, maxCallsPerNumberPerDay); it may be called from {iso_from_ms(allowed)}"
            )
        return NumberCall(client_id, phone, use, now_ms)

    def _take_slot(self, owner: SlotOwner, now_ms: int) -> SlotOwner:
        """The call's slot among the client's calls in progress (calls/slots.py); when its
        cap or its rate is full, nothing is placed: 429, with when to try again."""
        client = self._client_limits.get(owner.client_id)
        limits = CallLimits(None, client.maxConcurrentCalls, client.maxCallsPerSecond, self._max_call_seconds)
        refusal = self._slots.take(owner, limits, now_ms=now_ms)
        if refusal == "client" and self._slots.reap_expired(owner.client_id, now_ms=now_ms):
            refusal = self._slots.take(owner, limits, now_ms=now_ms)
        if refusal is None:
            return owner
        if refusal == "rate":
            raise TooManyCalls(f"this client starts at most {client.maxCallsPerSecond} calls per second", 1)
        held = self._slots.held(owner.client_id)
        wait = slot_wait_seconds(
            LONGEST_SLOT_WAIT_SECONDS,
            now_ms=now_ms,
            next_release_by_ms=min((s.release_by_ms for s in held), default=None),
            refusal=refusal,
        )
        raise TooManyCalls(
            f"this client has {client.maxConcurrentCalls} calls in progress, its cap (PUT /api/v1/client/settings)",
            wait,
        )


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
