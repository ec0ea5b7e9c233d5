"""Dialing one contact of a run: at most once, paced, logged and counted exactly once."""

from __future__ import annotations

import time
from collections.abc import Callable

from campaign_calling.clock import Clock
from campaign_calling.data.runs import ClaimResult, RunRepository
from campaign_calling.ids import call_unique_id
from campaign_calling.logic.pacing import remaining_ms
from campaign_calling.logic.placing import CallPlacer, new_call_log
from campaign_calling.logic.run_models import DialOutcome, PageContact, RunContext
from campaign_calling.models import Contact


class DialRecorder:
    """Logs dials that did not finish normally. Needs no provider: it never dials."""

    def __init__(self, *, runs: RunRepository, clock: Clock) -> None:
        self._runs = runs
        self._clock = clock

    def record_failure(self, run: RunContext, contact: PageContact, error: str) -> DialOutcome:
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
            return self.settle_earlier_claim(run, contact, error=error)
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

    def settle_earlier_claim(self, run: RunContext, contact: PageContact, *, error: str) -> DialOutcome:
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


class DialStep:
    def __init__(
        self,
        *,
        runs: RunRepository,
        placer: CallPlacer,
        recorder: DialRecorder,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._runs = runs
        self._placer = placer
        self._recorder = recorder
        self._clock = clock
        self._sleep = sleep

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
            return self._recorder.settle_earlier_claim(run, contact, error="dial step ran again after an interruption")

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


def _contact(contact: PageContact) -> Contact:
    return Contact(id=contact.contactId, name=contact.name, phone=contact.phone, seq=contact.seq)
