"""In-memory stand-ins for what the runs services depend on (campaign_calling.runs.ports).

They keep the rules the real stores enforce with DynamoDB conditions (a run ends once; a
dial is claimed once and only while its run is running; a claim is settled once) so that
the domain tests exercise the services' logic; tests/unit proves the real conditions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import ClientError

from campaign_calling.aws.stepfunctions import ExecutionEnd, execution_arn
from campaign_calling.calls.placing import CallingAgent, PlacedCall, new_call_log
from campaign_calling.calls.providers.lifecycle import FINAL_STATUSES, is_final
from campaign_calling.calls.slots import CallLimits, HeldSlot, SlotOwner
from campaign_calling.clock import iso_from_ms
from campaign_calling.compliance.number_limits import NumberCall, NumberUse
from campaign_calling.deadline import Deadline
from campaign_calling.errors import Conflict, DependencyUnavailable, InvalidRequest, NotFound
from campaign_calling.models import (
    Agent,
    CallLog,
    CallOutcome,
    Campaign,
    Contact,
    Progress,
    RetryPolicy,
    RunStatus,
    RunSummary,
)
from campaign_calling.runs.claims import ClaimResult, Deferral, DialClaim
from campaign_calling.runs.models import RunRef
from campaign_calling.runs.repository import HISTORY_COUNTERS, RunRecord
from campaign_calling.runs.retries import ContactDone, FollowUp, RetryDue
from campaign_calling.runs.retry_store import CallOfContact, DueRetry
from tests.support.clock import FixedClock
from tests.support.fakes_catalog import InMemoryAgents, InMemoryNumberUses
from tests.support.fakes_status import InMemoryCallIndex

CREATED_AT = "2024-01-15T10:00:00.000Z"


def contact_id(seq: int) -> str:
    return f"ct_{seq:010d}"


class FakeAgents(InMemoryAgents):
    """The catalog's in-memory agent store, with a builder of the agent a run uses."""

    def add(self, client_id: str, agent_id: str = "ag_1", *, caller_id: str | None = "+12025550143") -> Agent:
        """The agent, stored once however many runs use it."""
        try:
            return self.get(client_id, agent_id)
        except NotFound:
            agent = Agent(id=agent_id, name="Bot", providerAgentId="pa-1", callerId=caller_id, createdAt=CREATED_AT)
            return self.create(client_id, agent)


class FakeCampaigns:
    def __init__(self) -> None:
        self.campaigns: dict[tuple[str, str], Campaign] = {}
        self.contacts: dict[tuple[str, str], dict[str, Contact]] = {}
        # Contacts whose read fails as DynamoDB's would after botocore's retries.
        self.unreadable: set[str] = set()

    def add(self, client_id: str, campaign_id: str = "cmp_1", *, contacts: int = 3) -> Campaign:
        self.campaigns[(client_id, campaign_id)] = Campaign(
            id=campaign_id, name="Spring", totalContacts=0, isRunning=False, createdAt=CREATED_AT
        )
        self.contacts[(client_id, campaign_id)] = {}
        self.add_contacts(client_id, campaign_id, contacts)
        return self.campaigns[(client_id, campaign_id)]

    def add_contacts(self, client_id: str, campaign_id: str, count: int) -> None:
        campaign = self.campaigns[(client_id, campaign_id)]
        stored = self.contacts[(client_id, campaign_id)]
        for seq in range(campaign.nextContactSeq + 1, campaign.nextContactSeq + count + 1):
            stored[contact_id(seq)] = Contact(id=contact_id(seq), name=f"C{seq}", phone=phone(seq), seq=seq)
        self.update(
            client_id,
            campaign_id,
            totalContacts=campaign.totalContacts + count,
            nextContactSeq=campaign.nextContactSeq + count,
        )

    def delete_contact(self, client_id: str, campaign_id: str, contact: str) -> None:
        del self.contacts[(client_id, campaign_id)][contact]

    def update(self, client_id: str, campaign_id: str, **changes: Any) -> None:
        key = (client_id, campaign_id)
        self.campaigns[key] = self.campaigns[key].model_copy(update=changes)

    def get(self, client_id: str, campaign_id: str, *, consistent: bool = False) -> Campaign:
        try:
            return self.campaigns[(client_id, campaign_id)]
        except KeyError:
            raise NotFound("campaign") from None

    def get_contact(self, client_id: str, campaign_id: str, contact: str, *, consistent: bool = False) -> Contact:
        if contact in self.unreadable:
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "busy"}}, "GetItem")
        try:
            return self.contacts[(client_id, campaign_id)][contact]
        except KeyError:
            raise NotFound("contact") from None

    def contacts_after(
        self, client_id: str, campaign_id: str, *, after_seq: int, last_seq: int, limit: int
    ) -> list[Contact]:
        stored = sorted(self.contacts.get((client_id, campaign_id), {}).values(), key=lambda c: c.seq)
        return [c for c in stored if after_seq < c.seq <= last_seq][:limit]


