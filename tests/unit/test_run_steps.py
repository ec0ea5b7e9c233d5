"""A run's steps driven by hand (the state machine is not executed in unit tests), built
by wiring from template.yaml's function environments, dialing the simulated provider
over real HTTP."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from campaign_calling import wiring
from campaign_calling.calls.placing import CallPlacer
from campaign_calling.calls.provider import DialerClient
from campaign_calling.clock import SystemClock
from campaign_calling.errors import Conflict, DependencyUnavailable, InvalidRequest, NotFound
from campaign_calling.models import AgentInput, CampaignInput, ContactInput
from campaign_calling.runs.budget import contacts_per_execution
from campaign_calling.runs.dial import DialRecorder, DialStep
from campaign_calling.runs.models import Cursor, PageContact, RunState
from campaign_calling.runs.repository import ClaimResult, RunRepository
from campaign_local import moto_patches
from tests.conftest import TEST_API_KEY, _clear_caches

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
        _clear_caches()

    def load_page(self, run, cursor):
        self._use("LoadContactsPageFunction")
        return wiring.run_steps().load_page(run, cursor)

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


def dial_step_with(
    aws,
    *,
    placer: CallPlacer | None = None,
    sleep=time.sleep,
    settle_patience_seconds: float = 10,
    workflow=None,
    pause_after_failures: int | None = None,
) -> DialStep:
    """The dial step as wired for DialContactFunction, with a part swapped for the test."""
    aws.use_function("DialContactFunction")
    wired = wiring.dial_step()
    return DialStep(
        runs=wiring._runs(),  # noqa: SLF001
        placer=placer or wiring._placer(),  # noqa: SLF001
        recorder=wiring.dial_recorder(),
        workflow=workflow or wired._workflow,  # noqa: SLF001
        clock=SystemClock(),
        pause_after_failures=wired._pause_after if pause_after_failures is None else pause_after_failures,  # noqa: SLF001
        progress_ttl_seconds=wired._ttl,  # noqa: SLF001
        sleep=sleep,
        settle_patience_seconds=settle_patience_seconds,
    )


def runs(aws) -> RunRepository:
    return RunRepository(
        boto3.client("dynamodb"),
        main_table=aws.resolver.ref("MainTable"),
        progress_table=aws.resolver.ref("ProgressTable"),
        call_logs_table=aws.resolver.ref("CallLogsTable"),
    )


def first_page(aws, state: RunState) -> list[PageContact]:
    page = steps(aws, CONTACTS_PAGE_SIZE=100).load_page(state.run, state.cursor).page
    assert page is not None
    return page.contacts


def counts(aws, state: RunState) -> tuple[int, int, int]:
    p = runs(aws).get_run(CLIENT, state.run.campaignId, state.run.runId).progress
    return p.completedCalls, p.successfulCalls, p.failedCalls


def provider_calls(aws, number: str) -> list[dict]:
    return [c for c in aws.dialer.calls() if c["phone"] == number]


def status(aws, campaign_id: str, client: str = CLIENT):
    aws.use_function("CallingStatusFunction")
    return wiring.calling_status_service().status(client, campaign_id)


def call_logs(aws, campaign_id: str):
    aws.use_function("CallLogsFunction")
    logs, _ = wiring.catalog_service().list_call_logs(CLIENT, campaign_id, 100, None)
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


def test_start_refuses_an_empty_campaign_an_unknown_agent_and_an_unknown_campaign(aws) -> None:
    s = setup(aws, 0)
    with pytest.raises(InvalidRequest, match="no contacts"):
        start(aws, s)
    with_contacts = setup(aws, 1)
    with pytest.raises(NotFound, match="agent"):
        start(aws, Setup("ag_missing", with_contacts.campaign_id))
    with pytest.raises(NotFound, match="campaign"):
        start(aws, Setup(with_contacts.agent_id, "cmp_missing"))
    # Nothing was left running by the refusals.
    assert status(aws, with_contacts.campaign_id).isRunning is False


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


# -- loading pages ----------------------------------------------------------------------------


def test_load_page_pages_through_the_run_with_the_configured_page_size(aws) -> None:
    s = setup(aws, 5)
    state = start(aws, s, delay_ms=2500)
    load = steps(aws, CONTACTS_PAGE_SIZE=2, PAGES_PER_EXECUTION=2)

    one = load.load_page(state.run, state.cursor)
    assert one.page is not None
    assert [c.index for c in one.page.contacts] == [0, 1]
    assert [c.seq for c in one.page.contacts] == [1, 2]
    first = one.page.contacts[0]
    # Which contact, never who: no name or number travels in the state (its history is kept).
    assert first.model_dump() == {"seq": 1, "index": 0, "contactId": "ct_0000000001", "waitSeconds": 0}
    assert [c.waitSeconds for c in one.page.contacts] == [0, 1]  # the first dial does not wait
    assert (one.page.running, one.page.hasMore, one.page.continueAsNew) == (True, True, False)
    assert one.cursor == Cursor(afterSeq=2, nextIndex=2, pagesInExecution=1, contactsInExecution=2, execution=1)

    two = load.load_page(state.run, one.cursor)
    assert [c.index for c in two.page.contacts] == [2, 3]
    assert [c.waitSeconds for c in two.page.contacts] == [1, 1]
    assert (two.page.hasMore, two.page.continueAsNew) == (True, True)  # second page of this execution
    assert two.cursor == Cursor(afterSeq=4, nextIndex=4, pagesInExecution=2, contactsInExecution=4, execution=1)

    # The next execution starts with a fresh page count; indexes carry on.
    handed_over = two.cursor.model_copy(update={"pagesInExecution": 0, "contactsInExecution": 0, "execution": 2})
    three = load.load_page(state.run, handed_over)
    assert [(c.index, c.contactId) for c in three.page.contacts] == [(4, "ct_0000000005")]
    assert (three.page.hasMore, three.page.continueAsNew) == (False, False)
    assert three.cursor == Cursor(afterSeq=5, nextIndex=5, pagesInExecution=1, contactsInExecution=1, execution=2)

    past_the_end = load.load_page(state.run, three.cursor)
    assert past_the_end.page.contacts == []
    assert past_the_end.page.hasMore is False


def test_load_page_ends_exactly_on_a_page_boundary(aws) -> None:
    s = setup(aws, 4)
    state = start(aws, s)
    load = steps(aws, CONTACTS_PAGE_SIZE=2, PAGES_PER_EXECUTION=10)
    one = load.load_page(state.run, state.cursor)
    two = load.load_page(state.run, one.cursor)
    assert [c.index for c in two.page.contacts] == [2, 3]
    assert two.page.hasMore is False  # no empty extra page
    assert two.page.continueAsNew is False


def test_an_execution_ends_before_its_contacts_could_fill_its_history(aws) -> None:
    # Given a campaign larger than one execution may call at its worst, and settings that
    # would hand an execution 20 pages of 150 contacts
    aws.use_function("AgentsFunction")
    agent = wiring.catalog_service().create_agent(CLIENT, AgentInput(name="Bot", providerAgentId="pa-1"))
    aws.use_function("CampaignsFunction")
    contacts = [ContactInput(name=f"C{i}", phone=f"+1202555{i:04d}") for i in range(500)]
    campaign = wiring.catalog_service().create_campaign(CLIENT, CampaignInput(name="Big", contacts=contacts))
    state = start(aws, Setup(agent.id, campaign.id))
    load = steps(aws, CONTACTS_PAGE_SIZE=150, PAGES_PER_EXECUTION=20)
    budget = contacts_per_execution(20)
    assert 150 * 2 < budget < 500

    # When the execution reads its pages
    cursor, sizes, page = state.cursor, [], None
    while page is None or not (page.continueAsNew or not page.hasMore):
        loaded = load.load_page(state.run, cursor)
        cursor, page = loaded.cursor, loaded.page
        sizes.append(len(page.contacts))

    # Then it hands over exactly at the budget, the last page cut short
    assert sizes == [150, 150, budget - 300]
    assert page.continueAsNew is True
    assert cursor.contactsInExecution == budget
    assert cursor.nextIndex == budget


def test_contacts_added_after_the_start_are_not_in_the_run(aws) -> None:
    s = setup(aws, 2)
    state = start(aws, s)
    aws.use_function("ContactsFunction")
    _, total = wiring.catalog_service().add_contacts(CLIENT, s.campaign_id, [ContactInput(name="Late", phone=phone(9))])
    assert total == 3
    page = steps(aws, CONTACTS_PAGE_SIZE=100).load_page(state.run, state.cursor).page
    assert [c.contactId for c in page.contacts] == ["ct_0000000001", "ct_0000000002"]
    assert page.hasMore is False


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
    }
    assert counts(aws, state) == (1, 1, 0)
    record = runs(aws).get_run(CLIENT, s.campaign_id, state.run.runId)
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


def test_consecutive_failures_pause_the_run_and_a_success_resets_the_count(aws) -> None:
    s = setup(aws, 5)
    state = start(aws, s)
    contacts = first_page(aws, state)
    dial = steps(aws, PAUSE_AFTER_CONSECUTIVE_FAILURES=2)

    fault(aws, mode="error500", count=3)  # the first contact's three attempts
    assert dial.dial_contact(state.run, contacts[0]).outcome == "failed"
    assert dial.dial_contact(state.run, contacts[1]).outcome == "success"  # resets the count
    fault(aws, mode="error500", count=None)
    assert dial.dial_contact(state.run, contacts[2]).reason is None
    paused = dial.dial_contact(state.run, contacts[3])
    assert (paused.outcome, paused.reason) == ("failed", "run paused")

    current = status(aws, s.campaign_id)
    assert (current.isRunning, current.progress.status) == (False, "paused")
    assert current.progress.reason.startswith(
        "paused after 2 consecutive failed calls; last error: provider answered 500"
    )
    assert counts(aws, state) == (4, 1, 3)
    # The run is over: the next contact is not dialed, and the campaign may start again.
    before = len(aws.dialer.calls())
    assert dial.dial_contact(state.run, contacts[4]).dialed is False
    assert len(aws.dialer.calls()) == before
    assert start(aws, s).run.runId != state.run.runId


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


def test_after_stop_no_step_dials_or_completes_the_run(aws) -> None:
    s = setup(aws, 2)
    state = start(aws, s)
    contact = first_page(aws, state)[0]
    aws.use_function("StopCallingFunction")
    wiring.calling_service().stop(CLIENT, s.campaign_id)

    result = steps(aws).load_page(state.run, state.cursor)
    assert result.page is not None
    assert (result.page.contacts, result.page.running, result.page.hasMore) == ([], False, False)
    assert result.cursor == state.cursor

    outcome = steps(aws).dial_contact(state.run, contact)
    assert outcome.dialed is False
    assert outcome.reason == "run stopped"
    assert aws.dialer.calls() == []
    assert counts(aws, state) == (0, 0, 0)
    assert call_logs(aws, s.campaign_id) == []

    assert steps(aws).finalise(state.run) == "already ended"
    record = runs(aws).get_run(CLIENT, s.campaign_id, state.run.runId)
    assert (record.progress.status, record.progress.reason) == ("stopped", "stopped by request")

    aws.use_function("StopCallingFunction")
    with pytest.raises(Conflict):
        wiring.calling_service().stop(CLIENT, s.campaign_id)


def test_a_stop_during_the_pacing_wait_prevents_the_dial(aws) -> None:
    s = setup(aws, 2)
    state = start(aws, s, delay_ms=60_000)
    first, second = first_page(aws, state)
    steps(aws).dial_contact(state.run, first)

    def stop_instead_of_sleeping(seconds: float) -> None:
        assert 0 < seconds <= 60
        aws.use_function("StopCallingFunction")
        wiring.calling_service().stop(CLIENT, s.campaign_id)

    paced = dial_step_with(aws, sleep=stop_instead_of_sleeping)
    outcome = paced.dial_contact(state.run, second)
    assert outcome.dialed is False
    assert outcome.reason == "run stopped"
    assert [c["phone"] for c in aws.dialer.calls()] == [phone(1)]
    assert counts(aws, state) == (1, 1, 0)


def test_pacing_keeps_dials_at_least_the_delay_apart(aws) -> None:
    s = setup(aws, 2)
    state = start(aws, s, delay_ms=300)
    first, second = first_page(aws, state)
    assert second.waitSeconds == 0  # all of a sub-second delay is slept by the dial step
    dial = steps(aws)
    one = dial.dial_contact(state.run, first)
    two = dial.dial_contact(state.run, second)

    started = [int(UNIQUE_ID.fullmatch(o.uniqueId).group(1)) for o in (one, two)]
    assert started[1] - started[0] >= 300
    received = [c["receivedAt"] for c in aws.dialer.calls()]
    assert len(received) == 2
    # Paced from the provider's answer to the first call: it cannot see them closer.
    assert received[1] - received[0] >= 0.3
    assert received[1] - received[0] < 1.0


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
    slow = DialerClient(aws.dialer.url, api_key=lambda: TEST_API_KEY, transport=SlowFirstRequest(0.1))
    dial = dial_step_with(aws, placer=CallPlacer(slow, SystemClock()))
    assert dial.dial_contact(state.run, first).outcome == "success"
    assert dial.dial_contact(state.run, second).outcome == "success"
    received = [c["receivedAt"] for c in aws.dialer.calls()]
    assert received[1] - received[0] >= 0.3


def test_no_delay_means_no_wait(aws) -> None:
    s = setup(aws, 2)
    state = start(aws, s, delay_ms=0)
    slept: list[float] = []
    dial = dial_step_with(aws, sleep=slept.append)
    for contact in first_page(aws, state):
        assert contact.waitSeconds == 0
        assert dial.dial_contact(state.run, contact).dialed
    assert slept == []
    assert counts(aws, state) == (2, 2, 0)


# -- dial failures --------------------------------------------------------------------------------


def test_record_dial_failure_on_an_undialed_contact_logs_failed_once(aws) -> None:
    s = setup(aws, 2)
    state = start(aws, s)
    contact = first_page(aws, state)[0]
    fail = steps(aws)

    outcome = fail.record_dial_failure(state.run, contact, "States.Timeout")
    assert (outcome.dialed, outcome.outcome, outcome.reason) == (False, "failed", "dial step failed")
    assert aws.dialer.calls() == []
    assert counts(aws, state) == (1, 0, 1)
    (log,) = call_logs(aws, s.campaign_id)
    assert (log.uniqueId, log.outcome, log.error) == (outcome.uniqueId, "failed", "not dialed: States.Timeout")

    again = steps(aws).record_dial_failure(state.run, contact, "States.Timeout")
    assert again.reason == "already dialed"
    assert again.uniqueId == outcome.uniqueId
    assert counts(aws, state) == (1, 0, 1)

    # ...and the contact is never dialed afterwards.
    assert steps(aws).dial_contact(state.run, contact).reason == "already dialed"
    assert aws.dialer.calls() == []
    assert len(call_logs(aws, s.campaign_id)) == 1


@pytest.mark.parametrize("step", ["record_dial_failure", "dial_contact"])
def test_an_interrupted_claim_is_logged_as_unknown_without_dialing(aws, step: str) -> None:
    s = setup(aws, 2)
    state = start(aws, s)
    contact = first_page(aws, state)[0]
    # An earlier attempt claimed the dial, then died before logging it.
    claimed = runs(aws).claim_dial(
        CLIENT,
        s.campaign_id,
        state.run.runId,
        seq=contact.seq,
        index=contact.index,
        unique_id="aidial-1705314600000-earlie",
        now_ms=1_705_314_600_000,
    )
    assert claimed == ClaimResult.CLAIMED

    run_steps = steps(aws)
    if step == "record_dial_failure":
        outcome = run_steps.record_dial_failure(state.run, contact, "Lambda.Unknown")
    else:
        outcome = run_steps.dial_contact(state.run, contact)
    assert (outcome.dialed, outcome.outcome, outcome.uniqueId) == (True, "unknown", "aidial-1705314600000-earlie")
    assert outcome.reason == "earlier attempt interrupted"
    assert aws.dialer.calls() == []
    assert counts(aws, state) == (1, 0, 1)
    (log,) = call_logs(aws, s.campaign_id)
    assert log.outcome == "unknown"
    assert log.error.startswith("outcome unknown: ")
    assert (log.contactName, log.phone) == ("C1", phone(1))  # read from the contact
    assert log.startedAt == "2024-01-15T10:30:00.000Z"
    claim = runs(aws).get_claim(CLIENT, s.campaign_id, state.run.runId, contact.seq)
    assert (claim.status, claim.outcome) == ("done", "unknown")


@pytest.mark.parametrize("step", ["record_dial_failure", "dial_contact"])
def test_an_interrupted_claim_is_settled_even_after_the_run_was_stopped(aws, step: str) -> None:
    s = setup(aws, 2)
    state = start(aws, s)
    first, second = first_page(aws, state)
    # An earlier attempt claimed the dial; its log could not be written (say its transaction
    # kept colliding with the stop's) and the step failed. Then the run was stopped.
    assert (
        runs(aws).claim_dial(
            CLIENT,
            s.campaign_id,
            state.run.runId,
            seq=first.seq,
            index=first.index,
            unique_id="aidial-1705314600000-earlie",
            now_ms=1_705_314_600_000,
        )
        == ClaimResult.CLAIMED
    )
    aws.use_function("StopCallingFunction")
    wiring.calling_service().stop(CLIENT, s.campaign_id)

    def run_step(contact):
        if step == "record_dial_failure":
            return steps(aws).record_dial_failure(state.run, contact, "Lambda.Unknown")
        return steps(aws).dial_contact(state.run, contact)

    # The step's retry (or the dial-failure task) settles the claimed dial...
    outcome = run_step(first)
    assert (outcome.dialed, outcome.outcome, outcome.uniqueId) == (True, "unknown", "aidial-1705314600000-earlie")
    # ...and the next contact, never claimed, is not dialed.
    assert run_step(second).dialed is False

    assert aws.dialer.calls() == []
    assert counts(aws, state) == (1, 0, 1)
    (log,) = call_logs(aws, s.campaign_id)
    assert (log.outcome, log.uniqueId) == ("unknown", "aidial-1705314600000-earlie")
    assert runs(aws).get_run(CLIENT, s.campaign_id, state.run.runId).progress.status == "stopped"


# -- names and numbers, read at dial time -----------------------------------------------------------


def delete_contact(aws, campaign_id: str, seq: int) -> None:
    """As a DELETE of the contact would (no route deletes contacts yet)."""
    key = {"pk": f"CLIENT#{CLIENT}#CAMPAIGN#{campaign_id}", "sk": f"CONTACT#{seq:010d}"}
    aws.table("MainTable").delete_item(Key=key)


def test_a_contact_deleted_after_its_page_was_loaded_is_logged_and_counted_not_dialed(aws) -> None:
    # Given a run whose page is loaded, after one failed call
    s = setup(aws, 3)
    state = start(aws, s)
    first, second, third = first_page(aws, state)
    dial = steps(aws, PAUSE_AFTER_CONSECUTIVE_FAILURES=3)
    fault(aws, mode="error500", count=3)
    assert dial.dial_contact(state.run, first).outcome == "failed"

    # When the second contact is deleted before its turn
    delete_contact(aws, s.campaign_id, second.seq)
    outcome = dial.dial_contact(state.run, second)

    # Then it is not dialed, and logged (by id: its name and number are gone) and counted once
    assert (outcome.dialed, outcome.outcome, outcome.reason) == (False, "failed", "contact no longer exists")
    assert {c["phone"] for c in aws.dialer.calls()} == {phone(1)}
    assert counts(aws, state) == (2, 0, 2)
    gone = next(log for log in call_logs(aws, s.campaign_id) if log.contactId == second.contactId)
    assert (gone.outcome, gone.error) == ("failed", "not dialed: contact no longer exists")
    assert (gone.contactName, gone.phone) == ("", "")
    # and the step delivered again changes nothing
    assert dial.dial_contact(state.run, second).reason == "already dialed"
    assert counts(aws, state) == (2, 0, 2)

    # And it says nothing about the provider: with the next failure the run has failed
    # twice in a row, not three times, so it goes on.
    fault(aws, mode="error500", count=3)
    assert dial.dial_contact(state.run, third).reason is None
    assert status(aws, s.campaign_id).progress.status == "running"


def test_a_failed_dial_step_of_a_deleted_contact_is_still_logged(aws) -> None:
    s = setup(aws, 1)
    state = start(aws, s)
    (contact,) = first_page(aws, state)
    delete_contact(aws, s.campaign_id, contact.seq)

    outcome = steps(aws).record_dial_failure(state.run, contact, "States.Timeout")

    assert (outcome.dialed, outcome.outcome) == (False, "failed")
    (log,) = call_logs(aws, s.campaign_id)
    assert (log.contactId, log.contactName, log.phone) == ("ct_0000000001", "", "")
    assert log.error == "not dialed: States.Timeout; contact no longer exists"
    assert counts(aws, state) == (1, 0, 1)


class UnreadableContacts:
    """The contacts' table refusing reads (throttled past botocore's retries)."""

    def get_contact(self, *args: object, **kwargs: object) -> None:
        error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}}
        raise ClientError(error, "GetItem")


def test_a_failed_dial_step_is_still_logged_when_its_contact_cannot_be_read(aws) -> None:
    s = setup(aws, 1)
    state = start(aws, s)
    (contact,) = first_page(aws, state)
    aws.use_function("RecordDialFailureFunction")
    recorder = DialRecorder(runs=wiring._runs(), campaigns=UnreadableContacts(), clock=SystemClock())  # noqa: SLF001

    outcome = recorder.record_failure(state.run, contact, "States.Timeout")

    # The contact is accounted for all the same, known by id
    assert (outcome.dialed, outcome.outcome) == (False, "failed")
    (log,) = call_logs(aws, s.campaign_id)
    assert (log.contactId, log.contactName, log.phone) == ("ct_0000000001", "", "")
    assert log.error == "not dialed: States.Timeout; contact could not be read"
    assert counts(aws, state) == (1, 0, 1)


class QuotingProvider(httpx.BaseTransport):
    """A provider whose refusal quotes the number it was asked to call, as some do."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        to = json.loads(request.content)["to"]
        return httpx.Response(400, json={"error": f"cannot call {to} ({to[1:]}): number barred"})


