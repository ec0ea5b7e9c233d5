"""The steps of a campaign run, called by the state machine's tasks."""

from __future__ import annotations

import time
from collections.abc import Callable

from campaign_calling.clock import Clock
from campaign_calling.data.campaigns import CampaignRepository
from campaign_calling.data.runs import ClaimResult, RunRepository
from campaign_calling.ids import call_unique_id
from campaign_calling.logic.pacing import remaining_ms, wait_state_seconds
from campaign_calling.logic.placing import CallPlacer, new_call_log
from campaign_calling.logic.run_models import Cursor, DialOutcome, Page, PageContact, RunContext, RunState
from campaign_calling.models import Contact
from campaign_calling.workflow import WorkflowEngine, execution_arn, execution_name


class RunSteps:
    def __init__(
        self,
        *,
        campaigns: CampaignRepository,
        runs: RunRepository,
        placer: CallPlacer,
        workflow: WorkflowEngine,
        clock: Clock,
        page_size: int,
        pages_per_execution: int,
        progress_ttl_seconds: int,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._campaigns = campaigns
        self._runs = runs
        self._placer = placer
        self._workflow = workflow
        self._clock = clock
        self._page_size = page_size
        self._pages_per_execution = pages_per_execution
        self._ttl = progress_ttl_seconds
        self._sleep = sleep

    def load_page(self, run: RunContext, cursor: Cursor) -> RunState:
        """The next page of contacts, and where the following page starts."""
        record = self._runs.get_run(run.clientId, run.campaignId, run.runId)
        if record.progress.status != "running":
            return RunState(
                run=run, cursor=cursor, page=Page(contacts=[], running=False, hasMore=False, continueAsNew=False)
            )
        contacts = self._campaigns.contacts_after(
            run.clientId, run.campaignId, after_seq=cursor.afterSeq, last_seq=run.lastSeq, limit=self._page_size
        )
        page_contacts = [
            PageContact(
                seq=c.seq,
                index=cursor.nextIndex + i,
                contactId=c.id,
                name=c.name,
                phone=c.phone,
                waitSeconds=wait_state_seconds(run.delayMs, cursor.nextIndex + i),
            )
            for i, c in enumerate(contacts)
        ]
        last_seq_read = contacts[-1].seq if contacts else run.lastSeq
        next_cursor = Cursor(
            afterSeq=last_seq_read,
            nextIndex=cursor.nextIndex + len(contacts),
            pagesInExecution=cursor.pagesInExecution + 1,
            execution=cursor.execution,
        )
        has_more = bool(contacts) and last_seq_read < run.lastSeq
        return RunState(
            run=run,
            cursor=next_cursor,
            page=Page(
                contacts=page_contacts,
                running=True,
                hasMore=has_more,
                continueAsNew=has_more and next_cursor.pagesInExecution >= self._pages_per_execution,
            ),
        )

    def dial_contact(self, run: RunContext, contact: PageContact) -> DialOutcome:
        record = self._runs.get_run(run.clientId, run.campaignId, run.runId)
        if record.progress.status != "running":
            return DialOutcome(dialed=False, reason=f"run {record.progress.status}")
        self._placer.prepare()
        wait_ms = remaining_ms(run.delayMs, record.last_dial_started_ms, self._clock.now_ms())
        if wait_ms:
            self._sleep(wait_ms / 1000)

        started_ms = self._clock.now_ms()
        unique_id = call_unique_id(started_ms)
        claimed = self._runs.claim_dial(
            run.clientId,
            run.campaignId,
            run.runId,
            seq=contact.seq,
            index=contact.index,
            unique_id=unique_id,
            now_ms=started_ms,
        )
        if claimed == ClaimResult.RUN_NOT_RUNNING:
            return DialOutcome(dialed=False, reason="run stopped")
        if claimed == ClaimResult.ALREADY_CLAIMED:
            return self._settle_earlier_claim(run, contact, error="dial step ran again after an interruption")

        log = self._placer.place(
            client_id=run.clientId,
            campaign_id=run.campaignId,
            contact=_contact(contact),
            agent_id=run.agent.agentId,
            provider_agent_id=run.agent.providerAgentId,
            caller_id=run.agent.callerId,
            unique_id=unique_id,
            started_ms=started_ms,
            # Same key for every retry of this contact's dial in this run.
            idempotency_key=f"{run.runId}:{contact.seq}:1",
            run_id=run.runId,
        )
        self._runs.complete_dial(
            run.clientId, run.campaignId, run.runId, seq=contact.seq, log=log, now_ms=self._clock.now_ms()
        )
        return DialOutcome(dialed=True, uniqueId=unique_id, outcome=log.outcome)

    def record_dial_failure(self, run: RunContext, contact: PageContact, error: str) -> DialOutcome:
        """The dial step failed for good. Log the contact once, as failed when it was never
        dialed, as unknown when it may have been: never dial it again."""
        started_ms = self._clock.now_ms()
        unique_id = call_unique_id(started_ms)
        claimed = self._runs.claim_dial(
            run.clientId,
            run.campaignId,
            run.runId,
            seq=contact.seq,
            index=contact.index,
            unique_id=unique_id,
            now_ms=started_ms,
        )
        if claimed == ClaimResult.RUN_NOT_RUNNING:
            return DialOutcome(dialed=False, reason="run stopped")
        if claimed == ClaimResult.ALREADY_CLAIMED:
            return self._settle_earlier_claim(run, contact, error=error)
        log = new_call_log(
            campaign_id=run.campaignId,
            contact=_contact(contact),
            agent_id=run.agent.agentId,
            unique_id=unique_id,
            started_ms=started_ms,
            ended_ms=self._clock.now_ms(),
            run_id=run.runId,
            outcome="failed",
            error=f"not dialed: {error}",
        )
        self._runs.complete_dial(
            run.clientId, run.campaignId, run.runId, seq=contact.seq, log=log, now_ms=self._clock.now_ms()
        )
        return DialOutcome(dialed=False, uniqueId=unique_id, outcome="failed", reason="dial step failed")

    def _settle_earlier_claim(self, run: RunContext, contact: PageContact, *, error: str) -> DialOutcome:
        claim = self._runs.get_claim(run.clientId, run.campaignId, run.runId, contact.seq)
        if claim is None or claim.status == "done":
            # Already logged and counted by the earlier attempt: report it, do nothing more.
            return DialOutcome(
                dialed=True,
                uniqueId=claim.unique_id if claim else None,
                outcome=claim.outcome if claim else None,
                reason="already dialed",
            )
        # An earlier attempt claimed the dial and stopped before logging it: the provider
        # may or may not have connected the call, so it is logged as unknown, not redialed.
        log = new_call_log(
            campaign_id=run.campaignId,
            contact=_contact(contact),
            agent_id=run.agent.agentId,
            unique_id=claim.unique_id,
            started_ms=claim.started_ms,
            ended_ms=self._clock.now_ms(),
            run_id=run.runId,
            outcome="unknown",
            error=f"outcome unknown: {error}",
        )
        self._runs.complete_dial(
            run.clientId, run.campaignId, run.runId, seq=contact.seq, log=log, now_ms=self._clock.now_ms()
        )
        return DialOutcome(
            dialed=True, uniqueId=claim.unique_id, outcome="unknown", reason="earlier attempt interrupted"
        )

    def continue_as_new(
        self, run: RunContext, cursor: Cursor, *, current_execution_arn: str, state_machine_arn: str
    ) -> str | None:
        """Hand the run over to a fresh execution (each has its own 25,000-event history).
        Returns the new execution's ARN, or None when the run is no longer running."""
        number = cursor.execution + 1
        name = execution_name(run.runId, number)
        new_arn = execution_arn(state_machine_arn, name)
        record = self._runs.get_run(run.clientId, run.campaignId, run.runId)
        if record.execution_arn != new_arn:
            # Record the hand-over first: stop reads the current execution from here.
            if not self._runs.set_execution(
                run.clientId, run.campaignId, run.runId, new_arn, replaces=current_execution_arn
            ):
                return None
        next_cursor = cursor.model_copy(update={"pagesInExecution": 0, "execution": number})
        payload = RunState(run=run, cursor=next_cursor).model_dump(exclude_none=True)
        return self._workflow.start(state_machine_arn, name, payload)

    def finalise(self, run: RunContext) -> str:
        """Every contact has been called: close the run and release the campaign."""
        finished = self._runs.end_run(
            run.clientId,
            run.campaignId,
            run.runId,
            status="completed",
            now_ms=self._clock.now_ms(),
            ttl_seconds=self._ttl,
            final_index=run.totalContacts,
        )
        return "completed" if finished else "already ended"


def _contact(contact: PageContact) -> Contact:
    return Contact(id=contact.contactId, name=contact.name, phone=contact.phone, seq=contact.seq)
