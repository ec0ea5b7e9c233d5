"""The steps of a campaign run around its dials: pages, hand-overs, the end."""

from __future__ import annotations

from campaign_calling.aws.stepfunctions import execution_arn, execution_name
from campaign_calling.clock import Clock, rfc3339_seconds
from campaign_calling.runs.budget import RETRY_WAITS_PER_EXECUTION, contacts_per_execution
from campaign_calling.runs.lifecycle import RunEnding
from campaign_calling.runs.models import Cursor, Page, PageContact, ResumePoint, RunContext, RunState
from campaign_calling.runs.pacing import wait_state_seconds
from campaign_calling.runs.ports import CampaignReader, RetryReader, RunStore, SlotKeeper, Workflow
from campaign_calling.runs.retry_store import DueRetry

# How long a run with retries waits at most before it looks again at its calls in progress
# (a status webhook may end one at any moment): 1 s, then a second more each time the
# execution waits, up to this.
CALLS_IN_PROGRESS_POLL_SECONDS = 15


class PageLoader:
    """Reads a run's contacts a page at a time (the only step that needs the paging settings),
    and, for a run with retries, its due retries (runs/retries.py)."""

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
    ) -> None:
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
        if retrying:
            due = self._retries.due(run.ref, now_ms=self._clock.now_ms(), limit=limit)
            if due:
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
        if retrying and not has_more:
            # The last contacts (or none): the run goes on while retries or calls are pending.
            if contacts:
                has_more = True
            else:
                return self._wait_or_end(run, cursor)
        return RunState(
            run=run,
            cursor=next_cursor,
            page=Page(
                contacts=page_contacts,
                running=True,
                hasMore=has_more,
                continueAsNew=has_more and execution_full,
            ),
        )

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

    def _wait_or_end(self, run: RunContext, cursor: Cursor) -> RunState:
        """No new contact and no retry due: the run ends when no retry is pending and none of
        its calls is in progress (every contact final); else it waits, in a Wait state, for
        the next retry due or a while for its calls to end."""
        now_ms = self._clock.now_ms()
        # The calls first: a call's final status writes its retry in the same transaction,
        # so once none is in progress every retry it led to is visible below.
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
        next_cursor = cursor.model_copy(update={"retryWaitsInExecution": cursor.retryWaitsInExecution + 1})
        page = Page(
            contacts=[],
            running=True,
            hasMore=True,
            # As many waits as this execution's history allows: the next one goes on waiting.
            continueAsNew=next_cursor.retryWaitsInExecution >= RETRY_WAITS_PER_EXECUTION,
            wait=True,
            waitUntil=rfc3339_seconds(max(until, now_ms)),
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
