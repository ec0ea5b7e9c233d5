"""The Twilio dialect (Programmable Voice).

Create call (https://www.twilio.com/docs/voice/api/call-resource#create-a-call-resource,
example in https://www.twilio.com/docs/voice/make-calls):
``POST /2010-04-01/Accounts/{AccountSid}/Calls.json``, HTTP basic auth with the account SID
and auth token, a form-encoded body with ``To``, ``From``, ``Url`` (or ``Twiml``),
``StatusCallback``, ``StatusCallbackEvent`` repeated once per event (initiated, ringing,
answered, completed), ``StatusCallbackMethod`` and ``MachineDetection``. The answer is 201
with the call's ``sid``, or an error ``{"code", "message", "more_info", "status"}``.
Twilio takes no idempotency key, so a create that timed out must not be asked again.

Twilio has no agent: the TwiML at ``Url`` runs the call. The provider agent id travels to it
as the query parameter ``agentId``, for the TwiML application (a voice-AI bridge) to pick
the agent.

Status callbacks (https://www.twilio.com/docs/voice/api/call-resource#statuscallback) are
form posts signed with X-Twilio-Signature: ``CallSid``, ``CallStatus`` (queued, initiated,
ringing, in-progress, completed, busy, no-answer, canceled, failed), ``AnsweredBy`` with
MachineDetection (human, machine_start, machine_end_beep, machine_end_silence,
machine_end_other, fax, unknown), ``CallDuration`` (seconds, on completion) and
``Timestamp`` (RFC 2822).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from campaign_calling.calls.providers.dialect import (
    CallAnswer,
    CallSpec,
    ProviderConfigError,
    ProviderRequest,
    basic,
    read_answer,
)
from campaign_calling.calls.providers.lifecycle import (
    AnsweredBy,
    CallStatus,
    StatusEvent,
    WebhookPayloadError,
    is_final,
    whole_seconds,
)

STATUS_CALLBACK_EVENTS = ("initiated", "ringing", "answered", "completed")
MachineDetection = Literal["Enable", "DetectMessageEnd"]

_STATUS: dict[str, CallStatus] = {
    "queued": "queued",
    "initiated": "queued",
    "ringing": "ringing",
    "in-progress": "in-progress",
    "completed": "completed",
    "busy": "busy",
    "no-answer": "no-answer",
    "canceled": "canceled",
    "failed": "failed",
}
_ANSWERED: dict[str, AnsweredBy] = {"human": "human", "fax": "fax", "unknown": "unknown"}


@dataclass(frozen=True)
class TwilioAccount:
    account_sid: str
    auth_token: str = field(repr=False)


@dataclass(frozen=True)
class TwilioDefaults:
    """What a deployment sets once (stack parameters) and an agent may override."""

    twiml_url: str | None = None
    # Inline TwiML instead of a URL (Twilio takes one or the other).
    twiml: str | None = None
    machine_detection: MachineDetection | None = "Enable"


def create_call_request(call: CallSpec, account: TwilioAccount, defaults: TwilioDefaults) -> ProviderRequest:
    if not call.caller_id:
        raise ProviderConfigError("twilio needs the agent's callerId (From)")
    if not (defaults.twiml_url or defaults.twiml):
        raise ProviderConfigError("twilio needs a TwiML URL or TwiML")
    fields: list[tuple[str, str]] = [("To", call.to), ("From", call.caller_id)]
    if defaults.twiml_url:
        fields.append(("Url", _with_query(defaults.twiml_url, "agentId", call.provider_agent_id)))
    else:
        fields.append(("Twiml", defaults.twiml or ""))
    if call.status_webhook_url:
        fields.append(("StatusCallback", call.status_webhook_url))
        fields.extend(("StatusCallbackEvent", event) for event in STATUS_CALLBACK_EVENTS)
        fields.append(("StatusCallbackMethod", "POST"))
    if defaults.machine_detection:
        fields.append(("MachineDetection", defaults.machine_detection))
    headers = {
        "Authorization": basic(account.account_sid, account.auth_token),
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    }
    path = f"/2010-04-01/Accounts/{quote(account.account_sid, safe='')}/Calls.json"
    return ProviderRequest("POST", path, headers, urlencode(fields).encode("ascii"))


def read_create_call_answer(status_code: int, payload: object) -> CallAnswer:
    return read_answer("twilio", status_code, payload, id_field="sid", message_fields=("message",))


def form_fields(body: bytes) -> list[tuple[str, str]]:
    """A form-encoded body as its (name, value) pairs, repeated names kept (as the signature
    needs them)."""
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (ValueError, UnicodeDecodeError):
        raise WebhookPayloadError("body is not a form") from None


def read_status_event(fields: Iterable[tuple[str, str]]) -> StatusEvent:
    """A status callback's form fields as one event; WebhookPayloadError when it cannot be one."""
    form = dict(fields)
    call_id = form.get("CallSid", "")
    raw_status = form.get("CallStatus", "")
    if not call_id:
        raise WebhookPayloadError("no CallSid")
    if raw_status not in _STATUS:
        raise WebhookPayloadError("CallStatus is not a Twilio call status")
    status = _STATUS[raw_status]
    answered_by = _answered_by(form.get("AnsweredBy"))
    ended_reason: str | None = None
    if is_final(status):
        ended_reason = raw_status
        if status == "completed" and answered_by == "machine":
            # Twilio completes a call a machine answered like any other; AnsweredBy tells.
            status, ended_reason = "voicemail", f"completed (AnsweredBy={form['AnsweredBy']})"
        elif status == "completed" and answered_by == "fax":
            status, ended_reason = "failed", "completed (AnsweredBy=fax)"
    final = ended_reason is not None
    return StatusEvent(
        provider_call_id=call_id,
        status=status,
        answered_by=answered_by,
        duration_seconds=whole_seconds(form.get("CallDuration")) if final else None,
        ended_reason=ended_reason,
        ended_at_ms=_rfc2822_ms(form.get("Timestamp")) if final else None,
    )


def _answered_by(value: str | None) -> AnsweredBy | None:
    if not value:
        return None
    if value.startswith("machine"):
        return "machine"
    return _ANSWERED.get(value, "unknown")


def _rfc2822_ms(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(parsedate_to_datetime(value).timestamp() * 1000)
    except (TypeError, ValueError):
        return None


def _with_query(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(name, value)]
    return urlunsplit(parts._replace(query=urlencode(query)))
