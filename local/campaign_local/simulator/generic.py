"""The generic dialect (ours), at the root: ``POST /v1/calls`` with a bearer key and an
Idempotency-Key, ``GET /v1/agents/{id}``, ``GET /v1/numbers/{E.164}``; status webhooks are
JSON in our lifecycle's words, signed with X-Signature."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from campaign_local.simulator import signing
from campaign_local.simulator.accounts import Account, Accounts
from campaign_local.simulator.dialect import Intent, Message, PlacedCall, Timeline
from campaign_local.simulator.http import Reply, bearer_token, iso, send_json

_ENDED_REASON = {
    "completed": "hangup",
    "voicemail": "voicemail",
    "busy": "busy",
    "no-answer": "no-answer",
    "failed": "failed",
    "canceled": "canceled",
}


class Generic:
    name = "generic"

    def new_call_id(self, rng: random.Random) -> str:
        return f"call_{uuid.UUID(int=rng.getrandbits(128)).hex[:24]}"

    def _account(self, request: Request, accounts: Accounts) -> Account:
        token = bearer_token(request)
        if token is None:
            raise Reply(401, {"error": "missing bearer token"})
        account = accounts.find("generic", token)
        if account is None:
            raise Reply(401, {"error": "invalid api key"})
        return account

    def accept(self, request: Request, raw: bytes, accounts: Accounts) -> Intent:
        account = self._account(request, accounts)
        if not raw:
            raise Reply(400, {"error": "request body is required"})
        try:
            parsed = json.loads(raw)
        except ValueError:
            raise Reply(400, {"error": "body is not valid JSON"}) from None
        if not isinstance(parsed, dict):
            raise Reply(400, {"error": "body must be a JSON object"})
        for name in ("to", "agentId"):
            value = parsed.get(name)
            if not isinstance(value, str) or not value.strip():
                raise Reply(400, {"error": f"'{name}' is required and must be a non-empty string"})
        caller_id = parsed.get("callerId")
        if caller_id is not None and not isinstance(caller_id, str):
            raise Reply(400, {"error": "'callerId' must be a string or null"})
        metadata = parsed.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise Reply(400, {"error": "'metadata' must be an object"})
        webhook_url = parsed.get("statusWebhookUrl")
        if webhook_url is not None and (not isinstance(webhook_url, str) or not webhook_url.startswith("http")):
            raise Reply(400, {"error": "'statusWebhookUrl' must be an http(s) URL"})
        if not account.owns_agent(parsed["agentId"]):
            raise Reply(404, {"error": "agent not found in this account"})
        if caller_id and not account.owns_number(caller_id):
            raise Reply(400, {"error": "callerId is not a number of this account"})
        return Intent(account, parsed["to"], caller_id, parsed["agentId"], webhook_url, parsed, metadata)

    def created(self, intent: Intent, call_id: str, now: float) -> tuple[int, dict[str, Any]]:
        return 201, {
            "id": call_id,
            "status": "queued",
            "to": intent.to,
            "agentId": intent.agent_id,
            "createdAt": iso(now),
        }

    def error(self, status: int, message: str) -> dict[str, Any]:
        return {"error": message}

    def invalid_number(self, to: str) -> dict[str, Any]:
        # A refusal quoting the number it was sent, as Twilio's error 21211 does.
        return {"error": f"The 'To' number {to} is not a valid phone number."}

    def messages(self, call: PlacedCall, phase: str, timeline: Timeline) -> list[Message]:
        body: dict[str, Any] = {"callId": call.call_id}
        if phase == "ringing":
            body["status"] = "ringing"
        elif phase == "answered":
            body["status"] = "in-progress"
        elif phase == "ended":
            status = timeline.final_status
            body["status"] = status
            if timeline.answered:
                body["answeredBy"] = "human" if status == "completed" else "machine"
                body["durationSeconds"] = round(timeline.talk_seconds)
            body["endedReason"] = _ENDED_REASON[status]
            body["endedAt"] = iso(timeline.ended_at or timeline.accepted_at)
            if call.scratch.get("optOut"):
                body["optOut"] = True
        else:
            return []
        encoded = json.dumps(body, separators=(",", ":")).encode()
        return [Message(body["status"], body["status"], phase == "ended", encoded, "application/json")]

    def sign(self, credentials: dict[str, str], url: str, message: Message, now: float) -> dict[str, str]:
        return signing.generic(credentials["webhookSecret"], message.body, now)

    def lookup(self, request: Request, path: str, accounts: Accounts) -> Response | None:
        for prefix, kind in (("/v1/agents/", "agent"), ("/v1/numbers/", "number")):
            if path.startswith(prefix) and len(path) > len(prefix):
                account = self._account(request, accounts)
                wanted = unquote(path[len(prefix) :])
                if kind == "agent":
                    if account.owns_agent(wanted):
                        return send_json(200, {"id": wanted})
                    return send_json(404, {"error": "agent not found"})
                if account.owns_number(wanted):
                    return send_json(200, {"number": wanted})
                return send_json(404, {"error": "number not found"})
        return None
