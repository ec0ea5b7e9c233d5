"""The Vapi dialect: the create-call request against Vapi's documented example, its answers,
and server messages (status-update, end-of-call-report) read into our lifecycle."""

from __future__ import annotations

import json

import pytest

from campaign_calling.calls.providers.dialect import CallSpec, ProviderConfigError
from campaign_calling.calls.providers.lifecycle import StatusEvent, WebhookPayloadError
from campaign_calling.calls.providers.vapi import (
    VapiAccount,
    VapiDefaults,
    create_call_request,
    final_status,
    read_create_call_answer,
    read_status_event,
)

# Recorded from https://docs.vapi.ai/assistants/concepts/transient-vs-permanent-configurations
# ("Use permanent configurations"):
#   curl -X POST "https://api.vapi.ai/call" \
#     -H "Authorization: Bearer $VAPI_API_KEY" \
#     -H "Content-Type: application/json" \
#     -d '{"phoneNumberId": "your-phone-number-id", "customer": {"number": "+1234567890"},
#          "assistantId": "your-assistant-id", "assistantOverrides": {...}}'
ACCOUNT = VapiAccount(api_key="vapi-private-key")
DEFAULTS = VapiDefaults(phone_number_id="your-phone-number-id")
CALL = CallSpec(
    to="+1234567890",
    provider_agent_id="your-assistant-id",
    caller_id="+15550001111",
    idempotency_key="run-1:7:1",
    metadata={"uniqueId": "aidial-1"},
    status_webhook_url="https://api.example.com/api/v1/webhooks/vapi",
    customer_name="Jo Bloggs",
)


def test_given_a_call_when_the_request_is_built_then_it_is_vapis_documented_create_call() -> None:
    # When
    request = create_call_request(CALL, ACCOUNT, DEFAULTS)
    body = json.loads(request.body)
    # Then
    assert (request.method, request.path) == ("POST", "/call")
    assert request.headers["Authorization"] == "Bearer vapi-private-key"
    assert request.headers["Content-Type"] == "application/json"
    assert body["assistantId"] == "your-assistant-id"
    assert body["phoneNumberId"] == "your-phone-number-id"
    assert body["customer"] == {"number": "+1234567890", "name": "Jo Bloggs"}


def test_given_a_status_webhook_when_built_then_the_assistant_reports_status_to_it_only() -> None:
    body = json.loads(
        create_call_request(CALL, ACCOUNT, VapiDefaults("pn-1", server_credential_id="cred_hmac_456")).body
    )
    assert body["assistantOverrides"] == {
        "server": {"url": "https://api.example.com/api/v1/webhooks/vapi", "credentialId": "cred_hmac_456"},
        "serverMessages": ["status-update", "end-of-call-report"],
        "metadata": {"uniqueId": "aidial-1"},
    }


def test_given_no_name_webhook_or_metadata_when_built_then_the_body_is_the_minimal_documented_one() -> None:
    call = CallSpec(to="+1234567890", provider_agent_id="your-assistant-id", caller_id=None, idempotency_key="k")
    assert json.loads(create_call_request(call, ACCOUNT, DEFAULTS).body) == {
        "assistantId": "your-assistant-id",
        "phoneNumberId": "your-phone-number-id",
        "customer": {"number": "+1234567890"},
    }


def test_given_no_phone_number_id_when_built_then_it_is_a_config_error() -> None:
    with pytest.raises(ProviderConfigError):
        create_call_request(CALL, ACCOUNT, VapiDefaults())


def test_given_vapi_when_built_then_the_request_is_not_idempotent_and_hides_the_key_and_name() -> None:
    request = create_call_request(CALL, ACCOUNT, DEFAULTS)
    assert request.idempotent is False
    assert "vapi-private-key" not in repr(request) + repr(ACCOUNT)
    assert "Jo Bloggs" not in repr(request) + repr(CALL)


def test_given_vapis_201_when_read_then_the_call_id_is_the_provider_call_id() -> None:
    answer = read_create_call_answer(201, {"id": "call-uuid-1", "orgId": "org-1", "status": "queued"})
    assert (answer.accepted, answer.provider_call_id, answer.error) == (True, "call-uuid-1", None)


