"""The Twilio dialect: the create-call request against Twilio's documented example, its
answers, and status callbacks read into our lifecycle."""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl

import pytest

from campaign_calling.calls.providers.dialect import CallSpec, ProviderConfigError
from campaign_calling.calls.providers.lifecycle import StatusEvent, WebhookPayloadError
from campaign_calling.calls.providers.twilio import (
    TwilioAccount,
    TwilioDefaults,
    create_call_request,
    form_fields,
    read_create_call_answer,
    read_status_event,
)

# Recorded from https://www.twilio.com/docs/voice/make-calls ("status callback" example):
#   curl -X POST "https://api.twilio.com/2010-04-01/Accounts/$TWILIO_ACCOUNT_SID/Calls.json" \
#   --data-urlencode "Method=GET" \
#   --data-urlencode "StatusCallback=https://www.myapp.com/events" \
#   --data-urlencode "StatusCallbackEvent=initiated" \
#   --data-urlencode "StatusCallbackEvent=answered" \
#   --data-urlencode "StatusCallbackMethod=POST" \
#   --data-urlencode "Url=http://demo.twilio.com/docs/voice.xml" \
#   --data-urlencode "To=+14155551212" \
#   --data-urlencode "From=+18668675310" \
#   -u $TWILIO_ACCOUNT_SID:$TWILIO_AUTH_TOKEN
DOC_FIELDS = {"StatusCallback", "StatusCallbackEvent", "StatusCallbackMethod", "Url", "To", "From"}
ACCOUNT = TwilioAccount(account_sid="ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", auth_token="your_auth_token")
DEFAULTS = TwilioDefaults(twiml_url="http://demo.twilio.com/docs/voice.xml")
CALL = CallSpec(
    to="+14155551212",
    provider_agent_id="agent-7",
    caller_id="+18668675310",
    idempotency_key="run-1:7:1",
    metadata={"uniqueId": "aidial-1"},
    status_webhook_url="https://www.myapp.com/events",
)


def test_given_a_call_when_the_request_is_built_then_it_is_twilios_documented_create_call() -> None:
    # When
    request = create_call_request(CALL, ACCOUNT, DEFAULTS)
    # Then: the path, form encoding and basic auth of the documented example
    assert (request.method, request.path) == (
        "POST",
        "/2010-04-01/Accounts/ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/Calls.json",
    )
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    expected_auth = base64.b64encode(b"ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:your_auth_token").decode()
    assert request.headers["Authorization"] == f"Basic {expected_auth}"
    fields = parse_qsl(request.body.decode())
    assert DOC_FIELDS <= {name for name, _ in fields}
    assert dict(fields)["To"] == "+14155551212"
    assert dict(fields)["From"] == "+18668675310"
    assert dict(fields)["StatusCallback"] == "https://www.myapp.com/events"
    assert dict(fields)["StatusCallbackMethod"] == "POST"
    assert dict(fields)["MachineDetection"] == "Enable"


def test_given_a_call_when_encoded_then_values_are_url_encoded_as_curl_data_urlencode_does() -> None:
    body = create_call_request(CALL, ACCOUNT, DEFAULTS).body.decode()
    assert "To=%2B14155551212" in body
    assert "StatusCallback=https%3A%2F%2Fwww.myapp.com%2Fevents" in body


def test_given_a_status_webhook_when_built_then_every_event_is_its_own_repeated_field() -> None:
    fields = parse_qsl(create_call_request(CALL, ACCOUNT, DEFAULTS).body.decode())
    events = [value for name, value in fields if name == "StatusCallbackEvent"]
    assert events == ["initiated", "ringing", "answered", "completed"]


def test_given_a_twiml_url_when_built_then_the_agent_travels_to_it_as_a_query_parameter() -> None:
    defaults = TwilioDefaults(twiml_url="https://bridge.example.com/twiml?lang=en")
    fields = dict(parse_qsl(create_call_request(CALL, ACCOUNT, defaults).body.decode()))
    assert fields["Url"] == "https://bridge.example.com/twiml?lang=en&agentId=agent-7"


def test_given_inline_twiml_when_built_then_twiml_is_sent_instead_of_a_url() -> None:
    defaults = TwilioDefaults(twiml="<Response><Say>Hi</Say></Response>", machine_detection=None)
    fields = dict(parse_qsl(create_call_request(CALL, ACCOUNT, defaults).body.decode()))
    assert fields["Twiml"] == "<Response><Say>Hi</Say></Response>"
    assert "Url" not in fields and "MachineDetection" not in fields


def test_given_no_webhook_when_built_then_no_status_callback_is_asked() -> None:
    call = CallSpec(to="+14155551212", provider_agent_id="a", caller_id="+18668675310", idempotency_key="k")
    names = {name for name, _ in parse_qsl(create_call_request(call, ACCOUNT, DEFAULTS).body.decode())}
    assert not names & {"StatusCallback", "StatusCallbackEvent", "StatusCallbackMethod"}


