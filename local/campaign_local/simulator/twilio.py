"""The Twilio dialect, under /twilio (Programmable Voice, API version 2010-04-01).

``POST /2010-04-01/Accounts/{AccountSid}/Calls.json``: HTTP basic auth AccountSid:AuthToken
(the SID in the path must be the authenticated one), a form with To, From, Url (or Twiml or
ApplicationSid), StatusCallback, StatusCallbackEvent (repeated), StatusCallbackMethod and
MachineDetection; 201 with the call (``sid`` CA + 32 hex, ``status`` queued) or an error
``{"code", "message", "more_info", "status"}``. ``GET .../IncomingPhoneNumbers.json`` and
``.../OutgoingCallerIds.json`` (``?PhoneNumber=``) list the account's numbers.

Status callbacks are form posts signed with X-Twilio-Signature, sent for the events asked for
in StatusCallbackEvent (``completed`` always): CallStatus initiated, ringing, in-progress, then
completed, busy, no-answer, failed or canceled. A machine (voicemail) shows as completed with
AnsweredBy (machine_start with MachineDetection=Enable, machine_end_beep with
DetectMessageEnd); without MachineDetection Twilio cannot tell, and reports a plain completed.
"""

from __future__ import annotations

import base64
import binascii
import random
import re
import uuid
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from campaign_local.simulator import signing
from campaign_local.simulator.accounts import Account, Accounts
from campaign_local.simulator.dialect import Intent, Message, PlacedCall, Timeline
from campaign_local.simulator.http import Reply, form_of, rfc2822, send_json

API = "/2010-04-01/Accounts/"
_PATH = re.compile(r"/2010-04-01/Accounts/([^/]+)/(Calls|IncomingPhoneNumbers|OutgoingCallerIds)\.json")
_DEFAULT_EVENTS = ("completed",)
_FINAL_CALL_STATUS = {
    "completed": "completed",
    "voicemail": "completed",
    "busy": "busy",
    "no-answer": "no-answer",
    "failed": "failed",
    "canceled": "canceled",
}
_SIP_CODE = {
    "completed": "200",
    "voicemail": "200",
    "busy": "486",
    "no-answer": "487",
    "failed": "500",
    "canceled": "487",
}


def _error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _sid(prefix: str, rng: random.Random) -> str:
    return prefix + uuid.UUID(int=rng.getrandbits(128)).hex


