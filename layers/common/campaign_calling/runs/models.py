"""What the state machine carries between steps: small, and never the contact list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, computed_field, model_validator

from campaign_calling.calls.providers.dialect import Dialect
from campaign_calling.compliance.windows import contact_opening_ms
from campaign_calling.models import Account, Agent, CallingWindow, Contact, DomainModel, RetryPolicy


@dataclass(frozen=True)
class RunRef:
    """Which run: what every store call about one run takes, instead of three ids."""

    client_id: str
    campaign_id: str
    run_id: str


class RunAgent(DomainModel):
    """The agent as the run calls with it (executions started before providers existed carry
    only the first three fields: generic, default account)."""

    agentId: str
    providerAgentId: str
    callerId: str | None = None
    provider: Dialect = "generic"
    account: Account = "default"
    twimlUrl: str | None = None
    phoneNumberId: str | None = None

    @classmethod
    def of(cls, agent: Agent) -> RunAgent:
        return cls(
            agentId=agent.id,
            providerAgentId=agent.providerAgentId,
            callerId=agent.callerId,
            provider=agent.provider,
            account=agent.account,
            twimlUrl=agent.twimlUrl,
            phoneNumberId=agent.phoneNumberId,
        )


class RunContext(DomainModel):
    """Fixed for the whole run, copied into every execution of it."""

    clientId: str
    campaignId: str
    runId: str
    delayMs: int = Field(ge=0)
    # The most calls of the run in progress at once (None: no cap of the run's own).
    maxConcurrentCalls: int | None = Field(None, ge=1)
    # Which ended calls are dialed again (runs/retries.py); None: each contact once.
    retry: RetryPolicy | None = None
    # When its contacts may be called, in their local time (compliance/windows.py); None: any time.
    callingWindow: CallingWindow | None = None
    # The zone of contacts whose own and whose number's are unknown (compliance/zones.py).
    campaignTimezone: str | None = None
    lastSeq: int = Field(ge=0, description="Contacts with a higher sequence were added after the start")
    totalContacts: int = Field(ge=0)
    agent: RunAgent

    @property
    def ref(self) -> RunRef:
        return RunRef(self.clientId, self.campaignId, self.runId)

    def may_call_from_ms(self, contact: Contact, now_ms: int) -> int | None:
        """When the run may call ``contact`` under its calling window: ``now_ms`` when it may
        now (or the run has no window), None when never (compliance/windows.py)."""
        if self.callingWindow is None:
            return now_ms
        return contact_opening_ms(
            self.callingWindow,
            contact.phone,
            contact_timezone=contact.timezone,
            campaign_timezone=self.campaignTimezone,
            now_ms=now_ms,
        )


class Cursor(DomainModel):
    afterSeq: int = 0
    nextIndex: int = 0
    pagesInExecution: int = 0
    # Contacts handed to dial steps by this execution (its history budget, see execution_budget).
    contactsInExecution: int = 0
    execution: int = 1
    # Waits for a due retry or a call in progress by this execution (its history budget).
    retryWaitsInExecution: int = 0


class ResumePoint(DomainModel):
    """Where a hand-over goes on from: a contact not dialed yet, by sequence, position and
    attempt, and whether it came from the run's queue (a retry, or a contact that waited for
    its calling window). Step Functions gives it as the text "seq:index:attempt[:queued]" (a
    Fail state's cause; "seq:index" from executions started before retries)."""

    seq: int = Field(ge=1)
    index: int = Field(ge=0)
    attempt: int = Field(1, ge=1)
    queued: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_cause(cls, data: Any) -> Any:
        if isinstance(data, str):
            parts = data.split(":")
            if len(parts) not in (2, 3, 4) or (len(parts) == 4 and parts[3] != "queued"):
                raise ValueError("a resume point is 'seq:index:attempt[:queued]'")
            return {**dict(zip(("seq", "index", "attempt"), parts, strict=False)), "queued": len(parts) == 4}
        return data

    def as_cause(self) -> str:
        return f"{self.seq}:{self.index}:{self.attempt}" + (":queued" if self.queued else "")

    def cursor(self, cursor: Cursor) -> Cursor:
        """``cursor`` moved back to just before this contact (sequences are whole numbers).
        A page from the queue held queued contacts only, which stay queued until claimed:
        the cursor, at the new contacts, stays where it is."""
        if self.attempt > 1 or self.queued:
            return cursor
        return cursor.model_copy(update={"afterSeq": self.seq - 1, "nextIndex": self.index})


class PageContact(DomainModel):
    """Which contact to call, never who: Step Functions keeps every state in the execution's
    history for 90 days, so the dial step reads the name and number from DynamoDB. (Fields
    it does not know are ignored: executions started before this change carry them.)"""

    seq: int
    index: int
    contactId: str
    waitSeconds: int = Field(ge=0, description="Whole seconds the Wait state sleeps before this dial")
    # How many times this contact's dial has waited for a call slot in this execution.
    slotWaits: int = Field(0, ge=0)
    # Its attempt in the run (1: the first call; more: a retry). dueMs: served from the run's
    # queue (runs/retry_store.py), where it was due then: a retry, or a deferred contact.
    attempt: int = Field(1, ge=1)
    dueMs: int | None = None


class Page(DomainModel):
    contacts: list[PageContact]
    running: bool
    hasMore: bool
    continueAsNew: bool
    # Nothing to dial now, but a retry is pending or a call of the run is in progress (a run
    # with retries): wait until ``waitUntil`` (RFC 3339, whole seconds) and load again.
    # Always present, so the Choice reads it without testing for a missing path.
    wait: bool = False
    waitUntil: str | None = None


class RunState(DomainModel):
    """The state machine's state between pages."""

    run: RunContext
    cursor: Cursor
    page: Page | None = None


class SlotWait(DomainModel):
    """No call slot was free: the dial waits ``seconds`` in a Wait state and tries again, or,
    having waited as often as one execution's history allows, hands the run over to a fresh
    execution that starts at this contact (``handOver``)."""

    seconds: int = Field(ge=0)
    contact: PageContact
    handOver: bool = False

    @computed_field  # type: ignore[prop-decorator]
    @property
    def resumeAt(self) -> str:
        """The hand-over's cause (a ResumePoint), as the Fail state gives it."""
        c = self.contact
        return ResumePoint(seq=c.seq, index=c.index, attempt=c.attempt, queued=c.dueMs is not None).as_cause()


class DialOutcome(DomainModel):
    dialed: bool
    uniqueId: str | None = None
    outcome: str | None = None
    reason: str | None = None
    # What the state machine does next: go on with the next contact, wait for a call slot
    # (slotWait says how long), or hand the run over (slotWait says where it goes on). Always
    # present, so the Choice reads it without testing for a path that may be missing.
    next: Literal["done", "wait", "hand-over"] = "done"
    slotWait: SlotWait | None = None
