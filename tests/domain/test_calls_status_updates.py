"""A call's lifecycle from its provider's status webhooks (calls/status_updates.py): found
through our own index, checked with its account's credentials, moved only forward, and the
run's outcomes counted once per call."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pytest

from campaign_calling.calls.opt_outs import OPTED_OUT, OptOutListing
from campaign_calling.calls.placing import new_call_log
from campaign_calling.calls.providers.lifecycle import StatusEvent
from campaign_calling.calls.status_updates import UNKNOWN_FINAL_RETRY_SECONDS, Recorded, StatusUpdates
from campaign_calling.clock import iso_from_ms
from campaign_calling.errors import Unauthorized
from campaign_calling.models import CallLog, Contact
from campaign_calling.runs.models import RunState
from tests.support.builders import CLIENT, RunsWorld
from tests.support.fakes_catalog import InMemoryCallLogs
from tests.support.fakes_status import FakeWebhookKeys, InMemoryStatusStore, LoggedPhones, RecordingMetrics

SECRET = {"apiKey": "k", "webhookSecret": "whsec-default"}
CLIENT_B = "client-b"


def signed(credentials: Mapping[str, str]) -> bool:
    """The request as the default account signs it (the check itself: signatures.py)."""
    return credentials.get("webhookSecret") == SECRET["webhookSecret"]


def forged(credentials: Mapping[str, str]) -> bool:
    return False


@dataclass
class WebhookWorld:
    """Runs on fakes, a make-call log book sharing their index, and the service on them."""

    runs: RunsWorld = field(default_factory=RunsWorld)
    keys: FakeWebhookKeys = field(default_factory=FakeWebhookKeys)
    metrics: RecordingMetrics = field(default_factory=RecordingMetrics)
    # The pauses the service took (instead of sleeping), and what happens during them.
    sleeps: list[float] = field(default_factory=list)
    during_sleep: Callable[[], None] = lambda: None

    def __post_init__(self) -> None:
        self.manual_logs = InMemoryCallLogs(self.runs.call_index)
        self.store = InMemoryStatusStore(
            self.runs.claims, self.manual_logs, runs=self.runs.runs, follow_ups=self.runs.claims
        )
        self.keys.default["generic"] = SECRET

    def service(self) -> StatusUpdates:
        return StatusUpdates(
            index=self.runs.call_index,
            store=self.store,
            keys=self.keys,
            metrics=self.metrics,
            clock=self.runs.clock,
            opt_outs=OptOutListing(
                phones=LoggedPhones(lambda: self.runs.claims.logs),
                do_not_call=self.runs.do_not_call,
            ),
            sleep=self.sleep,
        )

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.during_sleep()

    def run_with_calls(self, contacts: int, *, refused: int = 0, campaign_id: str = "cmp_1") -> RunState:
        """A run whose contacts were all dialed: the first ``refused`` refused, the rest taken."""
        state = self.runs.started(contacts=contacts, campaign_id=campaign_id)
        self.runs.placer.fail_next(refused, "provider answered 400: invalid number")
        step = self.runs.dial_step()
        for contact in self.runs.first_page(state):
            step.dial_contact(state.run, contact)
        return state

    def log(self, unique_id: str) -> CallLog:
        (found,) = [log for log in self.runs.claims.logs if log.uniqueId == unique_id]
        return found

    def placed(self) -> list[CallLog]:
        return [log for log in self.runs.claims.logs if log.providerCallId]

    def send(self, call_id: str, status: str, *, signed_by=signed, **details: object) -> Recorded:
        event = StatusEvent(provider_call_id=call_id, status=status, **details)  # type: ignore[arg-type]
        return self.service().record("generic", event, signed_by)


def outcomes(world: WebhookWorld, state: RunState) -> dict[str, int]:
    return world.runs.progress(state.run).outcomes.model_dump(by_alias=True)


def test_given_a_placed_call_when_its_webhooks_arrive_in_order_then_its_log_follows_and_the_run_counts_it() -> None:
    # Given a run whose one call the provider took
    world = WebhookWorld()
    state = world.run_with_calls(1)
    (call,) = world.placed()
    assert (call.status, call.provider, call.account) == ("queued", "generic", "default")
    assert outcomes(world, state)["pending"] == 1

    # When the provider reports it ringing, answered, then completed
    ended_ms = world.runs.clock.now_ms() + 40_000
    results = [
        world.send(call.providerCallId or "", "ringing"),
        world.send(call.providerCallId or "", "in-progress"),
        world.send(
            call.providerCallId or "",
            "completed",
            answered_by="human",
            duration_seconds=37,
            ended_reason="hangup",
            ended_at_ms=ended_ms,
        ),
    ]

    # Then each was recorded, and the log ends as the provider said
    assert results == [Recorded.CHANGED] * 3
    log = world.log(call.uniqueId)
    assert (log.status, log.answeredBy, log.durationSeconds, log.endedReason, log.endedAt) == (
        "completed",
        "human",
        37,
        "hangup",
        iso_from_ms(ended_ms),
    )
    assert log.outcome == "success"  # the provider took the call: unchanged
    # and the run's outcome moved from pending to completed, once; one metric for it
    assert outcomes(world, state) == {**dict.fromkeys(outcomes(world, state), 0), "completed": 1}
    assert world.metrics.ended == [("generic", "completed")]


def test_given_a_completed_call_when_the_same_webhook_comes_again_then_nothing_changes() -> None:
    world = WebhookWorld()
    state = world.run_with_calls(1)
    (call,) = world.placed()
    world.send(call.providerCallId or "", "completed", duration_seconds=12)
    before = (world.log(call.uniqueId), outcomes(world, state), world.store.writes)

    again = world.send(call.providerCallId or "", "completed", duration_seconds=12)

    assert again == Recorded.UNCHANGED
    assert (world.log(call.uniqueId), outcomes(world, state), world.store.writes) == before
    assert world.metrics.ended == [("generic", "completed")]


def test_given_a_person_who_opts_out_when_the_webhook_says_so_then_the_calls_number_is_listed_once() -> None:
    # Given two placed calls of a run
    world = WebhookWorld()
    world.run_with_calls(2)
    first, second = world.placed()
    # When the first one's final webhook says the person opted out, twice (a replay)
    world.send(first.providerCallId or "", "completed", opt_out=True)
    world.send(first.providerCallId or "", "completed", opt_out=True)
    # And the second one ends without opting out
    world.send(second.providerCallId or "", "completed")
    # Then only the first call's number is on the client's list, as the provider's opt-out
    dnc = world.runs.do_not_call
    assert dnc.is_listed(CLIENT, first.phone) and dnc.reason(CLIENT, first.phone) == OPTED_OUT
    assert not dnc.is_listed(CLIENT, second.phone)
    assert not dnc.is_listed(CLIENT_B, first.phone)


def test_given_a_forged_opt_out_when_it_arrives_then_nothing_is_listed() -> None:
    world = WebhookWorld()
    world.run_with_calls(1)
    (call,) = world.placed()

    with pytest.raises(Unauthorized):
        world.send(call.providerCallId or "", "completed", opt_out=True, signed_by=forged)

    assert not world.runs.do_not_call.is_listed(CLIENT, call.phone)


def test_given_a_completed_call_when_a_late_ringing_arrives_then_the_call_does_not_move_back() -> None:
    world = WebhookWorld()
    world.run_with_calls(1)
    (call,) = world.placed()
    world.send(call.providerCallId or "", "completed")

    late = [world.send(call.providerCallId or "", status) for status in ("ringing", "in-progress", "queued")]

    assert late == [Recorded.UNCHANGED] * 3
    assert world.log(call.uniqueId).status == "completed"


def test_given_a_final_status_when_another_final_status_arrives_then_the_first_one_stands() -> None:
    world = WebhookWorld()
    state = world.run_with_calls(1)
    (call,) = world.placed()
    world.send(call.providerCallId or "", "busy", ended_reason="busy")

    other = world.send(call.providerCallId or "", "completed", ended_reason="hangup")

    assert other == Recorded.UNCHANGED
    assert (world.log(call.uniqueId).status, world.log(call.uniqueId).endedReason) == ("busy", "busy")
    assert (outcomes(world, state)["busy"], outcomes(world, state)["completed"]) == (1, 0)


def test_given_events_out_of_order_when_the_final_one_comes_first_then_only_it_counts() -> None:
    world = WebhookWorld()
    state = world.run_with_calls(1)
    (call,) = world.placed()

    results = [world.send(call.providerCallId or "", s) for s in ("no-answer", "ringing", "queued")]

    assert results == [Recorded.CHANGED, Recorded.UNCHANGED, Recorded.UNCHANGED]
    assert world.log(call.uniqueId).status == "no-answer"
    assert (outcomes(world, state)["no-answer"], outcomes(world, state)["pending"]) == (1, 0)


def test_given_an_unknown_call_id_when_its_webhook_arrives_then_nothing_is_written_or_checked() -> None:
    world = WebhookWorld()
    state = world.run_with_calls(2)
    before = (list(world.runs.claims.logs), outcomes(world, state))

    result = world.send("call_nobody_placed", "completed")

    assert result == Recorded.UNKNOWN_CALL
    assert (world.runs.claims.logs, outcomes(world, state)) == before
    assert world.store.writes == 0 and world.keys.asked == [] and world.metrics.ended == []
    # (a final status is looked up a few more times first: its log may be being written)
    assert len(world.sleeps) == len(UNKNOWN_FINAL_RETRY_SECONDS) and sum(world.sleeps) < 2


def test_given_a_final_status_that_beats_its_call_log_when_the_log_lands_meanwhile_then_it_is_recorded() -> None:
    world = WebhookWorld()
    state = world.run_with_calls(1)
    (call,) = world.placed()
    # Given the index entry is not there yet when the webhook arrives (the dial step still writes)
    key = ("generic", call.providerCallId or "")
    entry = world.runs.call_index.entries.pop(key)
    world.during_sleep = lambda: world.runs.call_index.entries.setdefault(key, entry)

    # When the provider's final status arrives
    result = world.send(call.providerCallId or "", "no-answer")

    # Then it is looked up again after a pause, and recorded
    assert result == Recorded.CHANGED and len(world.sleeps) == 1
    assert world.log(call.uniqueId).status == "no-answer"
    assert outcomes(world, state)["no-answer"] == 1


def test_given_an_unknown_call_id_when_a_progress_event_arrives_then_it_is_not_waited_for() -> None:
    world = WebhookWorld()

    assert world.send("call_nobody_placed", "ringing") == Recorded.UNKNOWN_CALL
    assert world.sleeps == []


def test_given_a_badly_signed_webhook_when_it_arrives_then_it_is_refused_and_nothing_changes() -> None:
    world = WebhookWorld()
    state = world.run_with_calls(1)
    (call,) = world.placed()

    with pytest.raises(Unauthorized):
        world.send(call.providerCallId or "", "completed", signed_by=forged)

    assert world.log(call.uniqueId).status == "queued"
    assert outcomes(world, state)["pending"] == 1
    assert world.store.writes == 0 and world.metrics.ended == []


def test_given_a_call_of_a_clients_own_account_when_its_webhook_arrives_then_that_accounts_credentials_check_it() -> (
    None
):
    # Given a manual call placed with client B's own generic account
    world = WebhookWorld()
    own = {"apiKey": "kb", "webhookSecret": "whsec-client-b"}
    world.keys.clients[("generic", CLIENT_B)] = own
    log = manual_log("call_b_1", account="client")
    world.manual_logs.put(CLIENT_B, log)

    # When it is signed with the deployment's default secret, then with B's own
    with pytest.raises(Unauthorized):
        world.send("call_b_1", "completed", signed_by=signed)
    recorded = world.send("call_b_1", "completed", signed_by=lambda c: c.get("webhookSecret") == "whsec-client-b")

    # Then only B's own credentials were good for it
    assert recorded == Recorded.CHANGED
    assert world.keys.asked == [("generic", CLIENT_B, "client")] * 2
    assert world.manual_logs.stored_log(CLIENT_B, "cmp_b", log.uniqueId).status == "completed"  # type: ignore[union-attr]


def test_given_a_manual_call_when_its_final_webhook_arrives_then_its_log_ends_and_no_run_is_touched() -> None:
    world = WebhookWorld()
    log = manual_log("call_m_1")
    world.manual_logs.put(CLIENT, log)

    recorded = world.send("call_m_1", "voicemail", answered_by="machine")

    assert recorded == Recorded.CHANGED
    stored = world.manual_logs.stored_log(CLIENT, "cmp_b", log.uniqueId)
    assert stored is not None and (stored.status, stored.answeredBy) == ("voicemail", "machine")
    assert world.runs.runs.runs == {}
    assert world.metrics.ended == [("generic", "voicemail")]


def test_given_one_clients_call_when_its_webhook_arrives_then_no_other_clients_data_changes() -> None:
    # Given client A's run and client B's manual call, each taken by the provider
    world = WebhookWorld()
    state = world.run_with_calls(1)
    (call_a,) = world.placed()
    log_b = manual_log("call_b_2")
    world.manual_logs.put(CLIENT_B, log_b)

    # When A's call ends
    world.send(call_a.providerCallId or "", "completed")

    # Then A's log and run moved, and B's call is as it was
    assert world.log(call_a.uniqueId).status == "completed"
    assert outcomes(world, state)["completed"] == 1
    assert world.manual_logs.stored_log(CLIENT_B, "cmp_b", log_b.uniqueId) == log_b


def test_given_a_run_whose_progress_expired_when_a_final_webhook_arrives_then_the_log_alone_changes() -> None:
    # Given a run that ended and whose progress has since expired
    world = WebhookWorld()
    state = world.run_with_calls(1)
    (call,) = world.placed()
    world.runs.runs.end_run(state.run.ref, status="completed")
    world.runs.clock.advance(2 * 3600 * 1000)
    before = world.runs.progress(state.run)

    # When the call's final status arrives
    recorded = world.send(call.providerCallId or "", "completed")

    # Then the log ends; the expired progress is not counted into
    assert recorded == Recorded.CHANGED
    assert world.log(call.uniqueId).status == "completed"
    assert world.runs.progress(state.run) == before


def test_given_a_run_whose_progress_is_gone_when_a_final_webhook_arrives_then_it_is_not_recreated() -> None:
    world = WebhookWorld()
    state = world.run_with_calls(1)
    (call,) = world.placed()
    del world.runs.runs.runs[state.run.ref]

    recorded = world.send(call.providerCallId or "", "failed")

    assert recorded == Recorded.CHANGED
    assert world.log(call.uniqueId).status == "failed"
    assert state.run.ref not in world.runs.runs.runs


def test_given_a_run_with_every_kind_of_end_then_outcomes_add_up_to_the_completed_calls() -> None:
    # Given a run of 6 calls: one refused by the provider, five taken
    world = WebhookWorld()
    state = world.run_with_calls(6, refused=1)
    placed = world.placed()
    assert len(placed) == 5

    # When four end (one of them reported twice and once out of order) and one never does
    for call, status in zip(placed, ["completed", "busy", "no-answer", "completed"], strict=False):
        world.send(call.providerCallId or "", "ringing")
        world.send(call.providerCallId or "", status)
        world.send(call.providerCallId or "", status)
        world.send(call.providerCallId or "", "in-progress")

    # Then every call is counted once, in the status it ended with
    progress = world.runs.progress(state.run)
    assert outcomes(world, state) == {
        "completed": 2,
        "voicemail": 0,
        "busy": 1,
        "no-answer": 1,
        "failed": 1,
        "canceled": 0,
        "unknown": 0,
        "skipped": 0,
        "pending": 1,
    }
    assert sum(outcomes(world, state).values()) == progress.completedCalls == 6
    # and successfulCalls / failedCalls keep their meaning: the provider took the call or not
    assert (progress.successfulCalls, progress.failedCalls) == (5, 1)


@pytest.mark.parametrize(
    ("outcome", "status", "reason"),
    [
        ("success", "queued", None),
        ("unknown", "queued", None),
        ("failed", "failed", "not placed: provider answered 400: invalid number"),
    ],
)
def test_placing_starts_a_calls_lifecycle(outcome: str, status: str, reason: str | None) -> None:
    log = new_call_log(
        campaign_id="cmp_1",
        contact=Contact(id="ct_0000000001", name="C1", phone="+12025550001", seq=1),
        agent_id="ag_1",
        unique_id="aidial-1705314600000-abcdef",
        started_ms=0,
        ended_ms=10,
        run_id=None,
        outcome=outcome,  # type: ignore[arg-type]
        error=None if outcome != "failed" else "provider answered 400: invalid number",
    )
    assert (log.status, log.endedReason, log.provider, log.account) == (status, reason, "generic", "default")


def manual_log(provider_call_id: str, *, account: str = "default") -> CallLog:
    log = new_call_log(
        campaign_id="cmp_b",
        contact=Contact(id="ct_0000000001", name="B1", phone="+12025550009", seq=1),
        agent_id="ag_b",
        unique_id=f"aidial-1705314600000-{provider_call_id[-6:]:0>6}",
        started_ms=0,
        ended_ms=10,
        run_id=None,
        outcome="success",
        error=None,
        account=account,  # type: ignore[arg-type]
    )
    return log.model_copy(update={"providerCallId": provider_call_id})
