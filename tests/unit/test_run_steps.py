"""A run's steps driven by hand (the state machine is not executed in unit tests), built
by wiring from template.yaml's function environments, dialing the simulated provider
over real HTTP. What the steps decide is proven in tests/domain; these prove the real
parts together: DynamoDB's conditions, the provider over HTTP, each function's settings."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import boto3
import httpx
import pytest

from campaign_calling import wiring
from campaign_calling.calls.placing import CallPlacer
from campaign_calling.clock import SystemClock
from campaign_calling.errors import Conflict, DependencyUnavailable, NotFound
from campaign_calling.models import AgentInput, CampaignInput, ContactInput
from campaign_calling.runs.models import Cursor, PageContact, RunState
from campaign_local import moto_patches
from tests.support import stores, wired

CLIENT = "client-a"
UNIQUE_ID = re.compile(r"aidial-(\d{13})-[a-z0-9]{6}")


def phone(i: int) -> str:
    return f"+4420794600{i:02d}"


@dataclass
class Setup:
    agent_id: str
    campaign_id: str


def setup(aws, n: int, *, caller_id: str | None = "+12025550143") -> Setup:
    aws.use_function("AgentsFunction")
    agent = wiring.catalog_service().create_agent(
        CLIENT, AgentInput(name="Bot", providerAgentId="pa-1", callerId=caller_id)
    )
    aws.use_function("CampaignsFunction")
    campaign = wiring.catalog_service().create_campaign(
        CLIENT,
        CampaignInput(name="Spring", contacts=[ContactInput(name=f"C{i}", phone=phone(i)) for i in range(1, n + 1)]),
    )
    assert campaign.totalContacts == n
    return Setup(agent.id, campaign.id)


def start(aws, s: Setup, delay_ms: int = 0) -> RunState:
    """Start a run and return the state its first execution was started with."""
    aws.use_function("StartCallingFunction")
    started = wiring.calling_service().start(CLIENT, s.campaign_id, s.agent_id, delay_ms)
    execution = boto3.client("stepfunctions").describe_execution(executionArn=started.execution_arn)
    return RunState.model_validate_json(execution["input"])


class Steps:
    """A run's steps, each built in its own function's environment from template.yaml,
    as the state machine's tasks run them; ``env`` overrides settings such as page size."""

    def __init__(self, aws, env: dict[str, object]) -> None:
        self._aws = aws
        self._env = env

    def _use(self, function: str) -> None:
        self._aws.use_function(function)
        for key, value in self._env.items():
            self._aws.monkeypatch.setenv(key, str(value))
        wired.refresh_services()

    def load_page(self, run, cursor):
        self._use("LoadContactsPageFunction")
        return wiring.page_loader().load_page(run, cursor)

    def dial_contact(self, run, contact):
        self._use("DialContactFunction")
        return wiring.dial_step().dial_contact(run, contact)

    def record_dial_failure(self, run, contact, error: str):
        self._use("RecordDialFailureFunction")
        return wiring.dial_recorder().record_failure(run, contact, error)

    def continue_as_new(self, run, cursor, **kwargs):
        self._use("ContinueRunFunction")
        return wiring.run_steps().continue_as_new(run, cursor, **kwargs)

    def finalise(self, run, cursor=None):
        self._use("FinaliseRunFunction")
        return wiring.run_steps().finalise(run, cursor)


def steps(aws, **env: object) -> Steps:
    return Steps(aws, env)


def first_page(aws, state: RunState) -> list[PageContact]:
    page = steps(aws, CONTACTS_PAGE_SIZE=100).load_page(state.run, state.cursor).page
    assert page is not None
    return page.contacts


def counts(aws, state: RunState) -> tuple[int, int, int]:
    p = stores.run_repository(aws.resolver).get_run(state.run.ref).progress
    return p.completedCalls, p.successfulCalls, p.failedCalls


def provider_calls(aws, number: str) -> list[dict]:
    return [c for c in aws.dialer.calls() if c["phone"] == number]