def phone(seq: int) -> str:
    return f"+4420794600{seq:02d}"


@dataclass
class StoredRun:
    progress: Progress
    client_id: str
    last_seq: int
    execution_arn: str | None
    execution_since_ms: int
    paced_from_ms: int | None = None
    expires_at: int | None = None
    consecutive_failures: int = 0
    execution_count: int = 1
    claimed_seq: int | None = None
    agent_id: str | None = None
    slot_waits: int = 0

    def record(self) -> RunRecord:
        return RunRecord(
            progress=self.progress,
            client_id=self.client_id,
            last_seq=self.last_seq,
            execution_arn=self.execution_arn,
            paced_from_ms=self.paced_from_ms,
            expires_at=self.expires_at,
            consecutive_failures=self.consecutive_failures,
            execution_since_ms=self.execution_since_ms,
            execution_count=self.execution_count,
            claimed_seq=self.claimed_seq,
            agent_id=self.agent_id,
        )

    def update(self, **changes: Any) -> None:
        self.progress = self.progress.model_copy(update=changes)


class FakeRunStore:
    """Runs' progress, stamped by its own clock and TTL like runs/repository.py."""

    def __init__(self, campaigns: FakeCampaigns, clock: FixedClock, *, progress_ttl_seconds: int = 3600) -> None:
        self.campaigns = campaigns
        self.clock = clock
        self.ttl = progress_ttl_seconds
        self.runs: dict[RunRef, StoredRun] = {}
        # Each run's history item (runs/history_store.py), kept when its progress expires.
        self.history: dict[RunRef, RunSummary] = {}

    def status_snapshot(self, client_id: str, campaign_id: str) -> tuple[int, RunRecord | None]:
        campaign = self.campaigns.get(client_id, campaign_id)
        mine = [ref for ref in self.runs if (ref.client_id, ref.campaign_id) == (client_id, campaign_id)]
        newest = max(mine, key=lambda ref: ref.run_id, default=None)
        return campaign.totalContacts, self.runs[newest].record() if newest else None

    def get_run(self, ref: RunRef) -> RunRecord:
        if ref not in self.runs:
            raise NotFound("run")
        return self.runs[ref].record()

    def running_runs(self) -> Iterator[RunRef]:
        running = [ref for ref, run in self.runs.items() if run.progress.status == "running"]
        yield from sorted(running, key=lambda ref: ref.run_id)

    def start_run(self, ref: RunRef, progress: Progress, *, last_seq: int, agent_id: str, execution_arn: str) -> None:
        try:
            campaign = self.campaigns.get(ref.client_id, ref.campaign_id)
        except NotFound:
            raise Conflict("campaign is already running") from None
        if campaign.isRunning or campaign.nextContactSeq != last_seq or ref in self.runs:
            raise Conflict("campaign is already running")
        self.campaigns.update(
            ref.client_id, ref.campaign_id, isRunning=True, currentRunId=ref.run_id, lastRunStatus="running"
        )
        self.runs[ref] = StoredRun(
            progress, ref.client_id, last_seq, execution_arn, self.clock.now_ms(), agent_id=agent_id
        )
        self.history[ref] = _summary(progress, agent_id)

    def set_execution(self, ref: RunRef, execution_arn: str, *, replaces: str | None) -> bool:
        run = self.runs[ref]
        if run.progress.status != "running" or (replaces is not None and run.execution_arn != replaces):
            return False
        run.execution_arn = execution_arn
        run.execution_since_ms = self.clock.now_ms()
        run.execution_count += 1
        run.slot_waits = 0
        return True

    def set_waiting_until(self, ref: RunRef, until: str | None) -> None:
        run = self.runs[ref]
        if run.progress.status == "running":
            run.update(waitingUntil=until)

    def count_slot_wait(self, ref: RunRef) -> int:
        run = self.runs[ref]
        run.slot_waits += 1
        return run.slot_waits

    def end_run(
        self,
        ref: RunRef,
        *,
        status: RunStatus,
        reason: str | None = None,
        final_index: int | None = None,
        execution_arn: str | None = None,
        from_statuses: tuple[RunStatus, ...] = ("running",),
    ) -> bool:
        run = self.runs.get(ref)
        if run is None or run.progress.status not in from_statuses:
            return False
        if execution_arn is not None and run.execution_arn != execution_arn:
            return False
        if self.campaigns.get(ref.client_id, ref.campaign_id).currentRunId != ref.run_id:
            return False
        now = self.clock.now_ms()
        changes: dict[str, Any] = {
            "status": status,
            "isRunning": False,
            "endTime": iso_from_ms(now),
            "waitingUntil": None,
        }
        if reason is not None:
            changes["reason"] = reason
        if final_index is not None:
            changes["currentIndex"] = final_index
        run.update(**changes)
        # A paused run waits for a resume or a stop without expiring.
        run.expires_at = None if status == "paused" else now // 1000 + self.ttl
        self.campaigns.update(ref.client_id, ref.campaign_id, isRunning=False, lastRunStatus=status)
        # The history's status in the same write, then the snapshot of the counters.
        history = self.history.get(ref, _summary(run.progress, run.agent_id))
        self.history[ref] = history.model_copy(
            update={
                "status": status,
                "isRunning": False,
                "endTime": iso_from_ms(now),
                "reason": reason if reason is not None else history.reason,
            }
        )
        self.snapshot_history(ref)
        return True

    def snapshot_history(self, ref: RunRef, *, ended_only: bool = False) -> None:
        """As runs/repository.snapshot_history: the counters copied, never back to fewer."""
        current = self.history.get(ref)
        run = self.runs.get(ref)
        if current is None or run is None or (ended_only and run.progress.status in ("running", "paused")):
            return
        fresh = _summary(run.progress, current.agentId)
        counters = fresh.model_dump(include=_COUNTERS)
        counters["outcomes"] = fresh.outcomes
        if current.completedCalls <= fresh.completedCalls and _settled(current) <= _settled(fresh):
            self.history[ref] = current.model_copy(update=counters)

    def expire(self, ref: RunRef) -> None:
        """The run's progress item gone, as DynamoDB's TTL deletes it (its history stays)."""
        del self.runs[ref]

    def extend_run(self, ref: RunRef, *, last_seq: int, total_contacts: int) -> None:
        run = self.runs[ref]
        if run.progress.status == "running" and run.last_seq < last_seq:
            run.last_seq = last_seq
            run.update(totalContacts=total_contacts)

    def resume_run(
        self,
        ref: RunRef,
        *,
        execution_arn: str,
        execution_count: int,
        last_seq: int,
        total_contacts: int,
        from_statuses: tuple[RunStatus, ...],
    ) -> None:
        run = self.runs.get(ref)
        now = self.clock.now_ms()
        campaign = self.campaigns.get(ref.client_id, ref.campaign_id)
        if (
            run is None
            or run.progress.status not in from_statuses
            or run.execution_count != execution_count - 1
            or run.record().expired(now)
            or campaign.isRunning
            or campaign.currentRunId != ref.run_id
            or campaign.nextContactSeq != last_seq
        ):
            raise Conflict("nothing to resume")
        run.update(status="running", isRunning=True, endTime=None, reason=None, totalContacts=total_contacts)
        if ref in self.history:
            self.history[ref] = self.history[ref].model_copy(
                update={"status": "running", "isRunning": True, "endTime": None, "reason": None}
                | {"totalContacts": total_contacts}
            )
        run.execution_arn = execution_arn
        run.execution_since_ms = now
        run.execution_count = execution_count
        run.last_seq = last_seq
        run.expires_at = None
        run.consecutive_failures = 0
        run.slot_waits = 0
        self.campaigns.update(ref.client_id, ref.campaign_id, isRunning=True, lastRunStatus="running")

    def progress(self, ref: RunRef) -> Progress:
        return self.runs[ref].progress

    def live_progress(self, ref: RunRef, now_ms: int) -> bool:
        """Whether the run's progress item exists and has not expired."""
        run = self.runs.get(ref)
        return run is not None and not run.record().expired(now_ms)

    def move_outcome(self, ref: RunRef, from_outcome: str, to_outcome: str) -> None:
        """One call from one outcome count to another (``pending`` and the final statuses)."""
        run = self.runs[ref]
        counts = run.progress.outcomes.model_dump(by_alias=True)
        counts[from_outcome] -= 1
        counts[to_outcome] += 1
        run.update(outcomes=type(run.progress.outcomes).model_validate(counts))


