"""Placing one call (shared by make-call and by runs): what the provider is asked, and the
call log each of its answers becomes."""

from __future__ import annotations

from campaign_calling.calls.placing import CallPlacer, PlacedCall
from campaign_calling.calls.provider import DialResult
from campaign_calling.deadline import Deadline
from campaign_calling.models import Contact
from campaign_calling.runs.models import RunAgent
from tests.support.clock import T0_MS, FixedClock
from tests.support.fakes_calls import (
    ScriptedDialer,
    accepted,
    not_dialed_at_deadline,
    refused,
    unanswered,
    unanswered_at_deadline,
    unreachable,
)

CONTACT = Contact(id="ct_0000000007", name="Jo Bloggs", phone="+12025550123", seq=7)


def place(
    *answers: DialResult, run_id: str | None = None, deadline: Deadline | None = None
) -> tuple[PlacedCall, ScriptedDialer]:
    """Place one call with a provider that answers ``answers`` after 400 ms each."""
    clock = FixedClock()
    dialer = ScriptedDialer(*answers, clock=clock, takes_ms=400)
    placed = CallPlacer(dialer, clock).place(
        client_id="client-a",
        campaign_id="cmp_1",
        contact=CONTACT,
        agent_id="ag_1",
        agent=RunAgent(agentId="ag_1", providerAgentId="pa-1", callerId="+12025550143"),
        unique_id="aidial-1705314600000-abcdef",
        started_ms=T0_MS,
        idempotency_key="run-1:7:1",
        run_id=run_id,
        deadline=deadline,
    )
    return placed, dialer


def test_given_a_provider_that_accepts_when_placed_then_the_log_is_a_success_with_its_call_id() -> None:
    # Given a provider that accepts, When the call is placed
    (log, deadline_exceeded), _ = place(accepted("call_42"))
    # Then
    assert (log.outcome, log.error, log.providerCallId) == ("success", None, "call_42")
    assert log.externalResponse == {"id": "call_42", "status": "queued"}
    assert (log.uniqueId, log.contactId, log.contactName, log.phone) == (
        "aidial-1705314600000-abcdef",
        "ct_0000000007",
        "Jo Bloggs",
        "+12025550123",
    )
    assert (log.startedAt, log.endedAt, log.durationMs) == ("2024-01-15T10:30:00.000Z", "2024-01-15T10:30:00.400Z", 400)
    assert (log.source, log.runId) == ("manual", None)
    assert deadline_exceeded is False


def test_given_a_call_when_placed_then_the_provider_gets_the_number_the_key_and_no_name() -> None:
    # Given / When
    _, dialer = place()
    # Then
    (request,) = dialer.requests
    assert (request.to, request.provider_agent_id, request.caller_id) == ("+12025550123", "pa-1", "+12025550143")
    assert request.idempotency_key == "run-1:7:1"
    assert request.metadata == {
        "uniqueId": "aidial-1705314600000-abcdef",
        "campaignId": "cmp_1",
        "contactId": "ct_0000000007",
        "clientId": "client-a",
    }
    assert "Jo Bloggs" not in repr(request)


def test_given_a_run_when_its_call_is_placed_then_the_log_names_the_run() -> None:
    (log, _), _ = place(run_id="run-1")
    assert (log.source, log.runId) == ("campaign", "run-1")


def test_given_a_provider_that_refuses_when_placed_then_the_log_is_failed_with_its_reason() -> None:
    (log, deadline_exceeded), _ = place(refused(400, "invalid number"))
    assert (log.outcome, log.error) == ("failed", "provider answered 400: invalid number")
    assert log.externalResponse == {"error": "invalid number"}
    assert log.providerCallId is None
    assert deadline_exceeded is False


def test_given_an_unreachable_provider_when_placed_then_the_log_is_failed() -> None:
    (log, _), _ = place(unreachable())
    assert log.outcome == "failed"


def test_given_a_provider_that_never_answers_when_placed_then_the_log_is_unknown() -> None:
    # The provider may have taken the call: neither success nor failed.
    (log, deadline_exceeded), _ = place(unanswered())
    assert (log.outcome, log.error) == ("unknown", "provider timed out: ReadTimeout")
    assert deadline_exceeded is False


def test_given_the_deadline_when_placed_then_the_placer_says_the_deadline_ended_it() -> None:
    (unknown, cut_short), _ = place(unanswered_at_deadline())
    assert (unknown.outcome, cut_short) == ("unknown", True)
    (failed, not_dialed), _ = place(not_dialed_at_deadline())
    assert (failed.outcome, failed.error, not_dialed) == (
        "failed",
        "not dialed: no time left before the deadline",
        True,
    )


def test_given_a_deadline_when_placed_then_the_provider_client_is_given_it() -> None:
    deadline = Deadline(5.0)
    _, dialer = place(deadline=deadline)
    assert dialer.deadlines == [deadline]


def test_given_a_paced_dial_when_prepared_then_the_provider_client_is_readied_without_a_call() -> None:
    dialer = ScriptedDialer()
    CallPlacer(dialer, FixedClock()).prepare()
    assert (dialer.prepared, dialer.requests) == (1, [])
