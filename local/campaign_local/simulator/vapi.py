"""The Vapi dialect, under /vapi.

``POST /call`` with a bearer (private) key and JSON ``{"assistantId", "phoneNumberId",
"customer": {"number", "name"}, "assistantOverrides": {"server": {"url"}, "serverMessages",
"metadata"}}``; 201 with the call (``id``, ``status`` queued) or a NestJS error ``{"message":
str | [str], "error", "statusCode"}``. ``GET /assistant/{id}`` (404 when the account has no
such assistant), ``GET /phone-number`` (the account's numbers, each with a stable id) and
``GET /v2/phone-number?search=`` (a page of those matching; the default account, which owns
any number, owns a whole E.164 number searched for).

Server messages go to ``assistantOverrides.server.url`` with ``X-Vapi-Secret`` = the account's
server secret, as ``{"message": {...}}``: ``status-update`` (queued, ringing, in-progress, then
ended with ``endedReason``) and ``end-of-call-report`` (``endedReason``, ``startedAt``,
``endedAt``, ``durationSeconds``), those named in ``serverMessages`` when it is given.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from typing import Any

from werkzeug.wrappers import Request, Response

from campaign_local.simulator import signing
from campaign_local.simulator.accounts import Account, Accounts
from campaign_local.simulator.dialect import Intent, Message, PlacedCall, Timeline
from campaign_local.simulator.http import Reply, bearer_token, iso, json_object, send_json

_MESSAGES = ("status-update", "end-of-call-report")
_ENDED_REASON = {
    "completed": "customer-ended-call",
    "voicemail": "voicemail",
    "busy": "customer-busy",
    "no-answer": "customer-did-not-answer",
    "failed": "twilio-failed-to-connect-call",
    "canceled": "manually-canceled",
}
_PHASE_STATUS = {"initiated": "queued", "ringing": "ringing", "answered": "in-progress"}
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_OURS = {"queued": "queued", "ringing": "ringing", "in-progress": "in-progress"}


def _error(status: int, message: str | list[str]) -> dict[str, Any]:
    words = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}
    return {"message": message, "error": words.get(status, "Internal Server Error"), "statusCode": status}


def _org(account: Account) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"vapi-org:{account.id}"))


class Vapi:
    name = "vapi"

    def new_call_id(self, rng: random.Random) -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def _account(self, request: Request, accounts: Accounts) -> Account:
        token = bearer_token(request)
        account = accounts.find("vapi", token) if token else None
        if account is None:
            raise Reply(
                401,
                _error(
                    401,
                    "Invalid Key. Hot tip, you may be using the private key instead of the public key, or vice versa.",
                ),
            )
        return account

    def accept(self, request: Request, raw: bytes, accounts: Accounts) -> Intent:
        account = self._account(request, accounts)
        body = json_object(raw)
        if body is None:
            raise Reply(400, _error(400, "Unexpected token in JSON body: the body must be a JSON object"))
        problems: list[str] = []
        assistant_id = body.get("assistantId")
        if not (isinstance(assistant_id, str) and assistant_id) and not isinstance(body.get("assistant"), dict):
            problems.append("Couldn't Get Assistant. Need Either `assistant` Or `assistantId`.")
        phone_number_id = body.get("phoneNumberId")
        if not (isinstance(phone_number_id, str) and phone_number_id) and not isinstance(body.get("phoneNumber"), dict):
            problems.append("Need Either `phoneNumber` Or `phoneNumberId`.")
        customer = body.get("customer")
        to = customer.get("number") if isinstance(customer, dict) else None
        if not isinstance(to, str) or not to.startswith("+"):
            problems.append("customer.number must be a valid phone number in the E.164 format.")
        overrides = body.get("assistantOverrides") or {}
        server = overrides.get("server") if isinstance(overrides, dict) else None
        url = server.get("url") if isinstance(server, dict) else None
        if url is not None and (not isinstance(url, str) or not url.startswith("http")):
            problems.append("assistantOverrides.server.url must be a URL address")
        wanted = overrides.get("serverMessages") if isinstance(overrides, dict) else None
        if wanted is not None and not (isinstance(wanted, list) and all(isinstance(m, str) for m in wanted)):
            problems.append("assistantOverrides.serverMessages must be an array of strings")
        if problems:
            raise Reply(400, _error(400, problems))
        assert isinstance(to, str)
        if isinstance(assistant_id, str) and assistant_id and not account.owns_agent(assistant_id):
            raise Reply(400, _error(400, f"Couldn't Get Assistant. `assistantId` {assistant_id} Does Not Exist."))
        from_number: str | None = None
        if isinstance(phone_number_id, str) and phone_number_id:
            from_number = account.number_of(phone_number_id)
            if from_number is None and not account.is_default:
                raise Reply(
                    400, _error(400, f"Couldn't Get Phone Number. `phoneNumberId` {phone_number_id} Does Not Exist.")
                )
        elif isinstance(body.get("phoneNumber"), dict):
            from_number = body["phoneNumber"].get("twilioPhoneNumber") or body["phoneNumber"].get("number")
        metadata = overrides.get("metadata") if isinstance(overrides, dict) else None
        details = {
            "messages": tuple(wanted) if wanted is not None else _MESSAGES,
            "assistantId": assistant_id if isinstance(assistant_id, str) else None,
            "phoneNumberId": phone_number_id if isinstance(phone_number_id, str) else None,
        }
        agent = assistant_id if isinstance(assistant_id, str) else None
        return Intent(
            account, to, from_number, agent, url, body, metadata if isinstance(metadata, dict) else None, details
        )

    def _call(self, call_id: str, intent: Intent, now: float, status: str, **extra: Any) -> dict[str, Any]:
        return {
            "id": call_id,
            "orgId": _org(intent.account),
            "type": "outboundPhoneCall",
            "status": status,
            "assistantId": intent.details["assistantId"],
            "phoneNumberId": intent.details["phoneNumberId"],
            "customer": {"number": intent.to},
            "createdAt": iso(now),
            "updatedAt": iso(now),
            **extra,
        }

    def created(self, intent: Intent, call_id: str, now: float) -> tuple[int, dict[str, Any]]:
        return 201, self._call(call_id, intent, now, "queued")

    def error(self, status: int, message: str) -> dict[str, Any]:
        return _error(status, message)

    def invalid_number(self, to: str) -> dict[str, Any]:
        return _error(400, [f"customer.number {to} must be a valid phone number in the E.164 format."])

    def messages(self, call: PlacedCall, phase: str, timeline: Timeline) -> list[Message]:
        wanted = call.intent.details["messages"]
        created = call.accepted_at
        if phase in _PHASE_STATUS:
            if "status-update" not in wanted:
                return []
            status = _PHASE_STATUS[phase]
            now = timeline.answered_at if phase == "answered" and timeline.answered_at else created
            times = {"startedAt": iso(now)} if phase == "answered" else {}
            payload = {
                "type": "status-update",
                "status": status,
                "timestamp": int(now * 1000),
                "call": self._call(call.call_id, call.intent, created, status, **times),
            }
            return [self._message(_OURS[status], f"status-update:{status}", False, payload)]
        if phase != "ended":
            return []
        final = timeline.final_status
        reason = _ENDED_REASON[final]
        ended = timeline.ended_at or created
        times = {"endedAt": iso(ended), "endedReason": reason}
        if timeline.answered_at is not None:
            times["startedAt"] = iso(timeline.answered_at)
        call_object = self._call(call.call_id, call.intent, created, "ended", **times)
        out: list[Message] = []
        if "status-update" in wanted:
            payload = {
                "type": "status-update",
                "status": "ended",
                "endedReason": reason,
                "timestamp": int(ended * 1000),
                "call": call_object,
            }
            out.append(self._message(final, "status-update:ended", True, payload))
        if "end-of-call-report" in wanted:
            payload = {
                "type": "end-of-call-report",
                "endedReason": reason,
                "timestamp": int(ended * 1000),
                "startedAt": times.get("startedAt"),
                "endedAt": times["endedAt"],
                "durationSeconds": round(timeline.talk_seconds, 3),
                "cost": 0,
                "artifact": {"transcript": "", "messages": []},
                "analysis": {},
                "call": call_object,
            }
            if payload["startedAt"] is None:
                del payload["startedAt"]
            out.append(self._message(final, "end-of-call-report", True, payload))
        return out

    @staticmethod
    def _message(status: str, event: str, final: bool, message: dict[str, Any]) -> Message:
        body = json.dumps({"message": message}, separators=(",", ":")).encode()
        return Message(status, event, final, body, "application/json")

    def sign(self, credentials: dict[str, str], url: str, message: Message, now: float) -> dict[str, str]:
        return signing.vapi(credentials["serverSecret"])

    def lookup(self, request: Request, path: str, accounts: Accounts) -> Response | None:
        if path.startswith("/assistant/") and len(path) > len("/assistant/"):
            account = self._account(request, accounts)
            assistant_id = path[len("/assistant/") :]
            if not account.owns_agent(assistant_id):
                return send_json(404, _error(404, "Couldn't Find Assistant"))
            return send_json(
                200,
                {
                    "id": assistant_id,
                    "orgId": _org(account),
                    "name": assistant_id,
                    "createdAt": iso(0),
                    "updatedAt": iso(0),
                },
            )
        if path == "/phone-number":
            account = self._account(request, accounts)
            return send_json(200, [_number(account, n) for n in account.listed_numbers()])
        if path == "/v2/phone-number":
            # Vapi's paginated list; search matches part of a number, case-insensitively. The
            # default account owns any whole number searched for (and lists it from then on).
            account = self._account(request, accounts)
            search = request.args.get("search", "")
            if _E164.fullmatch(search):
                account.owns_number(search)
            found = [n for n in account.listed_numbers() if search.lower() in n.lower()]
            limit = _limit(request.args.get("limit"))
            return send_json(
                200,
                {
                    "results": [_number(account, n) for n in found[:limit]],
                    "metadata": {"itemsPerPage": limit, "totalItems": len(found), "currentPage": 1},
                },
            )
        return None


def _number(account: Account, number: str) -> dict[str, Any]:
    return {
        "id": account.number_id(number),
        "orgId": _org(account),
        "number": number,
        "provider": "twilio",
        "name": number,
        "status": "active",
        "createdAt": iso(0),
        "updatedAt": iso(0),
    }


def _limit(value: str | None) -> int:
    try:
        return max(1, min(1000, int(value or 100)))
    except ValueError:
        raise Reply(400, _error(400, ["limit must be a number"])) from None