# What the history copies from the progress (runs/repository.py says the same to DynamoDB).
_COUNTERS = set(HISTORY_COUNTERS)


def _settled(run: RunSummary) -> int:
    return sum(run.outcomes.model_dump().values()) - run.outcomes.pending


def _summary(progress: Progress, agent_id: str | None) -> RunSummary:
    return RunSummary.model_validate(
        {
            **progress.model_dump(exclude={"outcomes", "waitingUntil"}),
            "agentId": agent_id,
            "outcomes": progress.outcomes,
        }
    )


class FakeRunHistory:
    """The history items of a FakeRunStore's runs, as runs/history_store.py reads them."""

    def __init__(self, runs: FakeRunStore) -> None:
        self._runs = runs

    def campaign_exists(self, client_id: str, campaign_id: str) -> bool:
        try:
            self._runs.campaigns.get(client_id, campaign_id)
        except NotFound:
            return False
        return True

    def list(
        self, client_id: str, campaign_id: str, limit: int, token: str | None
    ) -> tuple[list[RunSummary], str | None]:
        mine = sorted(
            (ref for ref in self._runs.history if (ref.client_id, ref.campaign_id) == (client_id, campaign_id)),
            key=lambda ref: ref.run_id,
            reverse=True,
        )
        if token is not None:
            if not token.startswith(f"{client_id}|{campaign_id}|"):
                raise InvalidRequest("nextToken is not valid")
            after = token.rsplit("|", 1)[1]
            mine = [ref for ref in mine if ref.run_id < after]
        page = mine[:limit]
        next_token = f"{client_id}|{campaign_id}|{page[-1].run_id}" if len(mine) > limit else None
        return [self._runs.history[ref] for ref in page], next_token

    def get(self, ref: RunRef) -> RunSummary | None:
        return self._runs.history.get(ref)