class Twilio:
    name = "twilio"

    def new_call_id(self, rng: random.Random) -> str:
        return _sid("CA", rng)

    def _account(self, request: Request, accounts: Accounts, path_sid: str) -> Account:
        auth = request.headers.get("Authorization", "")
        user = password = None
        if auth[:6].lower() == "basic ":
            try:
                user, _, password = base64.b64decode(auth[6:].strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user = None
        account = accounts.find("twilio", user, password) if user and password else None
        if account is None:
            raise Reply(401, _error(401, 20003, "Authenticate"), {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        if account.key != path_sid:
            # Another account's resources do not exist for this one.
            raise Reply(404, _error(404, 20404, f"The requested resource {API}{path_sid} was not found"))
        return account

    def accept(self, request: Request, raw: bytes, accounts: Accounts) -> Intent:
        path = request.path.removeprefix("/twilio").rstrip("/")
        match = _PATH.fullmatch(path)
        if match is None:
            raise Reply(404, _error(404, 20404, f"The requested resource {path} was not found"))
        account = self._account(request, accounts, match.group(1))
        pairs, form = form_of(raw) or ([], {})
        first = {name: value for name, value in reversed(pairs)}
        to, from_number = first.get("To", ""), first.get("From", "")
        if not to:
            raise Reply(400, _error(400, 21201, "No 'To' number is specified"))
        if not from_number:
            raise Reply(400, _error(400, 21213, "No 'From' number is specified"))
        if not (first.get("Url") or first.get("Twiml") or first.get("ApplicationSid")):
            raise Reply(400, _error(400, 21205, "A 'Url', 'Twiml' or 'ApplicationSid' parameter is required"))
        callback = first.get("StatusCallback") or None
        if callback is not None and not callback.startswith("http"):
            raise Reply(400, _error(400, 21609, "StatusCallback is not a valid URL"))
        if first.get("StatusCallbackMethod", "POST").upper() != "POST":
            raise Reply(400, _error(400, 21609, "The simulator sends status callbacks with POST only"))
        if not account.owns_number(from_number):
            raise Reply(
                400,
                _error(
                    400,
                    21210,
                    f"The source phone number provided, {from_number}, is not yet verified for your account. "
                    "You may only make calls from phone numbers that you've verified or purchased from Twilio.",
                ),
            )
        events = [value for name, value in pairs if name == "StatusCallbackEvent"]
        details = {
            "events": tuple(events) or _DEFAULT_EVENTS,
            "machineDetection": first.get("MachineDetection") or None,
        }
        # Twilio has no agent: the TwiML at Url picks it (agentId rides in its query).
        return Intent(account, to, from_number, None, callback, form, None, details)

    def created(self, intent: Intent, call_id: str, now: float) -> tuple[int, dict[str, Any]]:
        sid = intent.account.key
        uri = f"{API}{sid}/Calls/{call_id}"
        return 201, {
            "account_sid": sid,
            "annotation": None,
            "answered_by": None,
            "api_version": "2010-04-01",
            "caller_name": None,
            "date_created": rfc2822(now),
            "date_updated": rfc2822(now),
            "direction": "outbound-api",
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": intent.from_number,
            "from_formatted": intent.from_number,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": call_id,
            "start_time": None,
            "status": "queued",
            "subresource_uris": {
                "events": f"{uri}/Events.json",
                "notifications": f"{uri}/Notifications.json",
                "recordings": f"{uri}/Recordings.json",
            },
            "to": intent.to,
            "to_formatted": intent.to,
            "trunk_sid": None,
            "uri": f"{uri}.json",
        }

    def error(self, status: int, message: str) -> dict[str, Any]:
        codes = {429: 20429, 500: 20500, 503: 20503}
        return _error(status, codes.get(status, 20500), message)

    def invalid_number(self, to: str) -> dict[str, Any]:
        return _error(400, 21211, f"Invalid 'To' Phone Number: {to}")

    def messages(self, call: PlacedCall, phase: str, timeline: Timeline) -> list[Message]:
        details = call.intent.details
        wanted = {"initiated": "initiated", "ringing": "ringing", "answered": "answered", "ended": "completed"}
        if phase not in wanted or (phase != "ended" and wanted[phase] not in details["events"]):
            return []
        status = timeline.final_status
        call_status = {"initiated": "initiated", "ringing": "ringing", "answered": "in-progress"}.get(
            phase, _FINAL_CALL_STATUS[status]
        )
        sequence = call.scratch.get("sequence", 0)
        call.scratch["sequence"] = sequence + 1
        intent = call.intent
        fields: list[tuple[str, str]] = [
            ("AccountSid", intent.account.key),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", call.call_id),
            ("CallStatus", call_status),
            ("Called", intent.to),
            ("Caller", intent.from_number or ""),
            ("Direction", "outbound-api"),
            ("From", intent.from_number or ""),
            ("To", intent.to),
            ("CallbackSource", "call-progress-events"),
            ("SequenceNumber", str(sequence)),
            ("Timestamp", rfc2822(_phase_time(phase, timeline))),
        ]
        answered_by = _answered_by(details["machineDetection"], status) if timeline.answered else None
        if answered_by and phase in ("answered", "ended"):
            fields.append(("AnsweredBy", answered_by))
        if phase == "ended":
            fields.append(("CallDuration", str(round(timeline.talk_seconds))))
            fields.append(("SipResponseCode", _SIP_CODE[status]))
        reported = "in-progress" if phase == "answered" else call_status
        if phase == "ended":
            # What the product reads it as: voicemail only when AnsweredBy says a machine.
            reported = "voicemail" if status == "voicemail" and answered_by else _FINAL_CALL_STATUS[status]
        elif phase == "initiated":
            reported = "queued"
        body = urlencode(fields).encode()
        return [
            Message(reported, call_status, phase == "ended", body, "application/x-www-form-urlencoded", tuple(fields))
        ]

    def sign(self, credentials: dict[str, str], url: str, message: Message, now: float) -> dict[str, str]:
        return signing.twilio(credentials["authToken"], url, message.form)

    def lookup(self, request: Request, path: str, accounts: Accounts) -> Response | None:
        match = _PATH.fullmatch(path)
        if match is None or match.group(2) == "Calls":
            return None
        account = self._account(request, accounts, match.group(1))
        wanted = request.args.get("PhoneNumber")
        incoming = match.group(2) == "IncomingPhoneNumbers"
        if wanted is not None:
            numbers = [wanted] if incoming and account.owns_number(wanted) else []
        else:
            numbers = account.listed_numbers() if incoming else []
        key = "incoming_phone_numbers" if incoming else "outgoing_caller_ids"
        uri = f"{API}{account.key}/{match.group(2)}.json"
        items = [
            {
                "sid": "PN" + uuid.uuid5(uuid.NAMESPACE_URL, f"{account.id}:{number}").hex,
                "account_sid": account.key,
                "friendly_name": number,
                "phone_number": number,
                **({"capabilities": {"voice": True, "sms": True, "mms": False, "fax": False}} if incoming else {}),
                "uri": f"{API}{account.key}/{match.group(2)}/{number}.json",
            }
            for number in numbers
        ]
        return send_json(
            200,
            {
                key: items,
                "end": max(len(items) - 1, 0),
                "first_page_uri": f"{uri}?PageSize=50&Page=0",
                "next_page_uri": None,
                "page": 0,
                "page_size": 50,
                "previous_page_uri": None,
                "start": 0,
                "uri": f"{uri}?PageSize=50&Page=0",
            },
        )


def _answered_by(machine_detection: str | None, status: str) -> str | None:
    if not machine_detection:
        return None
    if status == "completed":
        return "human"
    return "machine_end_beep" if machine_detection == "DetectMessageEnd" else "machine_start"


def _phase_time(phase: str, timeline: Timeline) -> float:
    if phase == "answered" and timeline.answered_at is not None:
        return timeline.answered_at
    if phase == "ended" and timeline.ended_at is not None:
        return timeline.ended_at
    return timeline.accepted_at
