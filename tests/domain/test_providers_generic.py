"""The generic dialect: exactly the request DialerClient sends today, its answers, and our
own status webhook read into the lifecycle."""

from __future__ import annotations

import json

import httpx
import pytest

from campaign_calling.calls.provider import DialerClient, DialRequest, ProviderEndpoints
from campaign_calling.calls.providers.dialect import CallSpec
from campaign_calling.calls.providers.generic import (
    GenericAccount,
    create_call_request,
    read_create_call_answer,
    read_status_event,
    status_event_body,
)
from campaign_calling.calls.providers.lifecycle import StatusEvent, WebhookPayloadError
from tests.support.fakes_accounts import StaticCredentials

ACCOUNT = GenericAccount(api_key="sim-key")
CALL = CallSpec(
    to="+12025550123",
    provider_agent_id="pa-1",
    caller_id="+12025550143",
    idempotency_key="run-1:7:1",
    metadata={"uniqueId": "aidial-1", "campaignId": "cmp_1"},
)


def test_given_a_call_when_built_then_it_is_the_request_dialer_client_sends_today() -> None:
    # Given what DialerClient puts on the wire for the same call
    sent: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(201, json={"id": "call_42"})

    client = DialerClient(
        ProviderEndpoints({"generic": "http://provider"}),
        StaticCredentials.generic("sim-key"),
        transport=httpx.MockTransport(provider),
    )
    client.dial(DialRequest("+12025550123", "pa-1", "+12025550143", "run-1:7:1", dict(CALL.metadata)))
    (wire,) = sent
    # When
    request = create_call_request(CALL, ACCOUNT)
    # Then
    assert (request.method, request.path) == (wire.method, wire.url.path)
    assert json.loads(request.body) == json.loads(wire.content)
    for name in ("Authorization", "Idempotency-Key", "Content-Type"):
        assert request.headers[name] == wire.headers[name]
    assert request.idempotent is True


def test_given_a_status_webhook_when_built_then_the_body_names_it() -> None:
    call = CallSpec(
        "+12025550123", "pa-1", None, "k", status_webhook_url="https://api.example.com/api/v1/webhooks/generic"
    )
    assert json.loads(create_call_request(call, ACCOUNT).body)["statusWebhookUrl"] == (
        "https://api.example.com/api/v1/webhooks/generic"
    )


def test_given_the_generic_dialect_when_printed_then_the_key_and_number_stay_hidden() -> None:
    text = repr(create_call_request(CALL, ACCOUNT)) + repr(ACCOUNT) + repr(CALL)
    assert "sim-key" not in text and "+12025550123" not in text


@pytest.mark.parametrize(
    ("status", "payload", "expected"),
    [
        (201, {"id": "call_42", "status": "queued"}, (True, "call_42", None)),
        (200, {"status": "queued"}, (True, None, None)),
        (
            400,
            {"error": "to must be E.164, got +1 202 555 0123"},
            (False, None, "provider answered 400: to must be E.164, got [number]"),
        ),
        (503, {"body": "<html>"}, (False, None, "provider answered 503")),
    ],
)
def test_given_the_providers_answer_when_read_then_it_says_accepted_call_id_and_error(
    status: int, payload: object, expected: tuple[bool, str | None, str | None]
) -> None:
    answer = read_create_call_answer(status, payload)
    assert (answer.accepted, answer.provider_call_id, answer.error) == expected


def test_given_a_final_event_when_sent_and_read_back_then_nothing_is_lost() -> None:
    # Given the simulator's body for a completed call
    event = StatusEvent("call_42", "completed", "human", 37, "hangup", 1_705_314_662_000)
    body = status_event_body(event, ended_at_iso="2024-01-15T10:31:02.000Z")
    # When / Then
    assert read_status_event(body) == event


def test_given_a_progress_event_when_read_then_only_the_status_is_set() -> None:
    assert read_status_event(b'{"callId":"call_42","status":"ringing"}') == StatusEvent("call_42", "ringing")


def test_given_an_opt_out_when_sent_and_read_back_then_it_is_kept_and_only_true_counts() -> None:
    # Given a final event whose person opted out
    event = StatusEvent("call_42", "completed", opt_out=True)
    # Then the body says optOut: true and reads back the same
    body = status_event_body(event)
    assert json.loads(body)["optOut"] is True
    assert read_status_event(body) == event
    # And anything but a JSON true is no opt-out
    for value in ('"true"', "1", "null", "false"):
        read = read_status_event(f'{{"callId":"c","status":"completed","optOut":{value}}}'.encode())
        assert read.opt_out is False, value


def test_given_an_answered_by_we_do_not_know_when_read_then_it_is_dropped() -> None:
    event = read_status_event(b'{"callId":"c","status":"completed","answeredBy":"robot"}')
    assert event.answered_by is None


@pytest.mark.parametrize(
    "body",
    [b"", b"[1]", b'{"status":"completed"}', b'{"callId":"c","status":"done"}', b'{"callId":"","status":"queued"}'],
    ids=["empty", "not-object", "no-call-id", "unknown-status", "empty-call-id"],
)
def test_given_an_unreadable_webhook_when_read_then_it_is_a_payload_error(body: bytes) -> None:
    with pytest.raises(WebhookPayloadError):
        read_status_event(body)
