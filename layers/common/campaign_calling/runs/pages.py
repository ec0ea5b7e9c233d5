"""The steps of a campaign run around its dials: pages, hand-overs, the end."""

from __future__ import annotations

from campaign_calling.aws.stepfunctions import execution_arn, execution_name
from campaign_calling.clock import Clock, iso_from_ms, rfc3339_seconds
from campaign_calling.compliance.number_limits import NumberLimits
from campaign_calling.models import Contact
from campaign_calling.runs.budget import RETRY_WAITS_PER_EXECUTION, contacts_per_execution
from campaign_calling.runs.claims import DEFERRALS_PER_TRANSACTION, ClaimResult, Deferral
from campaign_calling.runs.lifecycle import RunEnding
from campaign_calling.runs.models import Cursor, Page, PageContact, ResumePoint, RunContext, RunState
from campaign_calling.runs.pacing import wait_state_seconds
from campaign_calling.runs.ports import (
    CampaignReader,
    ClientLimitsReader,
    Deferrer,
    RetryReader,
    RunStore,
    SlotKeeper,
    Workflow,
)
from campaign_calling.runs.retry_store import CallOfContact, DueRetry

# How long a run with retries waits at most before it looks again at its calls in progress
# (a status webhook may end one at any moment): 1 s, then a second more each time the
# execution waits, up to this.
CALLS_IN_PROGRESS_POLL_SECONDS = 15


