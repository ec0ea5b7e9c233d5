"""Dialing one contact of a run: at most once, paced, logged and counted exactly once."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from botocore.exceptions import BotoCoreError, ClientError

from campaign_calling.calls.placing import new_call_log
from campaign_calling.calls.provider import longest_dial_seconds
from campaign_calling.calls.slots import DEFAULT_MAX_CALL_SECONDS, CallLimits, slot_wait_seconds
from campaign_calling.clock import Clock, iso_from_ms
from campaign_calling.compliance.number_limits import NumberCall, NumberLimits, next_allowed_ms
from campaign_calling.deadline import Deadline
from campaign_calling.errors import DependencyUnavailable, NotFound
from campaign_calling.ids import call_unique_id
from campaign_calling.models import CallLog, CallOutcome, Contact
from campaign_calling.observability.log_masking import redact_contact
from campaign_calling.runs.budget import SLOT_WAITS_PER_EXECUTION
from campaign_calling.runs.claims import ClaimResult, Deferral
from campaign_calling.runs.lifecycle import RunEnding
from campaign_calling.runs.models import DialOutcome, PageContact, RunContext, SlotWait
from campaign_calling.runs.pacing import MAX_DIAL_STEP_SLEEP_MS, remaining_ms
from campaign_calling.runs.ports import (
    CampaignReader,
    ClaimStore,
    ClientLimitsReader,
    DoNotCallReader,
    NumberUses,
    Placer,
    RunStore,
    SlotKeeper,
)
from campaign_calling.runs.retries import ContactDone, FollowUp, at_log
from campaign_calling.runs.retry_store import CallOfContact

# Kept back from the function's remaining time for what follows the dial: the call log,
# claim and counters in one transaction, and pausing a failing run (a read, a write, a
# StopExecution).
DIAL_LOG_RESERVE_SECONDS = 2.0
# Before the dial: the run's status, the contact, the API key (Secrets Manager, cached) and
# the claim.
PRE_DIAL_SECONDS = 3.0
# How long a dial step keeps trying to log a call it placed while DynamoDB stays busy (each
# try is itself a few attempts), within the function's time left. Once the run is stopped
# its execution is gone and nothing would retry the step, so the step is the last one able
# to log the call.
SETTLE_PATIENCE_SECONDS = 10.0
_SETTLE_PAUSE_SECONDS = 0.5
# Kept back at the very end, so the step fails (and Step Functions retries it) rather than
# being ended by Lambda while it writes.
_LAST_MARGIN_MS = 500
# Why a contact of the run was not dialed when it was deleted after its page was loaded.
CONTACT_GONE = "contact no longer exists"
CONTACT_UNREADABLE = "contact could not be read"
# Why a contact was skipped: its number is on the client's do-not-call list (the call
# log's endedReason; the log's error says it in words).
DNC_REASON = "dnc"
DNC_ERROR = "not dialed: the number is on the do-not-call list"
# Why a contact was skipped: the run's calling window is never open in all the zones its
# number may be in (zones too far apart for the window).
NO_WINDOW_REASON = "window"
NO_WINDOW_ERROR = "not dialed: the calling window is never open in all of the contact's time zones"
_INTERRUPTED = "dial step ran again after an interruption"
# How often a dial reads its number's use again when other calls of it keep winning.
_NUMBER_READS = 3
NO_SLOT = (ClaimResult.NO_SLOT_RUN, ClaimResult.NO_SLOT_CLIENT, ClaimResult.NO_SLOT_RATE)
_REFUSALS = {ClaimResult.NO_SLOT_RUN: "run", ClaimResult.NO_SLOT_CLIENT: "client", ClaimResult.NO_SLOT_RATE: "rate"}


def longest_dial_step_seconds(dialer_timeout_seconds: float) -> float:
    """The longest a dial step takes when the provider is as slow as allowed: the
    function's Timeout must cover this (template.yaml, tested), so that the deadline only
    cuts in when something else is slower than it should be."""
    return (
        PRE_DIAL_SECONDS
        + MAX_DIAL_STEP_SLEEP_MS / 1000
        + longest_dial_seconds(dialer_timeout_seconds)
        + DIAL_LOG_RESERVE_SECONDS
    )


@dataclass(frozen=True)
class Claimed:
    unique_id: str
    started_ms: int


class DialRecorder:
    """Claims a contact's dial in a run and records how it ended. Never dials itself, so
    it needs no provider: the dial-failure task uses it alone.

    The state machine carries contacts by id and position only (its states are kept in the
    execution's history for 90 days), so the name and number a call log needs are read
    here, from DynamoDB."""

    def __init__(self, *, claims: ClaimStore, campaigns: CampaignReader, clock: Clock) -> None:
        self._claims = claims
        self._campaigns = campaigns
        self._clock = clock

    def read_contact(self, run: RunContext, contact: PageContact) -> Contact | None:
        """The contact as stored now; None when it no longer exists. Strongly consistent:
        a contact deleted (or its number changed) before its turn is never dialed from a
        stale copy."""
        try:
            return self._campaigns.get_contact(run.clientId, run.campaignId, contact.contactId, consistent=True)
        except NotFound:
            return None

    def _contact_for_log(self, run: RunContext, contact: PageContact) -> tuple[Contact | None, str]:
        """The contact for a call log that must be written whatever happens (the dial step
        failed for good, or an earlier attempt's call is being settled), and what to add to
        the log's error when it is not there. A read that fails (after botocore's retries)
        does not stop the log: the contact stays known by id."""
        try:
            stored = self.read_contact(run, contact)
        except (ClientError, BotoCoreError):
            return None, f"; {CONTACT_UNREADABLE}"
        return stored, "" if stored else f"; {CONTACT_GONE}"

    def claim(
        self,
        run: RunContext,
        contact: PageContact,
        *,
        error_if_claimed: str,
        limits: CallLimits | None = None,
        number: NumberCall | None = None,
    ) -> Claimed | DialOutcome | str:
        """Claim the dial, or say why not: the run stopped, or an earlier attempt claimed it
        (then that attempt is settled here and its outcome returned). Given ``limits``, the
        call's slot is taken with the claim; when none is free, the ClaimResult that says
        which cap was full is returned and nothing was written."""
        started_ms = self._clock.now_ms()
        unique_id = call_unique_id(started_ms)
        result = self._claims.claim(
            run.ref,
            seq=contact.seq,
            index=contact.index,
            unique_id=unique_id,
            now_ms=started_ms,
            limits=limits,
            attempt=contact.attempt,
            due_ms=contact.dueMs,
            done_at_final=run.retry is not None and run.retry.retries,
            number=number,
        )
        if result in NO_SLOT or result == ClaimResult.NUMBER_CHANGED:
            return result
        if result == ClaimResult.RUN_NOT_RUNNING:
            # The run ended, but an earlier attempt may have claimed this dial before it did.
            settled = self.settle_earlier_claim(run, contact, error=error_if_claimed)
            return settled or DialOutcome(dialed=False, reason="run stopped")
        if result == ClaimResult.ALREADY_CLAIMED:
            settled = self.settle_earlier_claim(run, contact, error=error_if_claimed)
            return settled or DialOutcome(dialed=True, reason="already dialed")
        return Claimed(unique_id, started_ms)

    def complete(
        self,
        run: RunContext,
        contact: PageContact,
        log: CallLog,
        *,
        provider_failure: bool = True,
        release_slot: bool = False,
        follow_up: FollowUp | None | Literal["as-logged"] = "as-logged",
    ) -> None:
        """``follow_up``: what the log leads to (runs/retries.py); by default, as its status says."""
        now_ms = self._clock.now_ms()
        log = log.model_copy(update={"attempt": contact.attempt})
        self._claims.complete(
            run.ref,
            seq=contact.seq,
            log=log,
            now_ms=now_ms,
            provider_failure=provider_failure,
            release_slot=release_slot,
            call=CallOfContact(contact.seq, contact.index, contact.contactId, contact.attempt),
            follow_up=at_log(run.retry, log.status, contact.attempt, now_ms=now_ms)
            if follow_up == "as-logged"
            else follow_up,
            retry=run.retry,
        )

    def record_failure(self, run: RunContext, contact: PageContact, error: str) -> DialOutcome:
        """The dial step failed for good. Log the contact once, as failed when it was never
        dialed, as unknown when it may have been: never dial it again."""
        # Read before claiming, so that nothing is left half done between the two.
        stored, missing = self._contact_for_log(run, contact)
        claimed = self.claim(run, contact, error_if_claimed=error)
        if not isinstance(claimed, Claimed):
            return _not_claimed(claimed)
        self.complete(run, contact, self._log(run, contact, stored, claimed, "failed", f"not dialed: {error}{missing}"))
        return DialOutcome(dialed=False, uniqueId=claimed.unique_id, outcome="failed", reason="dial step failed")

    def record_gone(self, run: RunContext, contact: PageContact) -> DialOutcome:
        """The contact was deleted after its page was loaded: not dialed, and logged (its
        name and number are gone with it) and counted as failed once, so that the run's
        counts still add up. Not a sign of a failing provider, so it does not count
        towards pausing the run."""
        claimed = self.claim(run, contact, error_if_claimed=_INTERRUPTED)
        if not isinstance(claimed, Claimed):
            return _not_claimed(claimed)
        log = self._log(run, contact, None, claimed, "failed", f"not dialed: {CONTACT_GONE}")
        # Never tried again: there is nobody to call.
        self.complete(run, contact, log, provider_failure=False, follow_up=ContactDone())
        return DialOutcome(dialed=False, uniqueId=claimed.unique_id, outcome="failed", reason=CONTACT_GONE)

    def record_skipped(
        self,
        run: RunContext,
        contact: PageContact,
        stored: Contact,
        *,
        reason: str = DNC_REASON,
        error: str = DNC_ERROR,
    ) -> DialOutcome:
        """The contact may never be called (its number is on the do-not-call list, or its
        calling window never opens): never sent to the provider; claimed (no call slot: no
        call) and logged once as ``skipped``, counted as a failed call so that the run's
        counts add up, never retried, and no sign of a failing provider (as record_gone)."""
        claimed = self.claim(run, contact, error_if_claimed=_INTERRUPTED)
        if not isinstance(claimed, Claimed):
            return _not_claimed(claimed)
        log = self._log(run, contact, stored, claimed, "failed", error).model_copy(
            update={"status": "skipped", "endedReason": reason}
        )
        self.complete(run, contact, log, provider_failure=False, follow_up=ContactDone())
        return DialOutcome(dialed=False, uniqueId=claimed.unique_id, outcome="failed", reason=reason)

    def defer(self, run: RunContext, contact: PageContact, due_ms: int, why: str) -> DialOutcome:
        """Not callable now (``why``): the contact waits in the run's queue until ``due_ms``."""
        call = CallOfContact(contact.seq, contact.index, contact.contactId, contact.attempt)
        result = self._claims.defer(run.ref, [Deferral(call, due_ms, served_due_ms=contact.dueMs)])
        if result == ClaimResult.DEFERRED:
            return DialOutcome(dialed=False, reason=f"{why}: waiting until {iso_from_ms(due_ms)}")
        if result == ClaimResult.RUN_NOT_RUNNING:
            return DialOutcome(dialed=False, reason="run stopped")
        # Claimed or deferred already (this step ran twice): that one stands.
        settled = self.settle_earlier_claim(run, contact, error=_INTERRUPTED)
        return settled or DialOutcome(dialed=False, reason="already handled")

    def settle_earlier_claim(self, run: RunContext, contact: PageContact, *, error: str) -> DialOutcome | None:
        """An earlier attempt's claim of this dial, settled: whatever the run's status now,
        a claimed dial is logged and counted once. None when there is no claim."""
        claim = self._claims.get(run.ref, contact.seq, contact.attempt)
        if claim is None:
            return None
        if claim.status == "deferred":
            # Waiting in the run's queue: served from there when it is due.
            return DialOutcome(dialed=False, reason="waiting in the run's queue")
        if claim.status == "done":
            # Already logged and counted by the earlier attempt: report it, do nothing more.
            return DialOutcome(dialed=True, uniqueId=claim.unique_id, outcome=claim.outcome, reason="already dialed")
        # An earlier attempt claimed the dial and stopped before logging it: the provider
        # may or may not have connected the call, so it is logged as unknown, not redialed.
        earlier = Claimed(claim.unique_id, claim.started_ms)
        stored, missing = self._contact_for_log(run, contact)
        why = f"outcome unknown: {error}{missing}"
        self.complete(run, contact, self._log(run, contact, stored, earlier, "unknown", why))
        return DialOutcome(
            dialed=True, uniqueId=claim.unique_id, outcome="unknown", reason="earlier attempt interrupted"
        )

    def _log(
        self,
        run: RunContext,
        contact: PageContact,
        stored: Contact | None,
        claimed: Claimed,
        outcome: CallOutcome,
        error: str,
    ) -> CallLog:
        return new_call_log(
            campaign_id=run.campaignId,
            # A contact that no longer exists is logged by id, its name and number empty.
            contact=stored or Contact(id=contact.contactId, name="", phone="", seq=contact.seq),
            agent_id=run.agent.agentId,
            unique_id=claimed.unique_id,
            started_ms=claimed.started_ms,
            ended_ms=self._clock.now_ms(),
            run_id=run.runId,
            outcome=outcome,
            error=error,
            provider=run.agent.provider,
            account=run.agent.account,
        )


def _not_claimed(result: DialOutcome | str) -> DialOutcome:
    # Only a claim given limits can be refused a slot; these take none.
    assert isinstance(result, DialOutcome), result
    return result


class DialStep:
    def __init__(
        self,
        *,
        runs: RunStore,
        placer: Placer,
        recorder: DialRecorder,
        ending: RunEnding,
        clock: Clock,
        pause_after_failures: int,
        slots: SlotKeeper,
        client_limits: ClientLimitsReader,
        do_not_call: DoNotCallReader,
        numbers: NumberUses,
        max_call_seconds: int = DEFAULT_MAX_CALL_SECONDS,
        slot_waits_per_execution: int = SLOT_WAITS_PER_EXECUTION,
        sleep: Callable[[float], None] = time.sleep,
        settle_patience_seconds: float = SETTLE_PATIENCE_SECONDS,
    ) -> None:
        self._runs = runs
        self._placer = placer
        self._recorder = recorder
        self._ending = ending
        self._clock = clock
        self._slots = slots
        self._client_limits = client_limits
        self._do_not_call = do_not_call
        self._numbers = numbers
        self._max_call_seconds = max_call_seconds
        self._slot_waits = min(slot_waits_per_execution, SLOT_WAITS_PER_EXECUTION)
        self._pause_after = pause_after_failures
        self._sleep = sleep
        self._settle_patience_ms = int(settle_patience_seconds * 1000)

    def dial_contact(
        self, run: RunContext, contact: PageContact, *, time_left_ms: Callable[[], int] | None = None
    ) -> DialOutcome:
        """``time_left_ms`` is the Lambda context's time left: the dial stops in time for
        the call to be logged rather than the function being ended mid-call."""
        deadline = (
            Deadline.from_remaining_ms(time_left_ms, reserve_seconds=DIAL_LOG_RESERVE_SECONDS)
            if time_left_ms
            else Deadline.unbounded()
        )
        record = self._runs.get_run(run.ref)
        if record.progress.status != "running":
            # No new dial; but a retry of a step whose dial was claimed and then could not be
            # logged (e.g. its transaction kept colliding with the stop's) settles it here.
            settled = self._recorder.settle_earlier_claim(run, contact, error=_INTERRUPTED)
            return settled or DialOutcome(dialed=False, reason=f"run {record.progress.status}")
        # The name and number, which the state never carries: one read per call.
        stored = self._recorder.read_contact(run, contact)
        if stored is None:
            return self._recorder.record_gone(run, contact)
        # Before every dial, read now (the list may have grown since the run started).
        if self._do_not_call.is_listed(run.clientId, stored.phone):
            return self._recorder.record_skipped(run, contact, stored)
        outside = self._outside_window(run, contact, stored)
        if outside is not None:
            return outside
        self._placer.prepare()
        wait_ms = remaining_ms(run.delayMs, record.paced_from_ms, self._clock.now_ms())
        if wait_ms:
            self._sleep(wait_ms / 1000)
            # The window may have closed while the step paced the call.
            outside = self._outside_window(run, contact, stored)
            if outside is not None:
                return outside

        claimed = self._claim_with_slot(run, contact, stored)
        if isinstance(claimed, DialOutcome):
            return claimed
        log, deadline_exceeded = self._placer.place(
            client_id=run.clientId,
            campaign_id=run.campaignId,
            contact=stored,
            agent_id=run.agent.agentId,
            agent=run.agent,
            unique_id=claimed.unique_id,
            started_ms=claimed.started_ms,
            # Same key for every retry of this contact's dial in this run.
            idempotency_key=f"{run.runId}:{contact.seq}:{contact.attempt}",
            run_id=run.runId,
            deadline=deadline,
        )
        self._complete_placed_call(run, contact, log, time_left_ms)
        outcome = DialOutcome(
            dialed=True,
            uniqueId=claimed.unique_id,
            outcome=log.outcome,
            reason="stopped at the deadline" if deadline_exceeded else None,
        )
        if log.outcome != "success" and self._pause_if_failing(run, stored, log.error):
            return outcome.model_copy(update={"reason": "run paused"})
        return outcome

    def _outside_window(self, run: RunContext, contact: PageContact, stored: Contact) -> DialOutcome | None:
        """None when the contact may be called now; else it is deferred to its window's next
        opening, or skipped when its window never opens."""
        now_ms = self._clock.now_ms()
        opening = run.may_call_from_ms(stored, now_ms)
        if opening is None:
            return self._recorder.record_skipped(run, contact, stored, reason=NO_WINDOW_REASON, error=NO_WINDOW_ERROR)
        if opening > now_ms:
            return self._recorder.defer(run, contact, opening, "outside its calling window")
        return None

    def _claim_with_slot(self, run: RunContext, contact: PageContact, stored: Contact) -> Claimed | DialOutcome:
        """Claim the dial with a call slot, and the call against the number's limits. When
        the number was called too recently the contact is deferred until it may be. When
        the run's or the client's cap is full, the slots whose calls never gave a final
        status are reaped and the claim tried again; still none free: the outcome says how
        long to wait (in a Wait state, not here)."""
        client = self._client_limits.get(run.clientId)
        limits = CallLimits(
            run.maxConcurrentCalls, client.maxConcurrentCalls, client.maxCallsPerSecond, self._max_call_seconds
        )
        per_number = NumberLimits.of(client)
        reaped = False
        for _ in range(_NUMBER_READS):
            number = None
            if per_number.active:
                use = self._numbers.number_use(run.clientId, stored.phone)
                now_ms = self._clock.now_ms()
                allowed = next_allowed_ms(use, per_number, now_ms)
                if allowed > now_ms:
                    return self._recorder.defer(run, contact, allowed, "its number was called too recently")
                number = NumberCall(run.clientId, stored.phone, use, now_ms)
            claimed = self._recorder.claim(run, contact, error_if_claimed=_INTERRUPTED, limits=limits, number=number)
            reapable = claimed in (ClaimResult.NO_SLOT_RUN, ClaimResult.NO_SLOT_CLIENT)
            if reapable and not reaped and self._slots.reap_expired(run.clientId, now_ms=self._clock.now_ms()):
                reaped = True
                continue
            if claimed != ClaimResult.NUMBER_CHANGED:
                break
        else:
            # The number kept being called elsewhere: look again in a second.
            return self._recorder.defer(run, contact, self._clock.now_ms() + 1000, "its number is being called")
        if not isinstance(claimed, str):
            return claimed
        refusal = _REFUSALS[claimed]
        if self._runs.count_slot_wait(run.ref) > self._slot_waits:
            # As many waits as this execution's history allows: a fresh one goes on from here.
            return DialOutcome(
                dialed=False,
                reason=f"handing over while waiting for a call slot ({refusal})",
                next="hand-over",
                slotWait=SlotWait(seconds=0, contact=contact, handOver=True),
            )
        held = [] if refusal == "rate" else self._slots.held(run.clientId)
        if refusal == "run":
            held = [s for s in held if s.owner.run_id == run.runId]
        seconds = slot_wait_seconds(
            contact.slotWaits,
            now_ms=self._clock.now_ms(),
            next_release_by_ms=min((s.release_by_ms for s in held), default=None),
            refusal=refusal,
        )
        return DialOutcome(
            dialed=False,
            reason=f"waiting for a call slot ({refusal})",
            next="wait",
            slotWait=SlotWait(seconds=seconds, contact=contact.model_copy(update={"slotWaits": contact.slotWaits + 1})),
        )

    def _complete_placed_call(
        self, run: RunContext, contact: PageContact, log: CallLog, time_left_ms: Callable[[], int] | None
    ) -> None:
        """Log and count a call that was placed, trying for a while if DynamoDB stays busy
        (never past the function's time left); then the step fails, and its retry (if the
        execution still runs) logs it unknown."""
        patience_ms = self._settle_patience_ms
        if time_left_ms is not None:
            patience_ms = min(patience_ms, time_left_ms() - _LAST_MARGIN_MS)
        deadline = self._clock.now_ms() + patience_ms
        while True:
            try:
                self._recorder.complete(run, contact, log, release_slot=True)
                return
            except DependencyUnavailable:
                if self._clock.now_ms() + _SETTLE_PAUSE_SECONDS * 1000 >= deadline:
                    raise
                self._sleep(_SETTLE_PAUSE_SECONDS)

    def _pause_if_failing(self, run: RunContext, contact: Contact, error: str | None) -> bool:
        """After too many failed calls in a row the provider is likely down or refusing us:
        pause the run with the reason rather than burn through the rest of the list."""
        if self._pause_after <= 0:
            return False
        record = self._runs.get_run(run.ref)
        if record.consecutive_failures < self._pause_after:
            return False
        # The reason is shown in the run's progress and given to StopExecution, whose cause
        # the execution's history keeps: the provider's error may quote the contact.
        last_error = redact_contact(error or "", contact.name, contact.phone)
        reason = f"paused after {record.consecutive_failures} consecutive failed calls; last error: {last_error}"
        return self._ending.pause(run.ref, reason)
