"""The generic dialect: our own provider API (and the simulated provider's).

Create call: ``POST /v1/calls`` with ``Authorization: Bearer <api key>``, an
``Idempotency-Key`` the provider honours, and a JSON body ``{to, agentId, callerId,
metadata}`` (plus ``statusWebhookUrl`` when we want status events); the answer is 2xx with
``{"id": ...}`` or an error ``{"error": "..."}``. This is the shape calls/provider.py
DialerClient sends today.

Status webhook (JSON, signed with X-Signature, see signatures.py)::

    {"callId": "call_42", "status": "completed", "answeredBy": "human",
     "durationSeconds": 37, "endedReason": "hangup", "endedAt": "2024-01-15T10:31:02.000Z"}

``status`` is already one of our lifecycle statuses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast, get_args

from campaign_calling.calls.providers.dialect import CallAnswer, CallSpec, ProviderRequest, bearer, read_answer
from campaign_calling.calls.providers.lifecycle import (
    CALL_STATUSES,
    AnsweredBy,
    CallStatus,
    StatusEvent,
    WebhookPayloadError,
    epoch_ms_from_iso,
    json_object,
    whole_seconds,
)

PATH = "/v1/calls"


@dataclass(frozen=True)
class GenericAccount:
    api_key: str = field(repr=False)


def create_call_request(call: CallSpec, account: GenericAccount) -> ProviderRequest:
    body: dict[str, Any] = {
        "to": call.to,
        "agentId": call.provider_agent_id,
        "callerId": call.caller_id,
        "metadata": dict(call.metadata),
    }
    if call.status_webhook_url:
        body["statusWebhookUrl"] = call.status_webhook_url
    headers = {
        "Authorization": bearer(account.api_key),
        "Idempotency-Key": call.idempotency_key,
        "Content-Type": "application/json",
    }
    return ProviderRequest("POST", PATH, headers, json.dumps(body).encode("utf-8"), idempotent=True)


def read_create_call_answer(status_code: int, payload: object) -> CallAnswer:
    return read_answer("provider", status_code, payload, id_field="id", message_fields=("error",))


def read_status_event(body: bytes) -> StatusEvent:
    """The status webhook's body as one event; WebhookPayloadError when it cannot be one."""
    payload = json_object(body)
    call_id = payload.get("callId")
    status = payload.get("status")
    if not isinstance(call_id, str) or not call_id:
        raise WebhookPayloadError("no callId")
    if status not in CALL_STATUSES:
        raise WebhookPayloadError("status is not a call status")
    answered_by = payload.get("answeredBy")
    ended_reason = payload.get("endedReason")
    return StatusEvent(
        provider_call_id=call_id,
        status=cast(CallStatus, status),
        answered_by=cast(AnsweredBy, answered_by) if answered_by in get_args(AnsweredBy) else None,
        duration_seconds=whole_seconds(payload.get("durationSeconds")),
        ended_reason=ended_reason if isinstance(ended_reason, str) and ended_reason else None,
        ended_at_ms=epoch_ms_from_iso(payload.get("endedAt")),
        opt_out=payload.get("optOut") is True,
    )


def status_event_body(event: StatusEvent, ended_at_iso: str | None = None) -> bytes:
    """The webhook body the simulated provider sends for ``event`` (the inverse of
    ``read_status_event``)."""
    body: dict[str, Any] = {"callId": event.provider_call_id, "status": event.status}
    optional: Mapping[str, object] = {
        "answeredBy": event.answered_by,
        "durationSeconds": event.duration_seconds,
        "endedReason": event.ended_reason,
        "endedAt": ended_at_iso,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    if event.opt_out:
        body["optOut"] = True
    return json.dumps(body, separators=(",", ":")).encode("utf-8")
