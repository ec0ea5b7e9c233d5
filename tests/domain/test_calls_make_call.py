"""make-call on fakes: one call placed now and logged; its 504, its 409, and an
Idempotency-Key that places a call at most once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from campaign_calling.calls.make_call import CALL_LOG_RESERVE_SECONDS, Attempt, provider_key
from campaign_calling.catalog.limits import ClientLimits
from campaign_calling.errors import (
    Conflict,
    DeadlineExceeded,
    IdempotencyKeyReused,
    InvalidRequest,
    NotFound,
    TooManyCalls,
)
from campaign_calling.models import AgentInput, CallPlaced, CampaignInput
from tests.support.fakes_calls import (
    FakeCalls,
    ScriptedDialer,
    accepted,
    not_dialed_at_deadline,
    refused,
    unanswered_at_deadline,
)
from tests.support.fakes_catalog import contact_inputs

CLIENT = "client-a"


class Setup:
    """A campaign of two contacts and an agent, for ``client``."""

    def __init__(self, calls: FakeCalls, client: str = CLIENT) -> None:
        catalog = calls.catalog.service()
        self.client = client
        self.agent_id = catalog.create_agent(client, AgentInput(name="Bot", providerAgentId="pa-1")).id
        self.campaign_id = catalog.create_campaign(client, CampaignInput(name="S", contacts=contact_inputs(2))).id
        self.contact_ids = [c.id for c in catalog.list_contacts(client, self.campaign_id, 10, None).items]


def make_call(
    calls: FakeCalls,
    s: Setup,
    *,
    contact: int = 0,
    key: str | None = None,
    time_left_ms: Callable[[], int] | None = None,
) -> CallPlaced:
    return calls.service().make_call(
        s.client, s.campaign_id, s.contact_ids[contact], s.agent_id, idempotency_key=key, time_left_ms=time_left_ms
    )


def test_given_a_provider_that_accepts_when_make_call_then_the_call_is_answered_and_logged() -> None:
    # Given
    calls = FakeCalls()
    s = Setup(calls)
    # When
    call = make_call(calls, s)
    # Then
    assert isinstance(call, CallPlaced)
    assert call.success is True
    assert call.uniqueId.startswith("aidial-1705314600000-")
    assert (call.contact.id, call.contact.name, call.contact.phone) == (s.contact_ids[0], "C1", "+12025550001")
    assert call.timestamp == "2024-01-15T10:30:00.000Z"
    assert call.externalResponse == {"id": "call_1", "status": "queued"}
    assert call.model_dump(mode="json", by_alias=True)["contact"]["_id"] == s.contact_ids[0]
    assert "error" not in call.model_dump(mode="json", by_alias=True)
    (log,) = calls.catalog.call_logs.all(CLIENT, s.campaign_id)
    assert (log.uniqueId, log.outcome, log.source, log.agentId) == (call.uniqueId, "success", "manual", s.agent_id)
    # and, without an Idempotency-Key, the provider's key is the call's own
    (request,) = calls.dialer.requests
    assert request.idempotency_key == f"manual:{call.uniqueId}"


def test_given_a_number_on_the_do_not_call_list_when_make_call_then_409_and_nothing_placed_or_logged() -> None:
    # Given the first contact's number on the client's do-not-call list
    calls = FakeCalls()
    s = Setup(calls)
    calls.do_not_call.add(CLIENT, ["+12025550001"])
    # When
    with pytest.raises(Conflict) as refused_call:
        make_call(calls, s)
    # Then
    assert "do-not-call list" in refused_call.value.message
    assert "+12025550001" not in refused_call.value.message
    assert calls.dialer.requests == []
    assert calls.catalog.call_logs.all(CLIENT, s.campaign_id) == []
    # and the campaign's other contact is still called
    assert make_call(calls, s, contact=1).success is True


def test_given_a_provider_that_refuses_when_make_call_then_a_200_answer_says_why() -> None:
    # Given
    calls = FakeCalls(dialer=ScriptedDialer(refused(400, "invalid number")))
    s = Setup(calls)
    # When
    call = make_call(calls, s)
    # Then
    assert (call.success, call.error) == (False, "provider answered 400: invalid number")
    assert call.model_dump(mode="json", by_alias=True)["error"] == "provider answered 400: invalid number"
    (log,) = calls.catalog.call_logs.all(CLIENT, s.campaign_id)
    assert (log.outcome, log.uniqueId) == ("failed", call.uniqueId)


def test_given_no_time_left_to_dial_when_make_call_then_504_names_the_call_logged_failed() -> None:
    # Given
    calls = FakeCalls(dialer=ScriptedDialer(not_dialed_at_deadline()))
    s = Setup(calls)
    # When
    with pytest.raises(DeadlineExceeded) as timed_out:
        make_call(calls, s, time_left_ms=lambda: 1000)
    # Then
    assert timed_out.value.message == (
        "Timed out before the telephony provider accepted the call: it was not placed (logged as failed)"
    )
    (log,) = calls.catalog.call_logs.all(CLIENT, s.campaign_id)
    assert timed_out.value.data == {"uniqueId": log.uniqueId}
    assert (log.outcome, log.error) == ("failed", "not dialed: no time left before the deadline")


def test_given_the_lambdas_time_left_when_make_call_then_the_dial_keeps_back_time_for_the_log() -> None:
    calls = FakeCalls()
    s = Setup(calls)
    make_call(calls, s, time_left_ms=lambda: 10_000)
    (deadline,) = calls.dialer.deadlines
    assert deadline is not None
    assert 10 - CALL_LOG_RESERVE_SECONDS - 1 < deadline.remaining() <= 10 - CALL_LOG_RESERVE_SECONDS


def test_given_a_call_that_may_have_been_placed_at_the_deadline_when_repeated_with_its_key_then_the_same_504() -> None:
    # Given a provider that may take the call but does not answer before the deadline
    calls = FakeCalls(dialer=ScriptedDialer(unanswered_at_deadline()))
    s = Setup(calls)
    # When make-call runs out of time, and the client retries with its key
    with pytest.raises(DeadlineExceeded) as first:
        make_call(calls, s, key="key-504")
    with pytest.raises(DeadlineExceeded) as again:
        make_call(calls, s, key="key-504")
    # Then both are the same 504 naming the one call, logged unknown, and it was not placed again
    assert first.value.message.startswith("Timed out waiting for the telephony provider: the call may have been placed")
    assert (again.value.message, again.value.data) == (first.value.message, first.value.data)
    (log,) = calls.catalog.call_logs.all(CLIENT, s.campaign_id)
    assert (log.outcome, {"uniqueId": log.uniqueId}) == ("unknown", first.value.data)
    assert len(calls.dialer.requests) == 1


def test_given_the_run_is_dialing_the_contact_when_make_call_then_409_and_nothing_placed() -> None:
    # Given a running run of the campaign calling its first contact
    calls = FakeCalls()
    s = Setup(calls)
    calls.catalog.campaigns.mark_running(CLIENT, s.campaign_id, "run-1")
    calls.claims.set(CLIENT, s.campaign_id, "run-1", 1, "dialing")
    # When make-call is sent for that contact, and for the other one
    with pytest.raises(Conflict, match="calling this contact right now"):
        make_call(calls, s, contact=0)
    other = make_call(calls, s, contact=1)
    # Then only the other one is placed
    assert other.success
    assert [r.to for r in calls.dialer.requests] == ["+12025550002"]


def test_given_the_run_has_called_the_contact_when_make_call_then_it_is_placed() -> None:
    calls = FakeCalls()
    s = Setup(calls)
    calls.catalog.campaigns.mark_running(CLIENT, s.campaign_id, "run-1")
    calls.claims.set(CLIENT, s.campaign_id, "run-1", 1, "done")
    assert make_call(calls, s).success


def test_given_one_key_when_make_call_is_repeated_then_one_call_is_placed_and_both_answers_are_it() -> None:
    # Given
    calls = FakeCalls()
    s = Setup(calls)
    # When
    first = make_call(calls, s, key="key-1")
    calls.catalog.clock.advance(5_000)
    again = make_call(calls, s, key="key-1")
    # Then
    assert again == first
    (request,) = calls.dialer.requests
    assert len(calls.catalog.call_logs.all(CLIENT, s.campaign_id)) == 1
    # and the provider's key is derived from the client's, never the key itself
    expected = provider_key(CLIENT, s.campaign_id, s.contact_ids[0], s.agent_id, "key-1")
    assert request.idempotency_key == expected
    assert expected is not None and expected.startswith("manual:") and "key-1" not in expected


def test_given_a_key_used_for_another_contact_when_make_call_then_422_and_nothing_placed() -> None:
    calls = FakeCalls()
    s = Setup(calls)
    make_call(calls, s, contact=0, key="key-2")
    with pytest.raises(IdempotencyKeyReused):
        make_call(calls, s, contact=1, key="key-2")
    assert len(calls.dialer.requests) == 1


def test_given_two_clients_when_both_use_one_key_then_each_places_its_own_call() -> None:
    calls = FakeCalls()
    mine, theirs = Setup(calls), Setup(calls, client="client-b")
    a = make_call(calls, mine, key="shared")
    b = make_call(calls, theirs, key="shared")
    assert a.uniqueId != b.uniqueId
    assert len(calls.dialer.requests) == 2


def test_given_an_error_that_placed_nothing_when_retried_with_the_key_then_the_retry_places_the_call() -> None:
    # Given a make-call naming an agent that does not exist
    calls = FakeCalls()
    s = Setup(calls)
    with pytest.raises(NotFound, match="agent not found"):
        calls.service().make_call(CLIENT, s.campaign_id, s.contact_ids[0], "ag_missing", idempotency_key="key-3")
    # When the client retries with the same key and the right agent
    call = make_call(calls, s, key="key-3")
    # Then it is a fresh request, and placed
    assert call.success
    assert len(calls.dialer.requests) == 1


def test_given_a_key_that_cannot_be_a_key_when_make_call_then_400_and_nothing_placed() -> None:
    calls = FakeCalls()
    s = Setup(calls)
    for bad in ["x" * 256, "has space", "é"]:
        with pytest.raises(InvalidRequest):
            make_call(calls, s, key=bad)
    assert calls.dialer.requests == []


@pytest.mark.parametrize("missing", ["campaign", "contact", "agent"])
def test_given_an_unknown_campaign_contact_or_agent_when_make_call_then_404(missing: str) -> None:
    calls = FakeCalls()
    s = Setup(calls)
    ids = {"campaign": s.campaign_id, "contact": s.contact_ids[0], "agent": s.agent_id} | {missing: f"{missing}_x"}
    with pytest.raises(NotFound, match=f"{missing} not found"):
        calls.service().make_call(CLIENT, ids["campaign"], ids["contact"], ids["agent"])
    assert calls.dialer.requests == []


def test_given_a_contact_of_an_unfinished_add_when_make_call_then_404() -> None:
    # Given a contact written by an add that has not made it visible
    calls = FakeCalls()
    s = Setup(calls)
    (hidden,) = calls.catalog.campaigns.write_unpublished(CLIENT, s.campaign_id, contact_inputs(1, prefix="X"))
    # When / Then
    with pytest.raises(NotFound, match="contact not found"):
        calls.service().make_call(CLIENT, s.campaign_id, hidden.id, s.agent_id)
    assert calls.dialer.requests == []


def test_given_a_campaign_of_another_client_when_make_call_then_404() -> None:
    calls = FakeCalls()
    s = Setup(calls)
    with pytest.raises(NotFound, match="campaign not found"):
        calls.service().make_call("client-b", s.campaign_id, s.contact_ids[0], s.agent_id)


def test_given_a_record_kept_before_answers_were_models_when_read_back_then_it_is_the_same_answer() -> None:
    # Given make-call's answers as records kept them (the contact's id as "_id", no error)
    call = {
        "success": True,
        "uniqueId": "aidial-1705314600000-abcdef",
        "contact": {"_id": "ct_0000000001", "name": "C1", "phone": "+12025550001"},
        "timestamp": "2024-01-15T10:30:00.000Z",
        "externalResponse": {"id": "call_1"},
    }
    timed_out = {"message": "Timed out waiting for the telephony provider", "data": {"uniqueId": "aidial-1-x"}}
    # When they are read back
    placed = Attempt.model_validate({"call": call})
    late = Attempt.model_validate({"timedOut": timed_out})
    # Then the call answers as it did, and the timeout is the same 504
    assert placed.call is not None
    assert placed.call.model_dump(mode="json", by_alias=True) == call
    assert late.timedOut is not None
    assert (late.timedOut.message, late.timedOut.data) == (timed_out["message"], timed_out["data"])


# -- the client's calls in progress ------------------------------------------------------------


def test_given_a_client_at_its_cap_when_make_call_then_429_and_nothing_is_placed() -> None:
    # Given a client capped at 1 call in progress, with one placed and not ended
    calls = FakeCalls()
    s = Setup(calls)
    calls.limits.put(CLIENT, ClientLimits(maxConcurrentCalls=1))
    make_call(calls, s)

    # When it makes another call
    with pytest.raises(TooManyCalls) as refused_call:
        make_call(calls, s, contact=1)

    # Then it is refused with when to try again, and the provider saw one call only
    assert "1 calls in progress" in refused_call.value.message
    assert refused_call.value.data == {"retryAfterSeconds": "10"}
    assert len(calls.dialer.requests) == 1


def test_given_a_call_the_provider_refused_then_its_slot_is_free_at_once() -> None:
    # Given a client capped at 1 call in progress whose first call the provider refuses
    calls = FakeCalls(dialer=ScriptedDialer(refused(), accepted()))
    s = Setup(calls)
    calls.limits.put(CLIENT, ClientLimits(maxConcurrentCalls=1))
    assert not make_call(calls, s).success

    # When it makes another call
    placed = make_call(calls, s, contact=1)

    # Then it is placed: the refused one held no slot
    assert placed.success
    assert len(calls.slots.held(CLIENT)) == 1


def test_given_a_client_rate_of_one_per_second_then_a_second_call_in_that_second_is_429() -> None:
    # Given a client that starts at most 1 call per second
    calls = FakeCalls()
    s = Setup(calls)
    calls.limits.put(CLIENT, ClientLimits(maxCallsPerSecond=1))
    make_call(calls, s)

    # When it makes another call in the same second, then in the next
    with pytest.raises(TooManyCalls) as too_fast:
        make_call(calls, s, contact=1)
    calls.catalog.clock.advance(1000)
    again = make_call(calls, s, contact=1)

    # Then the first is refused for a second, the second placed
    assert too_fast.value.data == {"retryAfterSeconds": "1"}
    assert again.success
