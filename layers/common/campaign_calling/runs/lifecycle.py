"""How a run starts and how it ends, in one place.

A run starts (``CallingService.start``) and ends exactly once, in one of these ways, each
a conditional write that only a running run passes (so no two ends can both happen):

- stopped: by request (``RunEnding.stop``);
- paused: by request (``CallingService.pause``) or after too many failed calls in a row
  (``RunEnding.pause``, from the dial step);
- completed: every contact was dialed or logged (``RunEnding.complete``, the last step);
- failed: its workflow could not be started, or its execution ended without closing it
  (``RunEnding.fail``, from the start, the execution finaliser and the sweeper).

Nothing else calls the store's ``end_run``.

Pause and resume
----------------

A paused run, and a run whose execution failed, timed out, was stopped outside the API or
vanished (``failed``, closed by the finaliser or the sweeper with the reason), is
*resumable*: ``CallingService.resume`` puts the same run (same ``runId``, counters going on)
back to running and starts a new execution of it. A run that failed because its first
execution could not be started dialed nobody: it is not resumable, a new start is.

- **Where it goes on.** Every dial claim also records the claimed contact's sequence on the
  run (``claimedSeq``, in the claim's own transaction; ``currentIndex`` is its position).
  A run is one line of calls and a contact neither dialed nor logged fails the execution
  there, so every contact before the last one claimed is claimed. The resume starts its
  execution *at* that contact (cursor ``afterSeq = claimedSeq - 1``, ``nextIndex =
  currentIndex``): its dial step finds the claim, dials nobody, and settles it (logs it
  ``unknown``) if the execution died between dialing and logging. Whatever happened in
  between (a stop outside the API, a failed execution, the engine restarted), the claims,
  not the cursor, are the guarantee: a contact claimed in the run is never dialed again,
  so a resume of a run claimed before ``claimedSeq`` existed starts at its first contact
  and only costs time.
- **Unique execution names.** Executions are named ``<runId>-<n>`` (``n`` from 0001, one up
  per hand-over). The run keeps ``executionCount``; a resume names its execution ``n =
  executionCount + 1`` and records it conditional on the count still being ``n - 1``, so two
  resumes cannot both pass, and the new execution's cursor carries ``n``, so its hand-overs
  go on from there (``n + 1``...). The previous execution is stopped first (best effort); if
  it lives on, its hand-over fails (it is not the current execution any more) and its dials
  are refused or are no-ops by their claims.
- **No expiry while paused.** Pausing removes the progress item's TTL; stop, complete and
  fail set it as before. A failed run keeps its TTL: it is resumable until its progress
  expires (``ProgressTtlSeconds``), then it is gone and a new start begins a new run.
- **Contacts added meanwhile.** A resume reads the campaign's current end
  (``nextContactSeq``) into the run (``lastSeq``, ``totalContacts``), conditional on the
  campaign still being at that end, as a start does: contacts added while the run was
  paused are called by it, after the ones it had.
- **start and stop.** start-calling on a campaign whose latest run is resumable answers 409
  naming resume-calling and stop-calling; stop-calling on a paused or failed run ends it
  ``stopped`` (and starts its TTL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from campaign_calling.aws.stepfunctions import execution_arn, execution_name
from campaign_calling.clock import Clock, iso_from_ms
from campaign_calling.errors import Conflict, DependencyUnavailable, InvalidRequest, NotFound
from campaign_calling.ids import new_run_id
from campaign_calling.models import CallingWindow, Progress, RetryPolicy, RunStatus
from campaign_calling.runs.models import Cursor, RunAgent, RunContext, RunRef, RunState
from campaign_calling.runs.ports import AgentReader, CampaignReader, ClientLimitsReader, RunStore, Workflow

if TYPE_CHECKING:
    from campaign_calling.models import Campaign
    from campaign_calling.runs.repository import RunRecord

_START_RACES = 3
# The stack parameter MinRetryDelaySeconds' default.
DEFAULT_MIN_RETRY_DELAY_SECONDS = 60
STOPPED_BY_REQUEST = "stopped by request"
PAUSED_BY_REQUEST = "paused by request"
# A run in one of these may be resumed (unless it failed before it ever started).
RESUMABLE: tuple[RunStatus, ...] = ("paused", "failed")
RESUMABLE_RUN = "campaign has a paused or failed run: resume it (resume-calling) or end it (stop-calling)"
NOTHING_TO_RESUME = "nothing to resume"
WORKFLOW_NOT_STARTED = "the calling workflow could not be started"
WORKFLOW_NOT_RESUMED = "the calling workflow could not be resumed"


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
        """A running run, or a resumable one (paused, failed): then it just ends ``stopped``."""
        if not self._runs.end_run(
            ref, status="stopped", reason=STOPPED_BY_REQUEST, from_statuses=("running", *RESUMABLE)
        ):
            return False
        # From here no dial can be claimed (claims require a running run).
        self._stop_execution(ref, STOPPED_BY_REQUEST)
        return True

    def pause(self, ref: RunRef, reason: str) -> bool:
        """By request, or too many failed calls in a row. ``reason`` is kept in the run's
        progress and in the execution's history: it must not quote a contact."""
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


def resumable(record: RunRecord, now_ms: int) -> bool:
    """Whether a run may be resumed: paused, or failed after it started (not expired)."""
    if record.expired(now_ms) or record.progress.status not in RESUMABLE:
        return False
    return not (record.progress.status == "failed" and record.progress.reason == WORKFLOW_NOT_STARTED)