class FakeClaims:
    """Dial claims, and the call logs and counters they settle, like runs/claims.py."""

    def __init__(self, runs: FakeRunStore, index: InMemoryCallIndex | None = None) -> None:
        self.runs = runs
        self.index = index if index is not None else InMemoryCallIndex()
        self.claims: dict[tuple[RunRef, int, int], DialClaim] = {}
        self.logs: list[CallLog] = []
        self._clients: dict[str, str] = {}  # uniqueId -> client
        # How many of the next completions fail as a DynamoDB that stays busy does.
        self.busy_completions = 0
        # The calls in progress, like calls/slots.py: (client, uniqueId) -> slot.
        self.slots: dict[tuple[str, str], HeldSlot] = {}
        # The runs' retry items: (run, dueMs, seq, attempt) -> the retry.
        self.retries: dict[tuple[RunRef, int, int, int], DueRetry] = {}
        self.rate_windows: dict[tuple[str, int], int] = {}
        self.limits_seen: list[CallLimits] = []
        # When each number was called (compliance/number_limits.py), recorded with the claim.
        self.numbers = InMemoryNumberUses()

    def get(self, ref: RunRef, seq: int, attempt: int = 1) -> DialClaim | None:
        return self.claims.get((ref, seq, attempt))

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
    ) -> str:
        run = self.runs.runs[ref]
        if run.progress.status != "running":
            return ClaimResult.RUN_NOT_RUNNING
        queued = due_ms is not None
        existing = self.claims.get((ref, seq, attempt))
        if (existing is not None and not (queued and existing.status == "deferred")) or (
            queued and (ref, due_ms, seq, attempt) not in self.retries
        ):
            return ClaimResult.ALREADY_CLAIMED
        if number is not None and not self.numbers.can_record(number):
            return ClaimResult.NUMBER_CHANGED
        if limits is not None:
            refused = self._take_slot(ref, unique_id, limits, now_ms, done_at_final)
            if refused is not None:
                return refused
        if number is not None:
            self.numbers.record(number)
        self.claims[(ref, seq, attempt)] = DialClaim("dialing", unique_id, now_ms, None)
        run.paced_from_ms = now_ms
        if queued:
            del self.retries[(ref, due_ms, seq, attempt)]
            if attempt > 1:
                run.update(retriesPending=run.progress.retriesPending - 1)
            else:
                run.update(contactsWaiting=run.progress.contactsWaiting - 1)
        else:
            run.claimed_seq = seq
        run.update(currentIndex=index)
        return ClaimResult.CLAIMED

    def number_use(self, client_id: str, phone: str) -> NumberUse:
        return self.numbers.number_use(client_id, phone)

    def defer(self, ref: RunRef, deferrals: list[Deferral]) -> str:
        run = self.runs.runs[ref]
        if run.progress.status != "running":
            return ClaimResult.RUN_NOT_RUNNING
        for d in deferrals:
            c = d.call
            claim = self.claims.get((ref, c.seq, c.attempt))
            served = d.served_due_ms is not None
            if (claim is not None and not (served and claim.status == "deferred")) or (
                served and (ref, d.served_due_ms, c.seq, c.attempt) not in self.retries
            ):
                return ClaimResult.ALREADY_CLAIMED
        for d in deferrals:
            c = d.call
            if d.served_due_ms is not None:
                del self.retries[(ref, d.served_due_ms, c.seq, c.attempt)]
            elif c.attempt == 1:
                run.update(contactsWaiting=run.progress.contactsWaiting + 1)
            self.claims[(ref, c.seq, c.attempt)] = DialClaim("deferred", "", 0, None)
            self.retries[(ref, d.due_ms, c.seq, c.attempt)] = DueRetry(
                c.seq, c.index, c.contact_id, c.attempt, d.due_ms
            )
        return ClaimResult.DEFERRED

    # -- retries (runs/retry_store.py) --

    def due(self, ref: RunRef, *, now_ms: int, limit: int) -> list[DueRetry]:
        return [r for r in self._retries_of(ref) if r.due_ms <= now_ms][:limit]

    def next_due_ms(self, ref: RunRef) -> int | None:
        return next((r.due_ms for r in self._retries_of(ref)), None)

    def _retries_of(self, ref: RunRef) -> list[DueRetry]:
        return [r for (of, *_), r in sorted(self.retries.items(), key=lambda kv: kv[0][1:]) if of == ref]

    def follow(self, ref: RunRef, call: CallOfContact, follow_up: FollowUp | None) -> None:
        """What a call's final status (or its log) leads to: the contact done, or a retry."""
        run = self.runs.runs[ref]
        if isinstance(follow_up, ContactDone):
            run.update(contactsDone=run.progress.contactsDone + 1)
        elif isinstance(follow_up, RetryDue):
            key = (ref, follow_up.due_ms, call.seq, follow_up.attempt)
            self.retries[key] = DueRetry(call.seq, call.index, call.contact_id, follow_up.attempt, follow_up.due_ms)
            run.update(retriesPending=run.progress.retriesPending + 1)

    def _take_slot(
        self, ref: RunRef, unique_id: str, limits: CallLimits, now_ms: int, done_at_final: bool
    ) -> str | None:
        self.limits_seen.append(limits)
        mine = [s for (client, _), s in self.slots.items() if client == ref.client_id]
        if limits.run_calls is not None and sum(s.owner.run_id == ref.run_id for s in mine) >= limits.run_calls:
            return ClaimResult.NO_SLOT_RUN
        if limits.client_calls is not None and len(mine) >= limits.client_calls:
            return ClaimResult.NO_SLOT_CLIENT
        window = (ref.client_id, now_ms // 1000)
        rate = limits.client_calls_per_second
        if rate is not None and self.rate_windows.get(window, 0) >= rate:
            return ClaimResult.NO_SLOT_RATE
        if rate is not None:
            self.rate_windows[window] = self.rate_windows.get(window, 0) + 1
        owner = SlotOwner(ref.client_id, unique_id, ref.campaign_id, ref.run_id, done_at_final)
        self.slots[(ref.client_id, unique_id)] = HeldSlot(owner, now_ms + limits.max_call_seconds * 1000)
        return None

    def held(self, client_id: str) -> list[HeldSlot]:
        return [s for (client, _), s in self.slots.items() if client == client_id]

    def reap_expired(self, client_id: str, *, now_ms: int) -> bool:
        return any([self.reap(slot, now_ms=now_ms) for slot in self.held(client_id)])

    def reap(self, slot: HeldSlot, *, now_ms: int) -> bool:
        key = (slot.owner.client_id, slot.owner.unique_id)
        if key not in self.slots or self.slots[key].release_by_ms > now_ms:
            return False
        del self.slots[key]
        for i, log in enumerate(self.logs):
            if log.uniqueId == slot.owner.unique_id and log.status not in FINAL_STATUSES | {"unknown"}:
                self.logs[i] = log.model_copy(update={"status": "unknown"})
                if slot.owner.run_id is not None:
                    ref = RunRef(slot.owner.client_id, log.campaignId, slot.owner.run_id)
                    self._move_outcome(ref, "unknown")
                    if slot.owner.done_at_final:
                        run = self.runs.runs[ref]
                        run.update(contactsDone=run.progress.contactsDone + 1)
        return True

    def release(self, client_id: str, unique_id: str) -> bool:
        """What a call's first final status does to its slot (calls/status_store.py)."""
        return self.slots.pop((client_id, unique_id), None) is not None

    def _move_outcome(self, ref: RunRef, final: str) -> None:
        run = self.runs.runs[ref]
        outcomes = run.progress.outcomes.model_dump(by_alias=True)
        outcomes["pending"] -= 1
        outcomes[final] += 1
        run.update(outcomes=type(run.progress.outcomes).model_validate(outcomes))

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
    ) -> bool:
        attempt = call.attempt if call is not None else 1
        if self.busy_completions:
            self.busy_completions -= 1
            raise DependencyUnavailable("DynamoDB is busy")
        claim = self.claims.get((ref, seq, attempt))
        if claim is None or claim.status != "dialing" or any(x.uniqueId == log.uniqueId for x in self.logs):
            return False
        self.logs.append(log)
        self._clients[log.uniqueId] = ref.client_id
        self.index.add(ref.client_id, log, call, retry)
        self.claims[(ref, seq, attempt)] = replace(claim, status="done", outcome=log.outcome)
        run = self.runs.runs[ref]
        p = run.progress
        succeeded = log.outcome == "success"
        # A placed call is pending until its final status arrives; one never placed is final
        # already (failed, or skipped: on the do-not-call list).
        outcomes = p.outcomes.model_dump(by_alias=True)
        outcomes[log.status if log.status is not None and is_final(log.status) else "pending"] += 1
        run.update(
            lastCallTime=iso_from_ms(now_ms),
            completedCalls=p.completedCalls + 1,
            successfulCalls=p.successfulCalls + (1 if succeeded else 0),
            failedCalls=p.failedCalls + (0 if succeeded else 1),
            outcomes=type(p.outcomes).model_validate(outcomes),
        )
        run.paced_from_ms = now_ms
        if succeeded:
            run.consecutive_failures = 0
        elif provider_failure:
            run.consecutive_failures += 1
        if release_slot and log.status in FINAL_STATUSES:
            self.release(ref.client_id, log.uniqueId)
        if call is not None:
            self.follow(ref, call, follow_up)
        return True

    def logs_of(self, contact: str) -> list[CallLog]:
        return [log for log in self.logs if log.contactId == contact]

    def stored_log(self, client_id: str, campaign_id: str, unique_id: str) -> CallLog | None:
        return next(
            (
                log
                for log in self.logs
                if (log.uniqueId, log.campaignId) == (unique_id, campaign_id)
                and self._clients.get(unique_id) == client_id
            ),
            None,
        )

    def replace_log(self, client_id: str, log: CallLog) -> None:
        self.logs = [
            log if (old.uniqueId, old.campaignId) == (log.uniqueId, log.campaignId) else old for old in self.logs
        ]