class RecordingWorkflow:
    def __init__(self) -> None:
        self.stop_causes: list[str] = []

    def stop(self, arn: str, cause: str) -> bool:
        self.stop_causes.append(cause)
        return True


def test_a_pause_reason_does_not_quote_the_contacts_number(aws) -> None:
    # Given a provider that quotes the number in its refusals, and a run that pauses at once
    s = setup(aws, 1)
    state = start(aws, s)
    (contact,) = first_page(aws, state)
    quoting = DialerClient(aws.dialer.url, api_key=lambda: TEST_API_KEY, transport=QuotingProvider())
    workflow = RecordingWorkflow()
    dial = dial_step_with(aws, placer=CallPlacer(quoting, SystemClock()), workflow=workflow, pause_after_failures=1)

    # When the call fails and the run pauses
    assert dial.dial_contact(state.run, contact).reason == "run paused"

    # Then the reason (in the progress, and in StopExecution's cause, which the execution's
    # history keeps) has the number masked in every form
    reason = status(aws, s.campaign_id).progress.reason
    assert workflow.stop_causes == [reason]
    assert reason == (
        "paused after 1 consecutive failed calls; last error: provider answered 400: "
        "cannot call +44********01 (+44********01): number barred"
    )
    # while the call log, where the number belongs, keeps the provider's words
    (log,) = call_logs(aws, s.campaign_id)
    assert phone(1) in log.error


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
        self._placer = wiring._placer()  # noqa: SLF001
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

    outcome = dial_step_with(aws, placer=placer).dial_contact(state.run, contact)

    assert (outcome.dialed, outcome.outcome) == (True, "success")
    assert transaction_faults.active() == []
    assert counts(aws, state) == (1, 1, 0)
    assert [log.outcome for log in call_logs(aws, s.campaign_id)] == ["success"]
    assert runs(aws).get_run(CLIENT, s.campaign_id, state.run.runId).progress.status == "stopped"