def status(aws, campaign_id: str, client: str = CLIENT):
    aws.use_function("CallingStatusFunction")
    return wiring.calling_status_service().status(client, campaign_id)


def call_logs(aws, campaign_id: str):
    aws.use_function("CallLogsFunction")
    logs = wiring.catalog_service().list_call_logs(CLIENT, campaign_id, 100, None).items
    return logs


# -- starting ------------------------------------------------------------------------------


def test_start_records_the_run_and_starts_its_first_execution(aws) -> None:
    s = setup(aws, 3)
    state = start(aws, s, delay_ms=1500)
    run = state.run
    assert (run.clientId, run.campaignId, run.delayMs, run.lastSeq, run.totalContacts) == (
        CLIENT,
        s.campaign_id,
        1500,
        3,
        3,
    )
    assert (run.agent.agentId, run.agent.providerAgentId, run.agent.callerId) == (s.agent_id, "pa-1", "+12025550143")
    assert state.cursor == Cursor()
    assert re.fullmatch(r"run-\d{13}-[a-z0-9]{6}", run.runId)

    current = status(aws, s.campaign_id)
    assert current.isRunning is True
    assert current.totalContacts == 3
    assert current.progress is not None
    assert (current.progress.runId, current.progress.status, current.progress.currentIndex) == (run.runId, "running", 0)
    assert current.progress.delayBetweenCalls == 1500

    with pytest.raises(Conflict):
        start(aws, s)


# -- status ---------------------------------------------------------------------------------


def test_status_before_any_run_and_for_an_unknown_campaign(aws) -> None:
    s = setup(aws, 4)
    before = status(aws, s.campaign_id)
    assert (before.campaignId, before.isRunning, before.totalContacts, before.progress) == (
        s.campaign_id,
        False,
        4,
        None,
    )
    with pytest.raises(NotFound):
        status(aws, "cmp_missing")
    with pytest.raises(NotFound):
        status(aws, s.campaign_id, client="client-b")