class PageLoader:
    """Reads a run's contacts a page at a time (the only step that needs the paging settings),
    and the run's queue: its due retries (runs/retries.py) and the contacts it deferred.

    A run with a calling window defers, as it reads them, the contacts whose window is
    closed (compliance/windows.py): each waits in the queue until its window opens, and the
    page holds only the contacts callable now. When no contact is callable, the run waits in
    a Wait state until the earliest one is (progress shows ``waitingUntil``)."""

    def __init__(
        self,
        *,
        campaigns: CampaignReader,
        runs: RunStore,
        page_size: int,
        pages_per_execution: int,
        retries: RetryReader,
        slots: SlotKeeper,
        clock: Clock,
        deferrals: Deferrer,
        client_limits: ClientLimitsReader,
    ) -> None:
        self._client_limits = client_limits
        self._deferrals = deferrals
        self._campaigns = campaigns
        self._runs = runs
        self._page_size = page_size
        self._pages_per_execution = pages_per_execution
        self._retries = retries
        self._slots = slots
        self._clock = clock

    def load_page(self, run: RunContext, cursor: Cursor) -> RunState:
        """The next page: the run's due retries if any, else its next contacts; for a run with
        retries and nothing to dial now, when to look again. And where the next page starts."""
        record = self._runs.get_run(run.ref)
        if record.progress.status != "running":
            return RunState(
                run=run, cursor=cursor, page=Page(contacts=[], running=False, hasMore=False, continueAsNew=False)
            )
        run = self._follow_campaign_end(run)
        # No execution may call more contacts than its history can hold in the worst case.
        budget = contacts_per_execution(self._pages_per_execution)
        limit = max(1, min(self._page_size, budget - cursor.contactsInExecution))
        retrying = run.retry is not None and run.retry.retries
        queued = retrying or record.progress.contactsWaiting > 0
        if queued:
            due = self._retries.due(run.ref, now_ms=self._clock.now_ms(), limit=limit)
            if due:
                self._stop_waiting(run, record.progress.waitingUntil)
                return self._retry_page(run, cursor, due, budget)
        contacts = self._campaigns.contacts_after(
            run.clientId, run.campaignId, after_seq=cursor.afterSeq, last_seq=run.lastSeq, limit=limit
        )
        page_contacts = [
            PageContact(
                seq=c.seq,
                index=cursor.nextIndex + i,
                contactId=c.id,
                waitSeconds=wait_state_seconds(run.delayMs, cursor.nextIndex + i),
            )
            for i, c in enumerate(contacts)
        ]
        callable_now = self._defer_outside_window(run, contacts, page_contacts)
        queued = queued or len(callable_now) < len(page_contacts)
        last_seq_read = contacts[-1].seq if contacts else run.lastSeq
        next_cursor = Cursor(
            afterSeq=last_seq_read,
            nextIndex=cursor.nextIndex + len(contacts),
            pagesInExecution=cursor.pagesInExecution + 1,
            contactsInExecution=cursor.contactsInExecution + len(contacts),
            execution=cursor.execution,
        )
        has_more = bool(contacts) and last_seq_read < run.lastSeq
        execution_full = (
            next_cursor.pagesInExecution >= self._pages_per_execution or next_cursor.contactsInExecution >= budget
        )
        if not has_more and not queued and contacts:
            # The dials of these last contacts may still defer some (a window closing, a number
            # called too recently): then the run must look at its queue once more.
            queued = run.callingWindow is not None or NumberLimits.of(self._client_limits.get(run.clientId)).active
        if queued and not has_more:
            # The last contacts (or none): the run goes on while its queue holds contacts
            # (retries, deferred contacts) or, with retries, while calls are in progress.
            if contacts:
                has_more = True
            else:
                return self._wait_or_end(run, cursor, record.progress.waitingUntil, calls=retrying)
        if callable_now:
            self._stop_waiting(run, record.progress.waitingUntil)
        return RunState(
            run=run,
            cursor=next_cursor,
            page=Page(
                contacts=callable_now,
                running=True,
                hasMore=has_more,
                continueAsNew=has_more and execution_full,
            ),
        )

    def _defer_outside_window(
        self, run: RunContext, contacts: list[Contact], page: list[PageContact]
    ) -> list[PageContact]:
        """The page's contacts callable now; the others are deferred to their window's next
        opening (a contact whose window never opens in all its zones is left on the page: its
        dial step logs it skipped)."""
        if run.callingWindow is None:
            return page
        now_ms = self._clock.now_ms()
        callable_now: list[PageContact] = []
        deferred: list[Deferral] = []
        for contact, at in zip(contacts, page, strict=True):
            opening = run.may_call_from_ms(contact, now_ms)
            if opening is None or opening <= now_ms:
                callable_now.append(at)
            else:
                deferred.append(Deferral(CallOfContact(at.seq, at.index, at.contactId, 1), opening))
        for start in range(0, len(deferred), DEFERRALS_PER_TRANSACTION):
            batch = deferred[start : start + DEFERRALS_PER_TRANSACTION]
            if self._deferrals.defer(run.ref, batch) == ClaimResult.ALREADY_CLAIMED:
                # One of them was claimed or deferred before (a page read again after a
                # resume): each on its own, the others are still deferred.
                for one in batch:
                    self._deferrals.defer(run.ref, [one])
        return callable_now

    def _stop_waiting(self, run: RunContext, waiting_until: str | None) -> None:
        if waiting_until is not None:
            self._runs.set_waiting_until(run.ref, None)

    def _retry_page(self, run: RunContext, cursor: Cursor, due: list[DueRetry], budget: int) -> RunState:
        """A page of due retries alone (never mixed with new contacts), so that a hand-over
        from it needs no cursor of its own: the cursor stays where the new contacts are."""
        page_contacts = [
            PageContact(
                seq=r.seq,
                index=r.index,
                contactId=r.contact_id,
                waitSeconds=wait_state_seconds(run.delayMs, 1),
                attempt=r.attempt,
                dueMs=r.due_ms,
            )
            for r in due
        ]
        next_cursor = cursor.model_copy(
            update={
                "pagesInExecution": cursor.pagesInExecution + 1,
                "contactsInExecution": cursor.contactsInExecution + len(due),
            }
        )
        full = next_cursor.pagesInExecution >= self._pages_per_execution or next_cursor.contactsInExecution >= budget
        page = Page(contacts=page_contacts, running=True, hasMore=True, continueAsNew=full)
        return RunState(run=run, cursor=next_cursor, page=page)

    def _wait_or_end(self, run: RunContext, cursor: Cursor, waiting_until: str | None, *, calls: bool) -> RunState:
        """No new contact and nothing due in the queue: the run ends when its queue is empty
        and (``calls``: a run with retries) none of its calls is in progress (every contact
        final); else it waits, in a Wait state, for the next item due or a while for its
        calls to end."""
        now_ms = self._clock.now_ms()
        held = []
        if calls:
            # The calls first: a call's final status writes its retry in the same
            # transaction, so once none is in progress every retry it led to is visible below.
            self._slots.reap_expired(run.clientId, now_ms=now_ms)
            held = [s for s in self._slots.held(run.clientId) if s.owner.run_id == run.runId]
        next_due = self._retries.next_due_ms(run.ref)
        if not held and next_due is None:
            return RunState(
                run=run, cursor=cursor, page=Page(contacts=[], running=True, hasMore=False, continueAsNew=False)
            )
        poll_s = min(1 + cursor.retryWaitsInExecution, CALLS_IN_PROGRESS_POLL_SECONDS)
        until = now_ms + poll_s * 1000 if held else None
        for moment in (next_due, *(s.release_by_ms for s in held)):
            if moment is not None:
                until = moment if until is None else min(until, moment)
        assert until is not None
        until = max(until, now_ms)
        if waiting_until != iso_from_ms(until):
            self._runs.set_waiting_until(run.ref, iso_from_ms(until))
        next_cursor = cursor.model_copy(update={"retryWaitsInExecution": cursor.retryWaitsInExecution + 1})
        page = Page(
            contacts=[],
            running=True,
            hasMore=True,
            # As many waits as this execution's history allows: the next one goes on waiting.
            continueAsNew=next_cursor.retryWaitsInExecution >= RETRY_WAITS_PER_EXECUTION,
            wait=True,
            waitUntil=rfc3339_seconds(until),
        )
        return RunState(run=run, cursor=next_cursor, page=page)

    def _follow_campaign_end(self, run: RunContext) -> RunContext:
        """Contacts added while the run is going are called by it, after the ones it had:
        each page reads up to the campaign's current end (its visibility mark, so never
        part of an import), and the run's progress counts them."""
        campaign = self._campaigns.get(run.clientId, run.campaignId, consistent=True)
        if campaign.nextContactSeq <= run.lastSeq:
            return run
        self._runs.extend_run(run.ref, last_seq=campaign.nextContactSeq, total_contacts=campaign.totalContacts)
        return run.model_copy(update={"lastSeq": campaign.nextContactSeq, "totalContacts": campaign.totalContacts})


