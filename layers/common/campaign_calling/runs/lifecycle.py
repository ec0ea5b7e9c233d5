"""Start and stop campaign runs."""

from __future__ import annotations

from dataclasses import dataclass

from campaign_calling.aws.stepfunctions import WorkflowEngine, execution_arn, execution_name
from campaign_calling.catalog.agents import AgentRepository
from campaign_calling.catalog.campaigns import CampaignRepository
from campaign_calling.clock import Clock, iso_from_ms
from campaign_calling.errors import Conflict, DependencyUnavailable, InvalidRequest
from campaign_calling.ids import new_run_id
from campaign_calling.models import Progress
from campaign_calling.runs.models import Cursor, RunAgent, RunContext, RunState
from campaign_calling.runs.repository import RunRepository

_START_RACES = 3


@dataclass(frozen=True)
class StartedRun:
    campaign_id: str
    run_id: str
    total_contacts: int
    execution_arn: str


class CallingService:
    def __init__(
        self,
        *,
        agents: AgentRepository,
        campaigns: CampaignRepository,
        runs: RunRepository,
        workflow: WorkflowEngine,
        clock: Clock,
        state_machine_arn: str,
        progress_ttl_seconds: int,
    ) -> None:
        self._agents = agents
        self._campaigns = campaigns
        self._runs = runs
        self._workflow = workflow
        self._clock = clock
        self._state_machine_arn = state_machine_arn
        self._ttl = progress_ttl_seconds

    def start(self, client_id: str, campaign_id: str, agent_id: str, delay_ms: int) -> StartedRun:
        agent = self._agents.get(client_id, agent_id)
        for _ in range(_START_RACES):
            campaign = self._campaigns.get(client_id, campaign_id, consistent=True)
            if campaign.isRunning:
                raise Conflict("campaign is already running")
            if campaign.totalContacts == 0:
                raise InvalidRequest("campaign has no contacts")
            now = self._clock.now_ms()
            run_id = new_run_id(now)
            name = execution_name(run_id, 1)
            arn = execution_arn(self._state_machine_arn, name)
            progress = Progress(
                campaignId=campaign_id,
                runId=run_id,
                totalContacts=campaign.totalContacts,
                currentIndex=0,
                completedCalls=0,
                successfulCalls=0,
                failedCalls=0,
                startTime=iso_from_ms(now),
                isRunning=True,
                status="running",
                delayBetweenCalls=delay_ms,
            )
            try:
                self._runs.start_run(
                    client_id,
                    campaign_id,
                    progress,
                    last_seq=campaign.nextContactSeq,
                    agent_id=agent.id,
                    execution_arn=arn,
                )
            except Conflict:
                continue  # running now, or contacts were added meanwhile: look again
            break
        else:
            raise Conflict("campaign is already running")

        run = RunContext(
            clientId=client_id,
            campaignId=campaign_id,
            runId=run_id,
            delayMs=delay_ms,
            lastSeq=campaign.nextContactSeq,
            totalContacts=campaign.totalContacts,
            agent=RunAgent(agentId=agent.id, providerAgentId=agent.providerAgentId, callerId=agent.callerId),
        )
        try:
            self._workflow.start(
                self._state_machine_arn, name, RunState(run=run, cursor=Cursor()).model_dump(exclude_none=True)
            )
        except DependencyUnavailable:
            # Release the campaign: a run that never started must not block the next start.
            self._runs.end_run(
                client_id,
                campaign_id,
                run_id,
                status="failed",
                now_ms=self._clock.now_ms(),
                ttl_seconds=self._ttl,
                reason="the calling workflow could not be started",
            )
            raise
        return StartedRun(campaign_id, run_id, campaign.totalContacts, arn)

    def stop(self, client_id: str, campaign_id: str) -> None:
        campaign = self._campaigns.get(client_id, campaign_id, consistent=True)
        if not campaign.isRunning or not campaign.currentRunId:
            raise Conflict("campaign is not running")
        stopped = self._runs.end_run(
            client_id,
            campaign_id,
            campaign.currentRunId,
            status="stopped",
            now_ms=self._clock.now_ms(),
            ttl_seconds=self._ttl,
            reason="stopped by request",
        )
        if not stopped:
            raise Conflict("campaign is not running")
        # From here no dial can be claimed (claims require a running run).
        record = self._runs.get_run(client_id, campaign_id, campaign.currentRunId)
        if record.execution_arn:
            self._workflow.stop(record.execution_arn, cause="stopped by request")