class CallingService:
    """start-calling, stop-calling, pause-calling and resume-calling."""

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
        client_settings: ClientLimitsReader,
    ) -> None:
        self._client_settings = client_settings
        self._agents = agents
        self._campaigns = campaigns
        self._runs = runs
        self._workflow = workflow
        self._ending = ending
        self._clock = clock
        self._state_machine_arn = state_machine_arn

    def start(
        self,
        client_id: str,
        campaign_id: str,
        agent_id: str,
        delay_ms: int,
        *,
        max_concurrent_calls: int | None = None,
        retry: RetryPolicy | None = None,
        min_retry_delay_seconds: int = DEFAULT_MIN_RETRY_DELAY_SECONDS,
        calling_window: CallingWindow | None = None,
    ) -> StartedRun:
        """``calling_window``: the run's own, else the client's default as set now (the run
        keeps it to its end, resumes included)."""
        if retry is not None and retry.retries and retry.retryDelaySeconds < min_retry_delay_seconds:
            raise InvalidRequest(
                f"retry.retryDelaySeconds must be at least {min_retry_delay_seconds} (this deployment's "
                "MinRetryDelaySeconds)"
            )
        agent = self._agents.get(client_id, agent_id)
        window = calling_window or self._client_settings.get(client_id).callingWindow
        for _ in range(_START_RACES):
            campaign = self._campaigns.get(client_id, campaign_id, consistent=True)
            if campaign.isRunning:
                raise Conflict("campaign is already running")
            if self._resumable_run(client_id, campaign) is not None:
                raise Conflict(RESUMABLE_RUN)
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
                maxConcurrentCalls=max_concurrent_calls,
                retry=retry,
                callingWindow=window,
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
            maxConcurrentCalls=max_concurrent_calls,
            retry=retry,
            callingWindow=window,
            campaignTimezone=campaign.timezone,
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
        """Stop the running run, or end a paused or failed one (``stopped``)."""
        campaign = self._campaigns.get(client_id, campaign_id, consistent=True)
        if not campaign.currentRunId or not (campaign.isRunning or self._resumable_run(client_id, campaign)):
            raise Conflict("campaign is not running")
        if not self._ending.stop(RunRef(client_id, campaign_id, campaign.currentRunId)):
            raise Conflict("campaign is not running")

    def pause(self, client_id: str, campaign_id: str) -> None:
        """No dial starts after this (one in flight may finish and is logged); the run keeps
        its place and its progress until it is resumed or stopped."""
        campaign = self._campaigns.get(client_id, campaign_id, consistent=True)
        if not campaign.isRunning or not campaign.currentRunId:
            raise Conflict("campaign is not running")
        if not self._ending.pause(RunRef(client_id, campaign_id, campaign.currentRunId), PAUSED_BY_REQUEST):
            raise Conflict("campaign is not running")

    def resume(self, client_id: str, campaign_id: str) -> StartedRun:
        """The campaign's paused or failed run goes on in a new execution, from its first
        contact not yet dialed (see the module's docstring)."""
        for _ in range(_START_RACES):
            campaign = self._campaigns.get(client_id, campaign_id, consistent=True)
            if campaign.isRunning:
                raise Conflict("campaign is already running")
            record = self._resumable_run(client_id, campaign)
            if record is None or campaign.currentRunId is None or record.agent_id is None:
                raise Conflict(NOTHING_TO_RESUME)
            ref = RunRef(client_id, campaign_id, campaign.currentRunId)
            # The agent as it is now (the run item keeps its id, the executions its copy).
            agent = self._agents.get(client_id, record.agent_id)
            number = record.execution_count + 1
            name = execution_name(ref.run_id, number)
            arn = execution_arn(self._state_machine_arn, name)
            previous = record.execution_arn
            try:
                self._runs.resume_run(
                    ref,
                    execution_arn=arn,
                    execution_count=number,
                    last_seq=campaign.nextContactSeq,
                    total_contacts=campaign.totalContacts,
                    from_statuses=RESUMABLE,
                )
            except Conflict:
                continue  # resumed or stopped meanwhile, or contacts were added: look again
            break
        else:
            raise Conflict(NOTHING_TO_RESUME)
        if previous:
            # Normally over already; if not, its idle waits end here (its dials would be
            # no-ops by their claims, its hand-over refused: it is not current any more).
            self._workflow.stop(previous, cause="run resumed in a new execution")
        run = RunContext(
            clientId=client_id,
            campaignId=campaign_id,
            runId=ref.run_id,
            delayMs=record.progress.delayBetweenCalls,
            maxConcurrentCalls=record.progress.maxConcurrentCalls,
            retry=record.progress.retry,
            callingWindow=record.progress.callingWindow,
            campaignTimezone=campaign.timezone,
            lastSeq=campaign.nextContactSeq,
            totalContacts=campaign.totalContacts,
            agent=RunAgent.of(agent),
        )
        cursor = Cursor(execution=number)
        if record.claimed_seq is not None:
            # At the last contact claimed: its dial step finds the claim and dials nobody.
            cursor = Cursor(afterSeq=record.claimed_seq - 1, nextIndex=record.progress.currentIndex, execution=number)
        try:
            self._workflow.start(
                self._state_machine_arn, name, RunState(run=run, cursor=cursor).model_dump(exclude_none=True)
            )
        except DependencyUnavailable:
            # Failed again, still resumable: the reason says why.
            self._ending.fail(ref, WORKFLOW_NOT_RESUMED, execution_arn=arn)
            raise
        return StartedRun(campaign_id, ref.run_id, campaign.totalContacts, arn)

    def _resumable_run(self, client_id: str, campaign: Campaign) -> RunRecord | None:
        """The campaign's latest run when it is not running and may be resumed."""
        if campaign.isRunning or not campaign.currentRunId:
            return None
        try:
            record = self._runs.get_run(RunRef(client_id, campaign.id, campaign.currentRunId))
        except NotFound:
            return None
        return record if resumable(record, self._clock.now_ms()) else None
