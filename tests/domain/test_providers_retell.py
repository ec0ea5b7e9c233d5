"""The Retell dialect: the create-call request against Retell's documented example, its
answers, and webhook events (call_started, call_ended, call_analyzed) read into our lifecycle."""

from __future__ import annotations

import json

import pytest

from campaign_calling.calls.providers.dialect import CallSpec, ProviderConfigError
from campaign_calling.calls.providers.lifecycle import StatusEvent, WebhookPayloadError
from campaign_calling.calls.providers.retell import (
    RetellAccount,
    create_call_request,
    final_status,
    read_create_call_answer,
    read_status_event,
)

# Recorded from https://docs.retellai.com/api-references/create-phone-call and retell-python-sdk
# tests/api_resources/test_call.py (test_method_create_phone_call):
#   POST https://api.retellai.com/v2/create-phone-call
#   Authorization: Bearer <api key>; Content-Type: application/json
#   {"from_number": "+14157774444", "to_number": "+12137774445", "override_agent_id": ..., "metadata": {...}}
ACCOUNT = RetellAccount(api_key="key_retell_test")
CALL = CallSpec(
    to="+12137774445",
    provider_agent_id="oBeDLoLOeuAbiuaMFXRtDOLriTJ5tSxD",
    caller_id="+14157774444",
    idempotency_key="run-1:7:1",
    metadata={"uniqueId": "aidial-1", "campaignId": "cmp_1"},
    status_webhook_url="https://api.example.com/api/v1/webhooks/retell",
)


def test_given_a_call_when_the_request_is_built_then_it_is_retells_documented_create_phone_call() -> None:
    # When
    request = create_call_request(CALL, ACCOUNT)
    body = json.loads(request.body)
    # Then
    assert (request.method, request.path) == ("POST", "/v2/create-phone-call")
    assert request.headers["Authorization"] == "Bearer key_retell_test"
    assert request.headers["Content-Type"] == "application/json"
    assert (body["from_number"], body["to_number"]) == ("+14157774444", "+12137774445")
    assert body["override_agent_id"] == "oBeDLoLOeuAbiuaMFXRtDOLriTJ5tSxD"
    assert body["metadata"] == {"uniqueId": "aidial-1", "campaignId": "cmp_1"}


def test_given_a_status_webhook_when_built_then_the_agent_reports_its_call_events_to_it() -> None:
    body = json.loads(create_call_request(CALL, ACCOUNT).body)
    assert body["agent_override"] == {
        "agent": {
            "webhook_url": "https://api.example.com/api/v1/webhooks/retell",
            "webhook_events": ["call_started", "call_ended", "call_analyzed"],
        }
    }


def test_given_no_webhook_when_built_then_the_agent_is_not_overridden() -> None:
    call = CallSpec(to="+12137774445", provider_agent_id="ag", caller_id="+14157774444", idempotency_key="k")
    assert "agent_override" not in json.loads(create_call_request(call, ACCOUNT).body)


def test_given_no_caller_id_when_built_then_it_is_a_config_error() -> None:
    call = CallSpec(to="+12137774445", provider_agent_id="ag", caller_id=None, idempotency_key="k")
    with pytest.raises(ProviderConfigError):
        create_call_request(call, ACCOUNT)


def test_given_retell_when_built_then_the_request_is_not_idempotent_and_hides_the_key() -> None:
    request = create_call_request(CALL, ACCOUNT)
    assert request.idempotent is False
    assert "key_retell_test" not in repr(request) + repr(ACCOUNT)


def test_given_retells_201_when_read_then_the_call_id_is_the_provider_call_id() -> None:
    answer = read_create_call_answer(201, {"call_id": "Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6", "call_status": "registered"})
    assert (answer.accepted, answer.provider_call_id, answer.error) == (True, "Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6", None)


def test_given_retells_error_when_read_then_its_message_is_kept() -> None:
    answer = read_create_call_answer(422, {"status": "error", "message": "from_number is not owned"})
    assert (answer.accepted, answer.error) == (False, "retell answered 422: from_number is not owned")


