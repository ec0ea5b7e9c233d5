"""The Retell dialect, under /retell.

``POST /v2/create-phone-call`` with a bearer API key and JSON ``{"from_number", "to_number",
"override_agent_id", "metadata", "agent_override": {"agent": {"webhook_url",
"webhook_events"}}}``; 201 with the call (``call_id``, ``call_status`` registered) or an error
``{"status": "error", "message"}``. ``GET /get-agent/{agent_id}`` (404 when the account has no
such agent), ``GET /get-phone-number/{number}`` (404 when the account has no such number)
and ``GET /list-phone-numbers`` (the account's numbers).

Webhooks go to the agent's webhook URL as ``{"event", "call"}`` signed with
x-retell-signature (the API key): ``call_started`` once the call connects, then ``call_ended``
(``disconnection_reason``, ``end_timestamp``, ``duration_ms``) and ``call_analyzed`` (the
same with ``call_analysis.in_voicemail``), those named in ``webhook_events`` when given.
"""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

from werkzeug.wrappers import Request, Response

from campaign_local.simulator import signing
from campaign_local.simulator.accounts import Account, Accounts
from campaign_local.simulator.dialect import Intent, Message, PlacedCall, Timeline
from campaign_local.simulator.http import Reply, bearer_token, json_object, send_json

_EVENTS = ("call_started", "call_ended", "call_analyzed")
_REASON = {
    "completed": "user_hangup",
    "voicemail": "voicemail_reached",
    "busy": "dial_busy",
    "no-answer": "dial_no_answer",
    "failed": "dial_failed",
    "canceled": "manual_stopped",
}
_NOT_FOUND = "Cannot find requested asset under given api key."


def _error(message: str) -> dict[str, Any]:
    return {"status": "error", "message": message}