def test_given_vapis_validation_error_when_read_then_its_messages_are_joined_without_numbers() -> None:
    payload = {
        "message": ["customer.number +1234567890 is invalid", "assistantId must be a UUID"],
        "error": "Bad Request",
        "statusCode": 400,
    }
    answer = read_create_call_answer(400, payload)
    assert answer.accepted is False
    assert answer.error == "vapi answered 400: customer.number [number] is invalid; assistantId must be a UUID"


# --- server messages ----------------------------------------------------------------------


def message(**fields: object) -> bytes:
    return json.dumps({"message": {"call": {"id": "call-uuid-1"}, **fields}}).encode()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("scheduled", "queued"),
        ("queued", "queued"),
        ("ringing", "ringing"),
        ("in-progress", "in-progress"),
        ("forwarding", "in-progress"),
    ],
)
def test_given_a_status_update_when_read_then_it_is_our_progress_status(status: str, expected: str) -> None:
    assert read_status_event(message(type="status-update", status=status)) == StatusEvent("call-uuid-1", expected)


def test_given_an_end_of_call_report_when_read_then_it_is_final_with_reason_duration_and_end() -> None:
    # Given the documented shape, with times
    body = message(
        type="end-of-call-report",
        endedReason="customer-ended-call",
        startedAt="2024-01-15T10:30:05.000Z",
        endedAt="2024-01-15T10:31:02.000Z",
        artifact={"transcript": "AI: Hello ..."},
    )
    # When / Then
    assert read_status_event(body) == StatusEvent(
        "call-uuid-1", "completed", None, 57, "customer-ended-call", 1_705_314_662_000
    )


def test_given_a_report_with_duration_seconds_when_read_then_that_duration_is_used() -> None:
    event = read_status_event(
        message(type="end-of-call-report", endedReason="assistant-ended-call", durationSeconds=41.6)
    )
    assert event is not None and event.duration_seconds == 42


def test_given_a_status_update_ended_when_read_then_its_ended_reason_makes_it_final() -> None:
    event = read_status_event(message(type="status-update", status="ended", endedReason="customer-busy"))
    assert event == StatusEvent("call-uuid-1", "busy", None, None, "customer-busy", None)


def test_given_a_report_whose_times_are_on_its_call_when_read_then_the_call_times_are_used() -> None:
    body = json.dumps(
        {
            "message": {
                "type": "end-of-call-report",
                "endedReason": "voicemail",
                "call": {"id": "call-uuid-1", "startedAt": "2024-01-15T10:30:00Z", "endedAt": "2024-01-15T10:30:20Z"},
            }
        }
    ).encode()
    assert read_status_event(body) == StatusEvent(
        "call-uuid-1", "voicemail", "machine", 20, "voicemail", 1_705_314_620_000
    )


@pytest.mark.parametrize(
    ("ended_reason", "expected"),
    [
        ("customer-ended-call", "completed"),
        ("assistant-said-end-call-phrase", "completed"),
        ("exceeded-max-duration", "completed"),
        ("silence-timed-out", "completed"),
        ("customer-busy", "busy"),
        ("customer-did-not-answer", "no-answer"),
        ("voicemail", "voicemail"),
        ("manually-canceled", "canceled"),
        ("twilio-failed-to-connect-call", "failed"),
        ("call.start.error-get-phone-number", "failed"),
        ("pipeline-error-openai-llm-failed", "failed"),
        ("call.in-progress.error-vapifault-worker-died", "failed"),
        ("worker-shutdown", "failed"),
        (None, "failed"),
    ],
)
def test_given_vapis_ended_reason_when_mapped_then_it_is_our_final_status(
    ended_reason: str | None, expected: str
) -> None:
    assert final_status(ended_reason) == expected


@pytest.mark.parametrize("kind", ["conversation-update", "hang", "transcript", "tool-calls"])
def test_given_a_message_that_is_not_about_status_when_read_then_it_is_ignored(kind: str) -> None:
    assert read_status_event(message(type=kind)) is None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"type": "status-update"}',
        json.dumps({"message": {"type": "status-update", "status": "ringing"}}).encode(),
        message(type="status-update", status="exploded"),
    ],
    ids=["not-json", "not-object", "no-message", "no-call-id", "unknown-status"],
)
def test_given_an_unreadable_message_when_read_then_it_is_a_payload_error(body: bytes) -> None:
    with pytest.raises(WebhookPayloadError):
        read_status_event(body)
