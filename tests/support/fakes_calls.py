"""In-memory stand-ins for what placing a call depends on: the provider (scripted answers),
a run's dial claims and the Idempotency-Key store, and a builder of make-call on them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from campaign_calling.calls.make_call import MakeCallService
from campaign_calling.calls.placing import CallPlacer
from campaign_calling.calls.provider import DialRequest, DialResult
from campaign_calling.calls.slots import CallLimits, HeldSlot, SlotOwner
from campaign_calling.deadline import Deadline
from campaign_calling.errors import Conflict, IdempotencyKeyReused
from campaign_calling.idempotency import KEY_REUSED, STILL_IN_PROGRESS, check_key
from campaign_calling.runs.models import RunRef
from tests.support.clock import FixedClock
from tests.support.fakes_catalog import FakeCatalog, InMemoryClientLimits, InMemoryDoNotCall, InMemoryNumberUses

Answer = TypeVar("Answer")

# -- the provider's answers, as calls.provider.DialerClient reports them ----------------------


def accepted(call_id: str = "call_1") -> DialResult:
    return DialResult(True, 201, {"id": call_id, "status": "queued"}, call_id, None)


def refused(status: int = 400, error: str = "invalid number") -> DialResult:
    return DialResult(False, status, {"error": error}, None, f"provider answered {status}: {error}")


def unreachable() -> DialResult:
    """Every attempt failed to connect: surely not placed."""
    return DialResult(False, None, None, None, "cannot connect to provider: ConnectError", attempts=3)


def unanswered() -> DialResult:
    """Every attempt timed out: the provider may have taken the call."""
    return DialResult(False, None, None, None, "provider timed out: ReadTimeout", outcome_unknown=True, attempts=3)


def unanswered_at_deadline() -> DialResult:
    """The deadline came while the provider may have been taking the call."""
    return DialResult(
        False,
        None,
        None,
        None,
        "provider timed out: ReadTimeout; stopped at the deadline after 1 attempt(s)",
        outcome_unknown=True,
        deadline_exceeded=True,
    )


def not_dialed_at_deadline() -> DialResult:
    """No time was left to ask the provider at all."""
    return DialResult(
        False, None, None, None, "not dialed: no time left before the deadline", attempts=0, deadline_exceeded=True
    )


class ScriptedDialer:
    """The provider as placing sees it: each dial gets the next scripted answer (the last
    one repeats) and, given a clock, takes ``takes_ms``; every request and the deadline it
    was given are kept."""

    def __init__(self, *answers: DialResult, clock: FixedClock | None = None, takes_ms: int = 0) -> None:
        self._answers = list(answers) or [accepted()]
        self._clock = clock
        self._takes_ms = takes_ms
        self.requests: list[DialRequest] = []
        self.deadlines: list[Deadline | None] = []
        self.prepared = 0

    def prepare(self) -> None:
        self.prepared += 1

    def dial(self, request: DialRequest, deadline: Deadline | None = None) -> DialResult:
        self.requests.append(request)
        self.deadlines.append(deadline)
        if self._clock is not None:
            self._clock.advance(self._takes_ms)
        return self._answers[min(len(self.requests), len(self._answers)) - 1]


# -- a run's dial claims ---------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    status: str


class InMemoryDialClaims:
    def __init__(self) -> None:
        self._claims: dict[tuple[str, str, str, int], Claim] = {}

    def get(self, ref: RunRef, seq: int) -> Claim | None:
        return self._claims.get((ref.client_id, ref.campaign_id, ref.run_id, seq))

    def set(self, client_id: str, campaign_id: str, run_id: str, seq: int, status: str) -> None:
        """``dialing`` while the run's call is under way, ``done`` after it."""
        self._claims[client_id, campaign_id, run_id, seq] = Claim(status)


# -- Idempotency-Key records -------------------------------------------------------------------


@dataclass
class _Record:
    request: dict[str, Any]
    answer: Any = None
    done: bool = False