class FakeWorkflow:
    """Step Functions' StartExecution and StopExecution: records what was asked."""

    def __init__(self) -> None:
        self.started: list[tuple[str, dict[str, Any]]] = []  # (execution ARN, input)
        self.stopped: list[tuple[str, str]] = []  # (execution ARN, cause)
        self.unavailable = False

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str:
        if self.unavailable:
            raise DependencyUnavailable("could not start the calling workflow (ServiceUnavailable)")
        arn = execution_arn(state_machine_arn, name)
        if all(started != arn for started, _ in self.started):  # same name: the same execution
            self.started.append((arn, payload))
        return arn

    def stop(self, arn: str, cause: str) -> bool:
        self.stopped.append((arn, cause))
        return True


class FakeExecutions:
    """DescribeExecution: how each execution stands (absent: it does not exist)."""

    def __init__(self) -> None:
        self.executions: dict[str, ExecutionEnd] = {}
        self.broken: set[str] = set()

    def set(self, arn: str, status: str, error: str | None = None, cause: str | None = None) -> None:
        self.executions[arn] = ExecutionEnd(status, error, cause)

    def describe(self, arn: str) -> ExecutionEnd | None:
        if arn in self.broken:
            raise DependencyUnavailable("could not describe execution")
        return self.executions.get(arn)

    def status(self, arn: str) -> str | None:
        described = self.describe(arn)
        return described.status if described else None


