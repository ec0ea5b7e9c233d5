"""The runs services wired to in-memory fakes and a fixed clock: the world of the domain
tests (tests/domain), built with public constructors only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from campaign_calling.calls.opt_outs import OptOutListing
from campaign_calling.calls.providers.lifecycle import CallStatus, StatusEvent
from campaign_calling.calls.status_updates import StatusUpdates
from campaign_calling.models import CallingWindow, Progress, RetryPolicy
from campaign_calling.runs.dial import DialRecorder, DialStep
from campaign_calling.runs.history import RunHistoryService
from campaign_calling.runs.lifecycle import CallingService, RunEnding
from campaign_calling.runs.models import PageContact, RunContext, RunRef, RunState
from campaign_calling.runs.pages import PageLoader, RunSteps
from campaign_calling.runs.reconcile import RunReconciler
from campaign_calling.runs.status import CallingStatusService
from tests.support.clock import FixedClock
from tests.support.fakes import (
    FakeAgents,
    FakeCampaigns,
    FakeClaims,
    FakeExecutions,
    FakePlacer,
    FakeRunHistory,
    FakeRunStore,
    FakeWorkflow,
)
from tests.support.fakes_catalog import InMemoryClientLimits, InMemoryDoNotCall
from tests.support.fakes_status import (
    FakeWebhookKeys,
    InMemoryCallIndex,
    InMemoryStatusStore,
    LoggedPhones,
    RecordingMetrics,
)

CLIENT = "client-a"
STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:campaign-calling"
PAGE_SIZE = 2
PAGES_PER_EXECUTION = 50
PAUSE_AFTER_FAILURES = 3
SWEEP_GRACE_SECONDS = 120


@dataclass
class RunsWorld:
    clock: FixedClock = field(default_factory=FixedClock)
    agents: FakeAgents = field(default_factory=FakeAgents)
    campaigns: FakeCampaigns = field(default_factory=FakeCampaigns)
    workflow: FakeWorkflow = field(default_factory=FakeWorkflow)
    executions: FakeExecutions = field(default_factory=FakeExecutions)

    def __post_init__(self) -> None:
        self.runs = FakeRunStore(self.campaigns, self.clock)
        self.call_index = InMemoryCallIndex()
        self.claims = FakeClaims(self.runs, self.call_index)
        self.client_limits = InMemoryClientLimits()
        self.do_not_call = InMemoryDoNotCall()
        self.placer = FakePlacer(self.clock)
        self.ending = RunEnding(runs=self.runs, workflow=self.workflow)

    # -- the services ------------------------------------------------------------------

    def calling(self) -> CallingService:
        return CallingService(
            agents=self.agents,
            campaigns=self.campaigns,
            runs=self.runs,
            workflow=self.workflow,
            ending=self.ending,
            clock=self.clock,
            state_machine_arn=STATE_MACHINE_ARN,
            client_settings=self.client_limits,
        )

    def pages(self, *, page_size: int = PAGE_SIZE, pages_per_execution: int = PAGES_PER_EXECUTION) -> PageLoader:
        return PageLoader(
            campaigns=self.campaigns,
            runs=self.runs,
            page_size=page_size,
            pages_per_execution=pages_per_execution,
            retries=self.claims,
            slots=self.claims,
            clock=self.clock,
            deferrals=self.claims,
            client_limits=self.client_limits,
        )

    def steps(self) -> RunSteps:
        return RunSteps(runs=self.runs, workflow=self.workflow, ending=self.ending)

    def recorder(self) -> DialRecorder:
        return DialRecorder(claims=self.claims, campaigns=self.campaigns, clock=self.clock)

    def dial_step(
        self,
        *,
        pause_after_failures: int = PAUSE_AFTER_FAILURES,
        patience_seconds: float = 10,
        sleep: Callable[[float], None] | None = None,
    ) -> DialStep:
        return DialStep(
            runs=self.runs,
            placer=self.placer,
            recorder=self.recorder(),
            ending=self.ending,
            clock=self.clock,
            pause_after_failures=pause_after_failures,
            slots=self.claims,
            client_limits=self.client_limits,
            do_not_call=self.do_not_call,
            numbers=self.claims,
            sleep=sleep or self.clock.sleep,
            settle_patience_seconds=patience_seconds,
        )

    def reconciler(self, *, grace_seconds: int = SWEEP_GRACE_SECONDS) -> RunReconciler:
        return RunReconciler(
            runs=self.runs,
            executions=self.executions,
            ending=self.ending,
            clock=self.clock,
            grace_seconds=grace_seconds,
        )

    def status_updates(self) -> StatusUpdates:
        """The status webhooks' service over these runs (signatures taken as checked)."""
        keys = FakeWebhookKeys()
        keys.default["generic"] = {"apiKey": "k", "webhookSecret": "s"}
        store = InMemoryStatusStore(self.claims, runs=self.runs, follow_ups=self.claims)
        opt_outs = OptOutListing(phones=LoggedPhones(lambda: self.claims.logs), do_not_call=self.do_not_call)
        return StatusUpdates(
            index=self.call_index,
            store=store,
            keys=keys,
            metrics=RecordingMetrics(),
            clock=self.clock,
            opt_outs=opt_outs,
        )

    def report(self, provider_call_id: str, status: CallStatus, *, opt_out: bool = False) -> None:
        """The provider's status webhook for one of the run's calls."""
        event = StatusEvent(provider_call_id=provider_call_id, status=status, opt_out=opt_out)
        self.status_updates().record("generic", event, lambda _credentials: True)

    def status(self) -> CallingStatusService:
        return CallingStatusService(runs=self.runs, clock=self.clock)

    def history(self) -> RunHistoryService:
        return RunHistoryService(
            history=FakeRunHistory(self.runs), runs=self.runs, clock=self.clock, progress_ttl_seconds=self.runs.ttl
        )

    # -- givens ------------------------------------------------------------------------

    def campaign(self, contacts: int = 3, campaign_id: str = "cmp_1") -> str:
        self.agents.add(CLIENT)
        self.campaigns.add(CLIENT, campaign_id, contacts=contacts)
        return campaign_id

    def started(
        self,
        contacts: int = 3,
        *,
        delay_ms: int = 0,
        campaign_id: str = "cmp_1",
        max_concurrent_calls: int | None = None,
        retry: RetryPolicy | None = None,
        calling_window: CallingWindow | None = None,
    ) -> RunState:
        """A running run of a new campaign: the state its first execution started with."""
        self.campaign(contacts, campaign_id)
        self.calling().start(
            CLIENT,
            campaign_id,
            "ag_1",
            delay_ms,
            max_concurrent_calls=max_concurrent_calls,
            retry=retry,
            calling_window=calling_window,
        )
        return RunState.model_validate(self.workflow.started[-1][1])

    def first_page(self, state: RunState, page_size: int = 100) -> list[PageContact]:
        page = self.pages(page_size=page_size).load_page(state.run, state.cursor).page
        assert page is not None
        return page.contacts

    def current_execution(self, run: RunContext) -> str:
        arn = self.runs.get_run(run.ref).execution_arn
        assert arn is not None
        return arn

    def progress(self, run: RunContext | RunRef) -> Progress:
        return self.runs.progress(run.ref if isinstance(run, RunContext) else run)