class RunSteps:
    """The hand-over to a fresh execution, and the run's end once every contact is done."""

    def __init__(self, *, runs: RunStore, workflow: Workflow, ending: RunEnding) -> None:
        self._runs = runs
        self._workflow = workflow
        self._ending = ending

    def continue_as_new(
        self,
        run: RunContext,
        cursor: Cursor,
        *,
        current_execution_arn: str,
        state_machine_arn: str,
        resume_at: ResumePoint | None = None,
    ) -> str | None:
        """Hand the run over to a fresh execution (each has its own 25,000-event history),
        at the cursor, or at ``resume_at`` (a contact that waited for a call slot: the
        contacts after it on its page were not dialed either, the Map having ended there).
        Returns the new execution's ARN, or None when the run is no longer running."""
        if resume_at is not None:
            cursor = resume_at.cursor(cursor)
        number = cursor.execution + 1
        name = execution_name(run.runId, number)
        new_arn = execution_arn(state_machine_arn, name)
        record = self._runs.get_run(run.ref)
        if record.execution_arn != new_arn:
            # Record the hand-over first: stop reads the current execution from here.
            if not self._runs.set_execution(run.ref, new_arn, replaces=current_execution_arn):
                return None
        next_cursor = cursor.model_copy(
            update={"pagesInExecution": 0, "contactsInExecution": 0, "retryWaitsInExecution": 0, "execution": number}
        )
        payload = RunState(run=run, cursor=next_cursor).model_dump(exclude_none=True)
        return self._workflow.start(state_machine_arn, name, payload)

    def finalise(self, run: RunContext, cursor: Cursor | None = None) -> str:
        """Every contact read has been dialed or logged (a contact that could be neither
        fails the execution before this step): close the run and release the campaign.

        The final index is the count of contacts handed to dial steps (the cursor's), not
        the campaign's size: a run never reports a position it did not account for. Without
        a cursor (an execution started before it was passed) the index stays as claimed."""
        finished = self._ending.complete(run.ref, final_index=cursor.nextIndex if cursor is not None else None)
        return "completed" if finished else "already ended"
