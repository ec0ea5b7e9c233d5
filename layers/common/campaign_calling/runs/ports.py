"""What the runs services need from the outside, and nothing more: DynamoDB, Step Functions
and the provider behind small interfaces, so that the domain tests run on in-memory fakes
(tests/support/) and the services never see boto3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from campaign_calling.aws.stepfunctions import ExecutionEnd
    from campaign_calling.calls.placing import CallingAgent, PlacedCall
    from campaign_calling.calls.slots import CallLimits, HeldSlot
    from campaign_calling.compliance.number_limits import NumberCall, NumberUse
    from campaign_calling.deadline import Deadline
    from campaign_calling.models import (
        Agent,
        CallingWindow,
        CallLog,
        Campaign,
        Contact,
        Progress,
        RetryPolicy,
        RunStatus,
    )
    from campaign_calling.runs.claims import Deferral, DialClaim
    from campaign_calling.runs.models import RunRef
    from campaign_calling.runs.repository import RunRecord
    from campaign_calling.runs.retries import FollowUp
    from campaign_calling.runs.retry_store import CallOfContact, DueRetry


class RunStore(Protocol):
    """The runs' progress items (runs/repository.py). It stamps its own times and TTL."""

    def status_snapshot(self, client_id: str, campaign_id: str) -> tuple[int, RunRecord | None]: ...

    def get_run(self, ref: RunRef) -> RunRecord: ...

    def running_runs(self) -> Iterator[RunRef]: ...

    def start_run(
        self, ref: RunRef, progress: Progress, *, last_seq: int, agent_id: str, execution_arn: str
    ) -> None: ...

    def set_execution(self, ref: RunRef, execution_arn: str, *, replaces: str | None) -> bool: ...

    def end_run(
        self,
        ref: RunRef,
        *,
        status: RunStatus,
        reason: str | None = None,
        final_index: int | None = None,
        execution_arn: str | None = None,
        from_statuses: tuple[RunStatus, ...] = ("running",),
    ) -> bool: ...

    def extend_run(self, ref: RunRef, *, last_seq: int, total_contacts: int) -> None: ...

    def count_slot_wait(self, ref: RunRef) -> int: ...

    def set_waiting_until(self, ref: RunRef, until: str | None) -> None: ...

    def resume_run(
        self,
        ref: RunRef,
        *,
        execution_arn: str,
        execution_count: int,
        last_seq: int,
        total_contacts: int,
        from_statuses: tuple[RunStatus, ...],
    ) -> None: ...


class ClaimStore(Protocol):
    """The dial claims, with the call logs and counters they settle (runs/claims.py)."""

    def get(self, ref: RunRef, seq: int, attempt: int = 1) -> DialClaim | None: ...

    def claim(
        self,
        ref: RunRef,
        *,
        seq: int,
        index: int,
        unique_id: str,
        now_ms: int,
        limits: CallLimits | None = None,
        attempt: int = 1,
        due_ms: int | None = None,
        done_at_final: bool = False,
        number: NumberCall | None = None,
    ) -> str: ...

    def defer(self, ref: RunRef, deferrals: list[Deferral]) -> str: ...

    def complete(
        self,
        ref: RunRef,
        *,
        seq: int,
        log: CallLog,
        now_ms: int,
        provider_failure: bool = True,
        release_slot: bool = False,
        call: CallOfContact | None = None,
        follow_up: FollowUp | None = None,
        retry: RetryPolicy | None = None,
    ) -> bool: ...


class Deferrer(Protocol):
    """Puts contacts off until they may be called (runs/claims.DialClaims.defer)."""

    def defer(self, ref: RunRef, deferrals: list[Deferral]) -> str: ...


class SlotKeeper(Protocol):
    """The calls in progress (calls/slots.SlotStore)."""

    def held(self, client_id: str) -> list[HeldSlot]: ...

    def reap_expired(self, client_id: str, *, now_ms: int) -> bool: ...


class RetryReader(Protocol):
    """A run's retry items (runs/retry_store.RetryQueue)."""

    def due(self, ref: RunRef, *, now_ms: int, limit: int) -> list[DueRetry]: ...

    def next_due_ms(self, ref: RunRef) -> int | None: ...


class ClientLimits(Protocol):
    @property
    def maxConcurrentCalls(self) -> int | None: ...

    @property
    def maxCallsPerSecond(self) -> int | None: ...

    @property
    def callingWindow(self) -> CallingWindow | None: ...

    @property
    def minMinutesBetweenCallsToNumber(self) -> int | None: ...

    @property
    def maxCallsPerNumberPerDay(self) -> int | None: ...


class ClientLimitsReader(Protocol):
    """A client's own caps on its calls (its settings)."""

    def get(self, client_id: str) -> ClientLimits: ...


class NumberUses(Protocol):
    """When the client last called a number (compliance/number_limits.NumberUseStore)."""

    def number_use(self, client_id: str, phone: str) -> NumberUse: ...


class DoNotCallReader(Protocol):
    """The client's do-not-call list (catalog/dnc.py)."""

    def is_listed(self, client_id: str, phone: str) -> bool: ...


class CampaignReader(Protocol):
    def get(self, client_id: str, campaign_id: str, *, consistent: bool = False) -> Campaign: ...

    def get_contact(
        self, client_id: str, campaign_id: str, contact_id: str, *, consistent: bool = False
    ) -> Contact: ...

    def contacts_after(
        self, client_id: str, campaign_id: str, *, after_seq: int, last_seq: int, limit: int
    ) -> list[Contact]: ...


class AgentReader(Protocol):
    def get(self, client_id: str, agent_id: str) -> Agent: ...


class Workflow(Protocol):
    """Starting and stopping a run's executions (aws/stepfunctions.WorkflowEngine)."""

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str: ...

    def stop(self, arn: str, cause: str) -> bool: ...


class Executions(Protocol):
    """How an execution stands (aws/stepfunctions.ExecutionStatuses)."""

    def status(self, execution_arn: str) -> str | None: ...

    def describe(self, execution_arn: str) -> ExecutionEnd | None: ...


class Placer(Protocol):
    """Places one call with the provider (calls/placing.CallPlacer)."""

    def prepare(self) -> None: ...

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
    ) -> PlacedCall: ...
