"""The Vapi dialect.

Create call (https://docs.vapi.ai/api-reference/calls/create, ``CreateCallDTO`` in Vapi's
OpenAPI; example in https://docs.vapi.ai/assistants/concepts/transient-vs-permanent-configurations):
``POST /call`` with ``Authorization: Bearer <private API key>`` and a JSON body
``{"assistantId", "phoneNumberId", "customer": {"number", "name"}}``. Per call, the
assistant's server URL is pointed at our status webhook (``assistantOverrides.server.url``,
optionally with the deployment's ``credentialId`` so Vapi signs it) and asked for
``status-update`` and ``end-of-call-report`` messages only; our metadata rides in
``assistantOverrides.metadata``. The answer is 201 with the ``Call`` (its ``id``), or an error
``{"message": str | [str], "error", "statusCode"}``. Vapi takes no idempotency key.

Server messages (https://docs.vapi.ai/server-url/events) are JSON ``{"message": {...}}``:
``status-update`` with ``status`` (scheduled, queued, ringing, in-progress, forwarding,
ended) and, once ended, ``endedReason``; ``end-of-call-report`` with ``endedReason``,
``startedAt``, ``endedAt`` (and ``durationSeconds`` where sent). The call is
``message.call.id``. Other message types are not status events (None).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from campaign_calling.calls.providers.dialect import (
    CallAnswer,
    CallSpec,
    ProviderConfigError,
    ProviderRequest,
    bearer,
    read_answer,
)
from campaign_calling.calls.providers.lifecycle import (
    AnsweredBy,
    CallStatus,
    FinalStatus,
    StatusEvent,
    WebhookPayloadError,
    epoch_ms_from_iso,
    json_object,
    whole_seconds,
)

PATH = "/call"
SERVER_MESSAGES = ("status-update", "end-of-call-report")

_PROGRESS: dict[str, CallStatus] = {
    "scheduled": "queued",
    "queued": "queued",
    "ringing": "ringing",
    "in-progress": "in-progress",
    "forwarding": "in-progress",
}
# endedReason values (Call.endedReason in Vapi's OpenAPI) that are not "a person answered".
_ENDED: dict[str, FinalStatus] = {
    "customer-busy": "busy",
    "call.forwarding.operator-busy": "busy",
    "customer-did-not-answer": "no-answer",
    "call.forwarding.no-answer": "no-answer",
    "voicemail": "voicemail",
    "manually-canceled": "canceled",
    "scheduled-call-deleted": "canceled",
    "call-deleted": "canceled",
    "twilio-failed-to-connect-call": "failed",
    "twilio-reported-customer-misdialed": "failed",
    "vonage-failed-to-connect-call": "failed",
    "vonage-rejected": "failed",
    "assistant-not-found": "failed",
    "assistant-not-valid": "failed",
    "assistant-join-timed-out": "failed",
    "worker-shutdown": "failed",
    "phone-call-provider-bypass-enabled-but-no-call-received": "failed",
}
# Families of endedReason that mean the call failed (Vapi adds providers to them often).
_FAILED_PREFIXES = ("call.start.error", "pipeline-error", "assistant-request-", "call-start-error")


@dataclass(frozen=True)
class VapiAccount:
    api_key: str = field(repr=False)


@dataclass(frozen=True)
class VapiDefaults:
    """What a deployment sets once (stack parameters) and an agent may override."""

    phone_number_id: str | None = None
    # A Vapi custom credential that signs or authenticates our webhook (Bearer/X-Vapi-Secret/HMAC).
    server_credential_id: str | None = None


def create_call_request(call: CallSpec, account: VapiAccount, defaults: VapiDefaults) -> ProviderRequest:
    if not defaults.phone_number_id:
        raise ProviderConfigError("vapi needs a phoneNumberId")
    customer: dict[str, str] = {"number": call.to}
    if call.customer_name:
        customer["name"] = call.customer_name
    body: dict[str, Any] = {
        "assistantId": call.provider_agent_id,
        "phoneNumberId": defaults.phone_number_id,
        "customer": customer,
    }
    overrides: dict[str, Any] = {}
    if call.status_webhook_url:
        server: dict[str, str] = {"url": call.status_webhook_url}
        if defaults.server_credential_id:
            server["credentialId"] = defaults.server_credential_id
        overrides["server"] = server
        overrides["serverMessages"] = list(SERVER_MESSAGES)
    if call.metadata:
        overrides["metadata"] = dict(call.metadata)
    if overrides:
        body["assistantOverrides"] = overrides
    headers = {"Authorization": bearer(account.api_key), "Content-Type": "application/json"}
    return ProviderRequest("POST", PATH, headers, json.dumps(body).encode("utf-8"))


def read_create_call_answer(status_code: int, payload: object) -> CallAnswer:
    return read_answer("vapi", status_code, payload, id_field="id", message_fields=("message", "error"))


def final_status(ended_reason: str | None) -> FinalStatus:
    """Our final status for Vapi's endedReason: anything that is not a failure, a refusal or
    a machine means the call was answered and talked to its end (customer-ended-call,
    assistant-ended-call, exceeded-max-duration, silence-timed-out, ...)."""
    if not ended_reason:
        return "failed"
    if ended_reason in _ENDED:
        return _ENDED[ended_reason]
    if ended_reason.startswith(_FAILED_PREFIXES) or ".error-" in ended_reason:
        return "failed"
    return "completed"


def read_status_event(body: bytes) -> StatusEvent | None:
    """A server message as one event; None for message types that are not about status;
    WebhookPayloadError when it cannot be read."""
    message = json_object(body).get("message")
    if not isinstance(message, Mapping):
        raise WebhookPayloadError("no message")
    kind = message.get("type")
    if kind not in SERVER_MESSAGES:
        return None
    call = message.get("call")
    call_id = call.get("id") if isinstance(call, Mapping) else None
    if not isinstance(call_id, str) or not call_id:
        raise WebhookPayloadError("no message.call.id")
    if kind == "status-update" and message.get("status") != "ended":
        raw = message.get("status")
        if not isinstance(raw, str) or raw not in _PROGRESS:
            raise WebhookPayloadError("status is not a Vapi call status")
        return StatusEvent(call_id, _PROGRESS[raw])
    ended_reason = message.get("endedReason")
    if not isinstance(ended_reason, str) and isinstance(call, Mapping):
        ended_reason = call.get("endedReason")
    reason = ended_reason if isinstance(ended_reason, str) and ended_reason else None
    status = final_status(reason)
    answered_by: AnsweredBy | None = "machine" if status == "voicemail" else None
    started_at, ended_at = _times(message, call)
    duration = whole_seconds(message.get("durationSeconds"))
    if duration is None and started_at is not None and ended_at is not None:
        duration = max(round((ended_at - started_at) / 1000), 0)
    return StatusEvent(call_id, status, answered_by, duration, reason, ended_at)


def _times(message: Mapping[str, Any], call: object) -> tuple[int | None, int | None]:
    """startedAt and endedAt (epoch ms), from the message or else from its call."""
    sources = [message, call] if isinstance(call, Mapping) else [message]
    started = next((ms for s in sources if (ms := epoch_ms_from_iso(s.get("startedAt"))) is not None), None)
    ended = next((ms for s in sources if (ms := epoch_ms_from_iso(s.get("endedAt"))) is not None), None)
    return started, ended