@dataclass
class PlacedCallRecord:
    contact_id: str
    idempotency_key: str
    at_ms: int


@dataclass
class FakePlacer:
    """The provider behind CallPlacer: answers each call with the next outcome given
    (then success), taking ``call_ms`` of the clock."""

    clock: FixedClock
    outcomes: list[tuple[CallOutcome, str | None]] = field(default_factory=list)
    call_ms: int = 200
    calls: list[PlacedCallRecord] = field(default_factory=list)
    prepared: int = 0

    def fail_next(self, count: int, error: str = "provider refused the call") -> None:
        self.outcomes.extend([("failed", error)] * count)

    def prepare(self) -> None:
        self.prepared += 1

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
        self.calls.append(PlacedCallRecord(contact.id, idempotency_key, self.clock.now_ms()))
        self.clock.advance(self.call_ms)
        outcome, error = self.outcomes.pop(0) if self.outcomes else ("success", None)
        placed = len(self.calls)
        log = new_call_log(
            campaign_id=campaign_id,
            contact=contact,
            agent_id=agent_id,
            unique_id=unique_id,
            started_ms=started_ms,
            ended_ms=self.clock.now_ms(),
            run_id=run_id,
            outcome=outcome,
            error=error,
        )
        if outcome == "success":  # the provider's id for the call it took
            log = log.model_copy(update={"providerCallId": f"call_{placed:04d}"})
        return PlacedCall(log, False)