def test_a_placed_call_that_cannot_be_logged_in_time_fails_the_step_with_its_claim_open(
    aws, transaction_faults
) -> None:
    s = setup(aws, 2)
    state = start(aws, s)
    contact = first_page(aws, state)[0]
    placer = StopDuringTheCall(aws, s.campaign_id, conflicts=None)

    with pytest.raises(DependencyUnavailable, match="TransactionConflict"):
        dial_step_with(aws, placer=placer, settle_patience_seconds=0.5).dial_contact(state.run, contact)

    claim = runs(aws).get_claim(CLIENT, s.campaign_id, state.run.runId, contact.seq)
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
    record = runs(aws).get_run(CLIENT, s.campaign_id, state.run.runId)
    assert record.expires_at is not None

    # Delivered twice: nothing more happens. A stopped run is not completed afterwards.
    assert steps(aws).finalise(state.run) == "already ended"
    aws.use_function("StopCallingFunction")
    with pytest.raises(Conflict):
        wiring.calling_service().stop(CLIENT, s.campaign_id)
    # The campaign can run again.
    assert start(aws, s).run.runId != state.run.runId


def test_finalise_reports_no_position_past_the_contacts_handed_to_dial_steps(aws) -> None:
    # Given a run of 3 contacts whose first two were dialed
    s = setup(aws, 3)
    state = start(aws, s)
    dial = steps(aws)
    for contact in first_page(aws, state)[:2]:
        dial.dial_contact(state.run, contact)

    # When it is finalised with the cursor of a page that handed out only those two
    cursor = state.cursor.model_copy(update={"nextIndex": 2})
    assert steps(aws).finalise(state.run, cursor) == "completed"

    # Then its index is that count, not the campaign's size
    progress = status(aws, s.campaign_id).progress
    assert (progress.currentIndex, progress.totalContacts) == (2, 3)


def test_finalise_without_a_cursor_leaves_the_index_as_claimed(aws) -> None:
    # Given a run whose second contact (index 1) was the last claimed
    s = setup(aws, 3)
    state = start(aws, s)
    dial = steps(aws)
    for contact in first_page(aws, state)[:2]:
        dial.dial_contact(state.run, contact)

    # When an execution started before the cursor was passed finalises it
    assert steps(aws).finalise(state.run) == "completed"

    # Then it does not claim a position it never reached
    assert status(aws, s.campaign_id).progress.currentIndex == 1


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
        record = runs(aws).get_run(CLIENT, s.campaign_id, state.run.runId)
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