def test_given_twilio_when_built_then_the_request_is_not_idempotent_and_hides_its_secrets() -> None:
    request = create_call_request(CALL, ACCOUNT, DEFAULTS)
    assert request.idempotent is False
    assert "your_auth_token" not in repr(request) and "Basic" not in repr(request)
    assert "your_auth_token" not in repr(ACCOUNT)
    assert "+14155551212" not in repr(request) and "+14155551212" not in repr(CALL)


@pytest.mark.parametrize(
    ("call", "defaults"),
    [
        (CallSpec(to="+14155551212", provider_agent_id="a", caller_id=None, idempotency_key="k"), DEFAULTS),
        (CALL, TwilioDefaults()),
    ],
    ids=["no-caller-id", "no-twiml"],
)
def test_given_a_missing_setting_when_built_then_it_is_a_config_error(call: CallSpec, defaults: TwilioDefaults) -> None:
    with pytest.raises(ProviderConfigError):
        create_call_request(call, ACCOUNT, defaults)


def test_given_twilios_201_when_read_then_the_call_sid_is_the_provider_call_id() -> None:
    # Given the documented response (abridged)
    payload = {"sid": "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "status": "queued", "to": "+14155551212"}
    answer = read_create_call_answer(201, payload)
    assert (answer.accepted, answer.provider_call_id, answer.error) == (
        True,
        "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        None,
    )


def test_given_twilios_error_when_read_then_its_message_is_kept_without_the_number() -> None:
    payload = {
        "code": 21211,
        "message": "The 'To' number +14155551212 is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400,
    }
    answer = read_create_call_answer(400, payload)
    assert answer.accepted is False and answer.provider_call_id is None
    assert answer.error == "twilio answered 400: The 'To' number [number] is not a valid phone number."


# --- status callbacks ---------------------------------------------------------------------

BASE = {"CallSid": "CA42", "AccountSid": "AC1", "To": "+14155551212", "From": "+18668675310"}


def callback(**fields: str) -> list[tuple[str, str]]:
    return list({**BASE, **fields}.items())


@pytest.mark.parametrize(
    ("call_status", "expected"),
    [("queued", "queued"), ("initiated", "queued"), ("ringing", "ringing"), ("in-progress", "in-progress")],
)
def test_given_a_progress_callback_when_read_then_it_is_our_progress_status(call_status: str, expected: str) -> None:
    assert read_status_event(callback(CallStatus=call_status)) == StatusEvent("CA42", expected)


def test_given_a_completed_callback_answered_by_a_person_when_read_then_it_is_completed_with_its_duration() -> None:
    # Given
    fields = callback(
        CallStatus="completed", AnsweredBy="human", CallDuration="37", Timestamp="Mon, 15 Jan 2024 10:31:02 +0000"
    )
    # When
    event = read_status_event(fields)
    # Then
    assert event == StatusEvent("CA42", "completed", "human", 37, "completed", 1_705_314_662_000)
    assert event.is_final


@pytest.mark.parametrize(
    "answered_by", ["machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other"]
)
def test_given_a_completed_callback_answered_by_a_machine_when_read_then_it_is_voicemail(answered_by: str) -> None:
    event = read_status_event(callback(CallStatus="completed", AnsweredBy=answered_by, CallDuration="12"))
    assert (event.status, event.answered_by, event.ended_reason) == (
        "voicemail",
        "machine",
        f"completed (AnsweredBy={answered_by})",
    )


def test_given_a_fax_when_read_then_the_call_failed() -> None:
    event = read_status_event(callback(CallStatus="completed", AnsweredBy="fax"))
    assert (event.status, event.answered_by) == ("failed", "fax")


@pytest.mark.parametrize("call_status", ["busy", "no-answer", "failed", "canceled"])
def test_given_an_unanswered_callback_when_read_then_the_final_status_is_twilios(call_status: str) -> None:
    event = read_status_event(callback(CallStatus=call_status, CallDuration="0"))
    assert (event.status, event.ended_reason, event.duration_seconds) == (call_status, call_status, 0)


def test_given_a_form_body_when_split_then_repeated_fields_are_kept() -> None:
    assert form_fields(b"CallSid=CA42&CallStatus=ringing&Digits=1&Digits=2") == [
        ("CallSid", "CA42"),
        ("CallStatus", "ringing"),
        ("Digits", "1"),
        ("Digits", "2"),
    ]


@pytest.mark.parametrize(
    "fields",
    [
        [("CallStatus", "completed")],
        [("CallSid", "CA42")],
        [("CallSid", "CA42"), ("CallStatus", "exploded")],
    ],
    ids=["no-sid", "no-status", "unknown-status"],
)
def test_given_an_unreadable_callback_when_read_then_it_is_a_payload_error(fields: list[tuple[str, str]]) -> None:
    with pytest.raises(WebhookPayloadError):
        read_status_event(fields)


def test_given_a_body_that_is_not_a_form_when_split_then_it_is_a_payload_error() -> None:
    with pytest.raises(WebhookPayloadError):
        form_fields(b"\xff\xfe")