class Retell:
    name = "retell"

    def new_call_id(self, rng: random.Random) -> str:
        return uuid.UUID(int=rng.getrandbits(128)).hex

    def _account(self, request: Request, accounts: Accounts) -> Account:
        token = bearer_token(request)
        account = accounts.find("retell", token) if token else None
        if account is None:
            raise Reply(401, _error("API key is missing or invalid."))
        return account

    def accept(self, request: Request, raw: bytes, accounts: Accounts) -> Intent:
        account = self._account(request, accounts)
        body = json_object(raw)
        if body is None:
            raise Reply(400, _error("Invalid request format, please check API reference."))
        for name in ("from_number", "to_number"):
            value = body.get(name)
            if not isinstance(value, str) or not value.startswith("+"):
                raise Reply(400, _error(f"{name} is required and must be an E.164 number."))
        agent_id = body.get("override_agent_id")
        if agent_id is not None and (not isinstance(agent_id, str) or not agent_id):
            raise Reply(400, _error("override_agent_id must be a non-empty string."))
        metadata = body.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise Reply(400, _error("metadata must be an object."))
        override = body.get("agent_override")
        agent = override.get("agent") if isinstance(override, dict) else None
        url = agent.get("webhook_url") if isinstance(agent, dict) else None
        if url is not None and (not isinstance(url, str) or not url.startswith("http")):
            raise Reply(400, _error("agent_override.agent.webhook_url must be a URL."))
        events = agent.get("webhook_events") if isinstance(agent, dict) else None
        if events is not None and not (isinstance(events, list) and all(isinstance(e, str) for e in events)):
            raise Reply(400, _error("agent_override.agent.webhook_events must be an array of strings."))
        if not account.owns_number(body["from_number"]):
            raise Reply(404, _error(_NOT_FOUND))
        if agent_id is not None and not account.owns_agent(agent_id):
            raise Reply(404, _error(_NOT_FOUND))
        details = {"events": tuple(events) if events is not None else _EVENTS}
        return Intent(account, body["to_number"], body["from_number"], agent_id, url, body, metadata, details)

    def _call(self, call_id: str, intent: Intent, status: str, **extra: Any) -> dict[str, Any]:
        return {
            "call_type": "phone_call",
            "from_number": intent.from_number,
            "to_number": intent.to,
            "direction": "outbound",
            "call_id": call_id,
            "agent_id": intent.agent_id,
            "agent_version": 0,
            "call_status": status,
            "metadata": intent.metadata or {},
            "retell_llm_dynamic_variables": {},
            **extra,
        }

    def created(self, intent: Intent, call_id: str, now: float) -> tuple[int, dict[str, Any]]:
        return 201, self._call(call_id, intent, "registered")

    def error(self, status: int, message: str) -> dict[str, Any]:
        return _error(message)

    def invalid_number(self, to: str) -> dict[str, Any]:
        return _error(f"to_number {to} is not a valid phone number.")

    def messages(self, call: PlacedCall, phase: str, timeline: Timeline) -> list[Message]:
        wanted = call.intent.details["events"]
        out: list[Message] = []
        if phase == "answered" and "call_started" in wanted:
            started = timeline.answered_at or call.accepted_at
            payload = self._call(call.call_id, call.intent, "ongoing", start_timestamp=int(started * 1000))
            out.append(self._message("in-progress", "call_started", False, payload))
        if phase != "ended":
            return out
        final = timeline.final_status
        ended = timeline.ended_at or call.accepted_at
        status = "ended" if timeline.answered else ("error" if final == "failed" else "not_connected")
        extra: dict[str, Any] = {
            "end_timestamp": int(ended * 1000),
            "duration_ms": int(timeline.talk_seconds * 1000),
            "disconnection_reason": _REASON[final],
            "transcript": "",
        }
        if timeline.answered_at is not None:
            extra["start_timestamp"] = int(timeline.answered_at * 1000)
        if "call_ended" in wanted:
            out.append(self._message(final, "call_ended", True, self._call(call.call_id, call.intent, status, **extra)))
        if "call_analyzed" in wanted:
            analysis = {
                "in_voicemail": final == "voicemail",
                "call_successful": final == "completed",
                "user_sentiment": "Neutral" if final == "completed" else "Unknown",
                "call_summary": "",
            }
            payload = self._call(call.call_id, call.intent, status, **extra, call_analysis=analysis)
            out.append(self._message(final, "call_analyzed", True, payload))
        return out

    @staticmethod
    def _message(status: str, event: str, final: bool, call: dict[str, Any]) -> Message:
        body = json.dumps({"event": event, "call": call}, separators=(",", ":")).encode()
        return Message(status, event, final, body, "application/json")

    def sign(self, credentials: dict[str, str], url: str, message: Message, now: float) -> dict[str, str]:
        return signing.retell(credentials["apiKey"], message.body, now)

    def lookup(self, request: Request, path: str, accounts: Accounts) -> Response | None:
        if path.startswith("/get-agent/") and len(path) > len("/get-agent/"):
            account = self._account(request, accounts)
            agent_id = path[len("/get-agent/") :]
            if not account.owns_agent(agent_id):
                return send_json(404, _error(_NOT_FOUND))
            return send_json(
                200,
                {
                    "agent_id": agent_id,
                    "agent_name": agent_id,
                    "version": 0,
                    "is_published": True,
                    "response_engine": {"type": "retell-llm"},
                    "voice_id": "11labs-Adrian",
                    "language": "en-US",
                    "last_modification_timestamp": 0,
                },
            )
        if path.startswith("/get-phone-number/") and len(path) > len("/get-phone-number/"):
            account = self._account(request, accounts)
            number = path[len("/get-phone-number/") :]  # werkzeug's path is percent-decoded
            if not account.owns_number(number):
                return send_json(404, _error(_NOT_FOUND))
            return send_json(200, _number(number))
        if path == "/list-phone-numbers":
            account = self._account(request, accounts)
            return send_json(200, [_number(number) for number in account.listed_numbers()])
        return None


def _number(number: str) -> dict[str, Any]:
    return {
        "phone_number": number,
        "phone_number_type": "retell-twilio",
        "phone_number_pretty": number,
        "inbound_agent_id": None,
        "outbound_agent_id": None,
        "nickname": None,
        "last_modification_timestamp": 0,
    }