class InMemoryIdempotency:
    """idempotency.IdempotentRequests' promises without DynamoDB: the first request with a
    key does the work and its answer is kept (as JSON, so a repeat gets a copy read back);
    a repeat while it runs is a Conflict; the key with another request is refused; an
    error is not kept. The keys are per client."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], _Record] = {}

    def run(
        self,
        fn: Callable[[], Answer],
        *,
        client_id: str,
        key: str | None,
        request: dict[str, Any],
        lambda_context: Any = None,
        answer_type: type[BaseModel] | None = None,
    ) -> Answer:
        if check_key(key) is None:
            return fn()
        assert key is not None
        record = self._records.get((client_id, key))
        if record is not None:
            if record.request != request:
                raise IdempotencyKeyReused(KEY_REUSED)
            if not record.done:
                raise Conflict(STILL_IN_PROGRESS)
            answer: Any = answer_type.model_validate(record.answer) if answer_type else copy.deepcopy(record.answer)
            return answer
        record = self._records[client_id, key] = _Record(copy.deepcopy(request))
        try:
            result = fn()
        except BaseException:
            del self._records[client_id, key]
            raise
        record.answer = result.model_dump(mode="json") if isinstance(result, BaseModel) else copy.deepcopy(result)
        record.done = True
        return result


class InMemoryCallSlots:
    """A client's calls in progress, like calls/slots.SlotStore: a slot per call under the
    client's cap and rate; given back once."""

    def __init__(self) -> None:
        self.slots: dict[tuple[str, str], HeldSlot] = {}
        self.rate_windows: dict[tuple[str, int], int] = {}

    def take(self, owner: SlotOwner, limits: CallLimits, *, now_ms: int) -> str | None:
        if limits.client_calls is not None and len(self.held(owner.client_id)) >= limits.client_calls:
            return "client"
        window = (owner.client_id, now_ms // 1000)
        if limits.client_calls_per_second is not None:
            if self.rate_windows.get(window, 0) >= limits.client_calls_per_second:
                return "rate"
            self.rate_windows[window] = self.rate_windows.get(window, 0) + 1
        self.slots[(owner.client_id, owner.unique_id)] = HeldSlot(owner, now_ms + limits.max_call_seconds * 1000)
        return None

    def give_back(self, owner: SlotOwner) -> bool:
        return self.slots.pop((owner.client_id, owner.unique_id), None) is not None

    def held(self, client_id: str) -> list[HeldSlot]:
        return [slot for (client, _), slot in self.slots.items() if client == client_id]

    def reap_expired(self, client_id: str, *, now_ms: int) -> bool:
        expired = [slot for slot in self.held(client_id) if slot.release_by_ms <= now_ms]
        return any([self.give_back(slot.owner) for slot in expired])


@dataclass
class FakeCalls:
    """make-call on fakes: the catalog's stores, a scripted provider behind the real
    CallPlacer, a run's claims and the Idempotency-Key store."""

    catalog: FakeCatalog = field(default_factory=FakeCatalog)
    dialer: ScriptedDialer = field(default_factory=ScriptedDialer)
    claims: InMemoryDialClaims = field(default_factory=InMemoryDialClaims)
    idempotency: InMemoryIdempotency = field(default_factory=InMemoryIdempotency)
    slots: InMemoryCallSlots = field(default_factory=InMemoryCallSlots)
    limits: InMemoryClientLimits = field(default_factory=InMemoryClientLimits)
    numbers: InMemoryNumberUses = field(default_factory=InMemoryNumberUses)
    do_not_call: InMemoryDoNotCall = field(default_factory=InMemoryDoNotCall)

    def placer(self) -> CallPlacer:
        return CallPlacer(self.dialer, self.catalog.clock)

    def service(self) -> MakeCallService:
        return MakeCallService(
            agents=self.catalog.agents,
            campaigns=self.catalog.campaigns,
            call_logs=self.catalog.call_logs,
            claims=self.claims,
            placer=self.placer(),
            clock=self.catalog.clock,
            slots=self.slots,
            client_limits=self.limits,
            do_not_call=self.do_not_call,
            numbers=self.numbers,
            idempotency=self.idempotency,
        )