# --- webhook events -----------------------------------------------------------------------


def event(name: str, **call: object) -> bytes:
    return json.dumps({"event": name, "call": {"call_id": "Jabr9", "call_type": "phone_call", **call}}).encode()


def test_given_call_started_when_read_then_the_call_is_in_progress() -> None:
    assert read_status_event(event("call_started", call_status="ongoing")) == StatusEvent("Jabr9", "in-progress")


def test_given_call_ended_by_the_user_when_read_then_it_is_completed_with_duration_and_end() -> None:
    # Given
    body = event(
        "call_ended",
        call_status="ended",
        disconnection_reason="user_hangup",
        start_timestamp=1_705_314_605_000,
        end_timestamp=1_705_314_662_000,
        duration_ms=57_000,
    )
    # When / Then
    assert read_status_event(body) == StatusEvent("Jabr9", "completed", None, 57, "user_hangup", 1_705_314_662_000)


def test_given_call_analyzed_with_voicemail_when_read_then_it_is_voicemail_answered_by_a_machine() -> None:
    body = event(
        "call_analyzed", call_status="ended", disconnection_reason="agent_hangup", call_analysis={"in_voicemail": True}
    )
    event_read = read_status_event(body)
    assert event_read is not None
    assert (event_read.status, event_read.answered_by, event_read.ended_reason) == (
        "voicemail",
        "machine",
        "agent_hangup",
    )


def test_given_call_analyzed_with_a_person_when_read_then_it_is_completed_answered_by_a_human() -> None:
    body = event(
        "call_analyzed", call_status="ended", disconnection_reason="user_hangup", call_analysis={"in_voicemail": False}
    )
    event_read = read_status_event(body)
    assert event_read is not None and (event_read.status, event_read.answered_by) == ("completed", "human")


def test_given_an_analysis_of_a_call_nobody_answered_when_read_then_no_one_is_said_to_have_answered() -> None:
    body = event(
        "call_analyzed",
        call_status="not_connected",
        disconnection_reason="dial_no_answer",
        call_analysis={"in_voicemail": False},
    )
    event_read = read_status_event(body)
    assert event_read is not None and (event_read.status, event_read.answered_by) == ("no-answer", None)


@pytest.mark.parametrize(
    ("reason", "call_status", "expected"),
    [
        ("user_hangup", "ended", "completed"),
        ("agent_hangup", "ended", "completed"),
        ("max_duration_reached", "ended", "completed"),
        ("dial_busy", "not_connected", "busy"),
        ("user_declined", "not_connected", "busy"),
        ("dial_no_answer", "not_connected", "no-answer"),
        ("voicemail_reached", "ended", "voicemail"),
        ("ivr_reached", "ended", "voicemail"),
        ("manual_stopped", "ended", "canceled"),
        ("dial_failed", "not_connected", "failed"),
        ("invalid_destination", "not_connected", "failed"),
        ("error_llm_websocket_open", "error", "failed"),
        (None, "error", "failed"),
        (None, "ended", "completed"),
    ],
)
def test_given_retells_disconnection_reason_when_mapped_then_it_is_our_final_status(
    reason: str | None, call_status: str, expected: str
) -> None:
    assert final_status(reason, call_status) == expected


@pytest.mark.parametrize("name", ["transcript_updated", "transfer_started", "transfer_bridged"])
def test_given_an_event_that_is_not_about_status_when_read_then_it_is_ignored(name: str) -> None:
    assert read_status_event(event(name)) is None


@pytest.mark.parametrize(
    "body",
    [
        b"nope",
        b'"call_ended"',
        b'{"event": "call_ended"}',
        b'{"event": "call_ended", "call": {"call_status": "ended"}}',
    ],
    ids=["not-json", "not-object", "no-call", "no-call-id"],
)
def test_given_an_unreadable_event_when_read_then_it_is_a_payload_error(body: bytes) -> None:
    with pytest.raises(WebhookPayloadError):
        read_status_event(body)
