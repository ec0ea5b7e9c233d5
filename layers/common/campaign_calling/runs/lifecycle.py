"""How a run starts and how it ends, in one place.

A run starts (``CallingService.start``) and ends exactly once, in one of these ways, each
a conditional write that only a running run passes (so no two ends can both happen):

- stopped: by request (``RunEnding.stop``);
- paused: after too many failed calls in a row (``RunEnding.pause``, from the dial step);
- completed: every contact was dialed or logged (``RunEnding.complete``, the last step);
- failed: its workflow could not be started, or its execution ended without closing it
  (``RunEnding.fail``, from the start, the execution finaliser and the sweeper).

Resuming a paused run would start here too. Nothing else calls the store's ``end_run``.
"""

from __future__ import annotations

from dataclasses import dataclass

from campaign_calling.aws.stepfunctions import execution_arn, execution_name
from campaign_calling.clock import Clock, iso_from_ms
from campaign_calling.errors import Conflict, DependencyUnavailable, InvalidRequest
from campaign_calling.ids import new_run_id
from campaign_calling.models import Progress
from campaign_calling.runs.models import Cursor, RunAgent, RunContext, RunRef, RunState
from campaign_calling.runs.ports import AgentReader, CampaignReader, RunStore, Workflow

_START_RACES = 3
STOPPED_BY_REQUEST = "stopped by request"
WORKFLOW_NOT_STARTED = "the calling workflow could not be started"


@dataclass(frozen=True)
class StartedRun:
    campaign_id: str
    run_id: str
    total_contacts: int
    execution_arn: str


class RunEnding:
    """The ways a running run ends. Each returns whether it ended the run (False: it had
    already ended, or, given an execution, that execution is no longer its current one)."""

    def __init__(self, *, runs: RunStore, workflow: Workflow) -> None:
        self._runs = runs
        self._workflow = workflow

    def stop(self, ref: RunRef) -> bool:
        if not self._runs.end_run(ref, status="stopped", reason=STOPPED_BY_REQUEST):
            return False
        # From here no dial can be claimed (claims require a running run).
        self._stop_execution(ref, STOPPED_BY_REQUEST)
        return True

    def pause(self, ref: RunRef, reason: str) -> bool:
        """Too many failed calls in a row. ``reason`` is kept in the run's progress and in
        the execution's history: it must not quote a contact."""
        if not self._runs.end_run(ref, status="paused", reason=reason):
            return False
        # No further dial could be claimed anyway; this ends the execution's idle waits.
        self._stop_execution(ref, reason)
        return True

    def complete(self, ref: RunRef, final_index: int | None) -> bool:
        """Every contact read has been dialed or logged. ``final_index``: the count of
        contacts handed to dial steps (None leaves the index as claimed)."""
        return self._runs.end_run(ref, status="completed", final_index=final_index)

    def fail(self, ref: RunRef, reason: str, *, execution_arn: str | None = None) -> bool:
        """The run cannot go on. Given ``execution_arn``, only while that execution is still
        the run's current one at the moment of writing (a hand-over may have happened)."""
        return self._runs.end_run(ref, status="failed", reason=reason, execution_arn=execution_arn)

    def _stop_execution(self, ref: RunRef, cause: str) -> None:
        record = self._runs.get_run(ref)
        if record.execution_arn:
            self._workflow.stop(record.execution_arn, cause=cause)


class CallingService:
    """start-calling and stop-calling."""

    def __init__(
        self,
        *,
        agents: AgentReader,
        campaigns: CampaignReader,
        runs: RunStore,
        workflow: Workflow,
        ending: RunEnding,
        clock: Clock,
        state_machine_arn: str,
    ) -> None:
        self._agents = agents
        self._campaigns = campaigns
        self._runs = runs
        self._workflow = workflow
        self._ending = ending
        self._clock = clock
        self._state_machine_arn = state_machine_arn

    def start(self, client_id: str, campaign_id: str, agent_id: str, delay_ms: int) -> StartedRun:
        agent = self._agents.get(client_id, agent_id)
        for _ in range(_START_RACES):
            campaign = self._campaigns.get(client_id, campaign_id, consistent=True)
            if campaign.isRunning:
                raise Conflict("campaign is already running")
            if campaign.totalContacts == 0:
                raise InvalidRequest("campaign has no contacts")
            now = self._clock.now_ms()
            ref = RunRef(client_id, campaign_id, new_run_id(now))
            name = execution_name(ref.run_id, 1)
            arn = execution_arn(self._state_machine_arn, name)
            progress = Progress(
                campaignId=campaign_id,
                runId=ref.run_id,
                totalContacts=campaign.totalContacts,
                currentIndex=0,
                completedCalls=0,
                successfulCalls=0,
                failedCalls=0,
                startTime=iso_from_ms(now),
                isRunning=True,
                status="running",
                # The API's name for the delay, kept in the progress it returns.
                delayBetweenCalls=delay_ms,
            )
            try:
                self._runs.start_run(
                    ref, progress, last_seq=campaign.nextContactSeq, agent_id=agent.id, execution_arn=arn
                )
            except Conflict:
                continue  # running now, or contacts were added meanwhile: look again
            break
        else:
            raise Conflict("campaign is already running")

        run = RunContext(
            clientId=client_id,
            campaignId=campaign_id,
            runId=ref.run_id,
            delayMs=delay_ms,
            lastSeq=campaign.nextContactSeq,
            totalContacts=campaign.totalContacts,
            agent=RunAgent.of(agent),
        )
        try:
            self._workflow.start(
                self._state_machine_arn, name, RunState(run=run, cursor=Cursor()).model_dump(exclude_none=True)
            )
        except DependencyUnavailable:
            # Release the campaign: a run that never started must not block the next start.
            self._ending.fail(ref, WORKFLOW_NOT_STARTED)
            raise
        return StartedRun(campaign_id, ref.run_id, campaign.totalContacts, arn)

    def stop(self, client_id: str, campaign_id: str) -> None:
        campaign = self._campaigns.get(client_id, campaign_id, consistent=True)
        if not campaign.isRunning or not campaign.currentRunId:
            raise Conflict("campaign is not running")
        if not self._ending.stop(RunRef(client_id, campaign_id, campaign.currentRunId)):
            raise Conflict("campaign is not running")