def test_status_hides_expired_progress(aws) -> None:
    s = setup(aws, 2)
    state = start(aws, s)
    aws.use_function("StopCallingFunction")
    wiring.calling_service().stop(CLIENT, s.campaign_id)

    stopped = status(aws, s.campaign_id)
    assert stopped.progress is not None
    assert stopped.progress.status == "stopped"

    # DynamoDB deletes expired items lazily: one past its expiry must read as gone.
    aws.table("ProgressTable").update_item(
        Key={"pk": f"CLIENT#{CLIENT}#CAMPAIGN#{s.campaign_id}", "sk": f"RUN#{state.run.runId}"},
        UpdateExpression="SET expiresAt = :past",
        ExpressionAttributeValues={":past": SystemClock().now_ms() // 1000 - 1},
    )
    expired = status(aws, s.campaign_id)
    assert expired.progress is None
    assert expired.isRunning is False
    assert expired.totalContacts == 2


# -- dialing ----------------------------------------------------------------------------------


def test_dial_contact_dials_once_and_counts_once(aws) -> None:
    s = setup(aws, 3)
    state = start(aws, s)
    contact = first_page(aws, state)[1]
    dial = steps(aws)

    outcome = dial.dial_contact(state.run, contact)
    assert outcome.dialed is True
    assert outcome.outcome == "success"
    assert UNIQUE_ID.fullmatch(outcome.uniqueId)

    (call,) = provider_calls(aws, phone(2))
    assert len(aws.dialer.calls()) == 1
    assert call["status"] == 201
    assert call["headers"]["idempotency-key"] == f"{state.run.runId}:2:1"
    assert call["headers"]["authorization"] == "Bearer ***"  # the real key was accepted (else 401)
    assert call["body"] == {
        "to": phone(2),
        "agentId": "pa-1",
        "callerId": "+12025550143",
        "metadata": {
            "uniqueId": outcome.uniqueId,
            "campaignId": s.campaign_id,
            "contactId": "ct_0000000002",
            "clientId": CLIENT,
        },
        # this deployment's webhook route, from the SSM parameter the functions are given the name of
        "statusWebhookUrl": f"{wired.API_URL}/api/v1/webhooks/generic",
    }
    assert counts(aws, state) == (1, 1, 0)
    record = stores.run_repository(aws.resolver).get_run(state.run.ref)
    assert record.progress.currentIndex == 1
    assert record.progress.lastCallTime is not None

    (log,) = call_logs(aws, s.campaign_id)
    assert (log.uniqueId, log.outcome, log.source, log.runId) == (
        outcome.uniqueId,
        "success",
        "campaign",
        state.run.runId,
    )
    assert (log.contactId, log.contactName, log.phone, log.agentId) == ("ct_0000000002", "C2", phone(2), s.agent_id)
    assert log.providerCallId == call["callId"]
    assert log.externalResponse["id"] == call["callId"]
    assert log.error is None

    # The same step delivered again: no second call, no second count.
    again = steps(aws).dial_contact(state.run, contact)
    assert again.dialed is True
    assert again.uniqueId == outcome.uniqueId
    assert again.outcome == "success"
    assert again.reason == "already dialed"
    assert len(provider_calls(aws, phone(2))) == 1
    assert counts(aws, state) == (1, 1, 0)
    assert len(call_logs(aws, s.campaign_id)) == 1


def fault(aws, **spec: object) -> None:
    response = httpx.post(f"{aws.dialer.url}/faults", json=spec)
    assert response.status_code == 200, response.text


def test_a_provider_that_keeps_refusing_is_logged_as_failed(aws) -> None:
    s = setup(aws, 1, caller_id=None)
    state = start(aws, s)
    contact = first_page(aws, state)[0]
    fault(aws, mode="error429", retryAfter=0)

    outcome = steps(aws).dial_contact(state.run, contact)
    assert (outcome.dialed, outcome.outcome) == (True, "failed")
    calls = aws.dialer.calls()
    assert [c["status"] for c in calls] == [429, 429, 429]
    assert len({c["headers"]["idempotency-key"] for c in calls}) == 1
    assert calls[0]["body"]["callerId"] is None
    assert counts(aws, state) == (1, 0, 1)
    (log,) = call_logs(aws, s.campaign_id)
    assert log.error == "provider answered 429: rate limited"
    assert log.providerCallId is None


def test_a_dropped_request_is_retried_with_the_same_key_and_connects_once(aws) -> None:
    s = setup(aws, 1)
    state = start(aws, s)
    contact = first_page(aws, state)[0]
    fault(aws, mode="drop", count=1)

    outcome = steps(aws).dial_contact(state.run, contact)
    assert (outcome.dialed, outcome.outcome) == (True, "success")
    dropped, answered = provider_calls(aws, phone(1))
    assert (dropped["status"], answered["status"]) == (None, 201)
    assert dropped["headers"]["idempotency-key"] == answered["headers"]["idempotency-key"]
    assert counts(aws, state) == (1, 1, 0)


class SlowFirstRequest(httpx.BaseTransport):
    """Real HTTP to the simulated provider; the first request is held back first, as a
    new TLS connection to a real provider would be."""

    def __init__(self, hold_seconds: float) -> None:
        self._inner = httpx.HTTPTransport()
        self._hold = hold_seconds

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._hold:
            time.sleep(self._hold)
            self._hold = 0
        return self._inner.handle_request(request)


def test_the_provider_sees_the_full_delay_even_when_the_first_request_is_slow_to_leave(aws) -> None:
    s = setup(aws, 2)
    state = start(aws, s, delay_ms=300)
    first, second = first_page(aws, state)
    aws.use_function("DialContactFunction")
    dial = wired.dial_step(placer=wired.call_placer(transport=SlowFirstRequest(0.1)))
    assert dial.dial_contact(state.run, first).outcome == "success"
    assert dial.dial_contact(state.run, second).outcome == "success"
    received = [c["receivedAt"] for c in aws.dialer.calls()]
    assert received[1] - received[0] >= 0.3


# -- a placed call is always logged --------------------------------------------------------------


class StopDuringTheCall:
    """The real placer; while the provider has the call, the run is stopped and the call
    logs table starts cancelling transactions (as AWS does under contention)."""

    def __init__(self, aws, campaign_id: str, conflicts: int | None) -> None:
        self._aws = aws
        self._campaign_id = campaign_id
        self._conflicts = conflicts
        self._placer: CallPlacer | None = None

    def prepare(self) -> None:
        # Built here, in the dial function's environment, as the step's own placer is.
        self._placer = wired.call_placer()
        self._placer.prepare()

    def place(self, **kwargs):
        assert self._placer is not None
        log = self._placer.place(**kwargs)
        self._aws.use_function("StopCallingFunction")
        wiring.calling_service().stop(CLIENT, self._campaign_id)
        moto_patches.TRANSACTION_FAULTS.set(
            self._aws.resolver.ref("CallLogsTable"), "transaction-conflict", self._conflicts
        )
        return log


@pytest.fixture
def transaction_faults(moto_patched):
    return moto_patched


def test_a_placed_call_is_logged_while_the_database_is_busy_and_the_run_stopped(aws, transaction_faults) -> None:
    s = setup(aws, 2)
    state = start(aws, s)
    contact = first_page(aws, state)[0]
    # More cancellations than one transaction's attempts (6): the step keeps trying.
    placer = StopDuringTheCall(aws, s.campaign_id, conflicts=8)

    aws.use_function("DialContactFunction")
    outcome = wired.dial_step(placer=placer).dial_contact(state.run, contact)

    assert (outcome.dialed, outcome.outcome) == (True, "success")
    assert transaction_faults.active() == []
    assert counts(aws, state) == (1, 1, 0)
    assert [log.outcome for log in call_logs(aws, s.campaign_id)] == ["success"]
    assert stores.run_repository(aws.resolver).get_run(state.run.ref).progress.status == "stopped"


def test_a_placed_call_that_cannot_be_logged_in_time_fails_the_step_with_its_claim_open(
    aws, transaction_faults
) -> None:
    s = setup(aws, 2)
    state = start(aws, s)
    contact = first_page(aws, state)[0]
    placer = StopDuringTheCall(aws, s.campaign_id, conflicts=None)

    aws.use_function("DialContactFunction")
    with pytest.raises(DependencyUnavailable, match="TransactionConflict"):
        wired.dial_step(placer=placer, settle_patience_seconds=0.5).dial_contact(state.run, contact)

    claim = stores.dial_claims(aws.resolver).get(state.run.ref, contact.seq)
    assert claim.status == "dialing"  # for the step's retry or the dial-failure task to settle
    assert counts(aws, state) == (0, 0, 0)


# -- finishing ------------------------------------------------------------------------------------


def test_finalise_completes_the_run_and_releases_the_campaign(aws) -> None:
    s = setup(aws, 3)
    state = start(aws, s)
    dial = steps(aws)
    loaded = steps(aws, CONTACTS_PAGE_SIZE=100).load_page(state.run, state.cursor)
    for contact in loaded.page.contacts[:2]:
        dial.dial_contact(state.run, contact)

    assert steps(aws).finalise(state.run, loaded.cursor) == "completed"

    final = status(aws, s.campaign_id)
    assert final.isRunning is False
    progress = final.progress
    assert progress is not None
    assert (progress.status, progress.isRunning) == ("completed", False)
    assert progress.currentIndex == progress.totalContacts == 3
    assert (progress.completedCalls, progress.successfulCalls) == (2, 2)
    assert progress.endTime is not None
    aws.use_function("CampaignsFunction")
    campaign = wiring.catalog_service().get_campaign(CLIENT, s.campaign_id)
    assert (campaign.isRunning, campaign.lastRunStatus) == (False, "completed")
    record = stores.run_repository(aws.resolver).get_run(state.run.ref)
    assert record.expires_at is not None

    # Delivered twice: nothing more happens. A stopped run is not completed afterwards.
    assert steps(aws).finalise(state.run) == "already ended"
    aws.use_function("StopCallingFunction")
    with pytest.raises(Conflict):
        wiring.calling_service().stop(CLIENT, s.campaign_id)
    # The campaign can run again.
    assert start(aws, s).run.runId != state.run.runId


# -- each step in its own function's environment ------------------------------------------------


@pytest.mark.parametrize(
    "function",
    ["LoadContactsPageFunction", "RecordDialFailureFunction", "ContinueRunFunction", "FinaliseRunFunction"],
)
def test_each_step_works_with_its_own_functions_environment(aws, function: str) -> None:
    s = setup(aws, 2)
    state = start(aws, s)
    contact = first_page(aws, state)[0]
    run_steps = steps(aws)
    if function == "LoadContactsPageFunction":
        assert len(run_steps.load_page(state.run, state.cursor).page.contacts) == 2
    elif function == "RecordDialFailureFunction":
        assert run_steps.record_dial_failure(state.run, contact, "States.Timeout").outcome == "failed"
    elif function == "ContinueRunFunction":
        record = stores.run_repository(aws.resolver).get_run(state.run.ref)
        machine = aws.resolver.ref("CampaignCallingStateMachine")
        new_arn = run_steps.continue_as_new(
            state.run, state.cursor, current_execution_arn=record.execution_arn, state_machine_arn=machine
        )
        assert new_arn is not None
    else:
        assert run_steps.finalise(state.run) == "completed"


def test_calling_status_works_with_its_own_functions_environment(aws) -> None:
    s = setup(aws, 2)
    assert status(aws, s.campaign_id).totalContacts == 2


def test_pause_add_contacts_and_resume_on_dynamodb(aws) -> None:
    # Given a run of 3 that dialed its first contact, then paused, and 2 contacts added
    s = setup(aws, 3)
    state = start(aws, s)
    dial = steps(aws)
    dial.dial_contact(state.run, first_page(aws, state)[0])
    aws.use_function("PauseCallingFunction")
    wiring.calling_service().pause(CLIENT, s.campaign_id)
    record = stores.run_repository(aws.resolver).get_run(state.run.ref)
    assert (record.progress.status, record.expires_at, record.claimed_seq) == ("paused", None, 1)
    aws.use_function("ContactsFunction")
    wiring.catalog_service().add_contacts(
        CLIENT, s.campaign_id, [ContactInput(name=f"C{i}", phone=phone(i)) for i in (4, 5)]
    )

    # When it is resumed
    aws.use_function("ResumeCallingFunction")
    resumed = wiring.calling_service().resume(CLIENT, s.campaign_id)

    # Then the same run runs again in execution 0002, from its last claimed contact, over all 5
    assert (resumed.run_id, resumed.total_contacts) == (state.run.runId, 5)
    execution = boto3.client("stepfunctions").describe_execution(executionArn=resumed.execution_arn)
    new_state = RunState.model_validate_json(execution["input"])
    assert (new_state.cursor.afterSeq, new_state.cursor.nextIndex, new_state.cursor.execution) == (0, 0, 2)
    assert (new_state.run.lastSeq, new_state.run.totalContacts) == (5, 5)
    record = stores.run_repository(aws.resolver).get_run(state.run.ref)
    assert (record.progress.status, record.execution_count, record.expires_at) == ("running", 2, None)
    assert record.execution_arn == resumed.execution_arn
    # And a second resume finds it running
    with pytest.raises(Conflict):
        wiring.calling_service().resume(CLIENT, s.campaign_id)


def test_contacts_added_while_running_are_read_by_the_next_page_and_counted(aws) -> None:
    s = setup(aws, 2)
    state = start(aws, s)
    aws.use_function("ContactsFunction")
    wiring.catalog_service().add_contacts(CLIENT, s.campaign_id, [ContactInput(name="C3", phone=phone(3))])

    loaded = steps(aws, CONTACTS_PAGE_SIZE=100).load_page(state.run, state.cursor)

    assert [c.seq for c in loaded.page.contacts] == [1, 2, 3]
    assert (loaded.run.lastSeq, loaded.run.totalContacts) == (3, 3)
    progress = status(aws, s.campaign_id).progress
    assert progress is not None and progress.totalContacts == 3
