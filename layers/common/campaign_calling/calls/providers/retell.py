"""The Retell dialect.

Create call (https://docs.retellai.com/api-references/create-phone-call; retell-python-sdk
``call.create_phone_call`` and its ``CallCreatePhoneCallParams``): ``POST
/v2/create-phone-call`` with ``Authorization: Bearer <API key>`` and a JSON body
``{"from_number", "to_number", "override_agent_id", "metadata"}``. Per call, the agent's
webhook is pointed at our status webhook (``agent_override.agent.webhook_url``) for the
call_started, call_ended and call_analyzed events. The answer is 201 with the call
(``call_id``, ``call_status`` "registered"), or an error with a ``message``. Retell takes no
idempotency key.

Webhooks (https://docs.retellai.com/features/webhook-overview) are JSON ``{"event", "call"}``
signed with x-retell-signature: ``call_started`` when the call connects (never for a call
that did not connect), ``call_ended`` with ``disconnection_reason``, ``start_timestamp``,
``end_timestamp`` (epoch ms) and ``duration_ms``, and ``call_analyzed`` with the same plus
``call_analysis`` (``in_voicemail``). Other events (transcript_updated, transfer_*) are not
status events (None).
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
    FinalStatus,
    StatusEvent,
    WebhookPayloadError,
    json_object,
)

PATH = "/v2/create-phone-call"
WEBHOOK_EVENTS = ("call_started", "call_ended", "call_analyzed")

# disconnection_reason (PhoneCallResponse in retell-python-sdk) that is not "a person answered
# and the call ran to its end"; every reason not listed here is.
_ENDED: dict[str, FinalStatus] = {
    "dial_busy": "busy",
    "user_declined": "busy",
    "dial_no_answer": "no-answer",
    "voicemail_reached": "voicemail",
    # An IVR is a machine answering: not a person, like voicemail.
    "ivr_reached": "voicemail",
    "manual_stopped": "canceled",
    "dial_failed": "failed",
    "invalid_destination": "failed",
    "telephony_provider_permission_denied": "failed",
    "telephony_provider_unavailable": "failed",
    "sip_routing_error": "failed",
    "marked_as_spam": "failed",
    "scam_detected": "failed",
    "concurrency_limit_reached": "failed",
    "no_concurrency_fallback": "failed",
    "no_valid_payment": "failed",
    "registered_call_timeout": "failed",
}


@dataclass(frozen=True)
class RetellAccount:
    api_key: str = field(repr=False)


def create_call_request(call: CallSpec, account: RetellAccount) -> ProviderRequest:
    if not call.caller_id:
        raise ProviderConfigError("retell needs the agent's callerId (from_number)")
    body: dict[str, Any] = {
        "from_number": call.caller_id,
        "to_number": call.to,
        "override_agent_id": call.provider_agent_id,
        "metadata": dict(call.metadata),
    }
    if call.status_webhook_url:
        body["agent_override"] = {
            "agent": {"webhook_url": call.status_webhook_url, "webhook_events": list(WEBHOOK_EVENTS)}
        }
    headers = {"Authorization": bearer(account.api_key), "Content-Type": "application/json"}
    return ProviderRequest("POST", PATH, headers, json.dumps(body).encode("utf-8"))


def read_create_call_answer(status_code: int, payload: object) -> CallAnswer:
    return read_answer(
        "retell", status_code, payload, id_field="call_id", message_fields=("message", "error_message", "error")
    )


def final_status(disconnection_reason: str | None, call_status: str | None = None) -> FinalStatus:
    if disconnection_reason in _ENDED:
        return _ENDED[disconnection_reason]
    if disconnection_reason and disconnection_reason.startswith("error_"):
        return "failed"
    if disconnection_reason is None and call_status in ("error", "not_connected"):
        return "failed"
    return "completed"


def read_status_event(body: bytes) -> StatusEvent | None:
    """A webhook as one event; None for events that are not about status;
    WebhookPayloadError when it cannot be read."""
    payload = json_object(body)
    event = payload.get("event")
    if event not in WEBHOOK_EVENTS:
        return None
    call = payload.get("call")
    if not isinstance(call, Mapping):
        raise WebhookPayloadError("no call")
    call_id = call.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise WebhookPayloadError("no call.call_id")
    if event == "call_started":
        return StatusEvent(call_id, "in-progress")
    raw_reason = call.get("disconnection_reason")
    reason = raw_reason if isinstance(raw_reason, str) and raw_reason else None
    raw_status = call.get("call_status")
    status = final_status(reason, raw_status if isinstance(raw_status, str) else None)
    answered_by = _answered_by(call, status)
    if answered_by == "machine" and status == "completed":
        status = "voicemail"
    duration_ms = _milliseconds(call.get("duration_ms"))
    return StatusEvent(
        provider_call_id=call_id,
        status=status,
        answered_by=answered_by,
        duration_seconds=round(duration_ms / 1000) if duration_ms is not None else None,
        ended_reason=reason,
        ended_at_ms=_milliseconds(call.get("end_timestamp")),
    )


def _answered_by(call: Mapping[str, Any], status: FinalStatus) -> AnsweredBy | None:
    """What Retell says answered: its call analysis (in_voicemail) once there is one, else
    the disconnection reason for a machine."""
    analysis = call.get("call_analysis")
    in_voicemail = analysis.get("in_voicemail") if isinstance(analysis, Mapping) else None
    if in_voicemail is True or status == "voicemail":
        return "machine"
    # Not voicemail says "a person" only of a call that was answered at all.
    return "human" if in_voicemail is False and status == "completed" else None


def _milliseconds(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return int(value)
