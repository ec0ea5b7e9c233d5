"""The simulated provider's HTTP app, its state, and ``SimDialer`` which serves them."""

from __future__ import annotations

import copy
import json
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from campaign_local.faults import parse_fault
from campaign_local.serving import WsgiServer
from campaign_local.simulator.accounts import PROVIDERS, Accounts
from campaign_local.simulator.config import SimDialerConfig
from campaign_local.simulator.dialect import Dialect, PlacedCall
from campaign_local.simulator.generic import Generic
from campaign_local.simulator.http import Reply, body_of, form_of, hang_up, redacted_headers, send, send_json
from campaign_local.simulator.lifecycle import Lifecycle, WebhookFault
from campaign_local.simulator.retell import Retell
from campaign_local.simulator.twilio import Twilio
from campaign_local.simulator.vapi import Vapi

FAULT_MODES: frozenset[str] = frozenset(
    {"none", "error500", "error429", "slow", "drop", "accept-timeout", "invalid-number"}
)
WEBHOOK_FAULT_MODES: frozenset[str] = frozenset({"drop", "duplicate", "delay", "out-of-order", "bad-signature"})
FAULT_TARGETS = ("calls", "webhooks")

_DEFAULT_RETRY_AFTER_S = 1
_DEFAULT_SLOW_MS = 1000
_DIALECTS: dict[str, Dialect] = {"generic": Generic(), "twilio": Twilio(), "vapi": Vapi(), "retell": Retell()}
# The create-call path of each dialect under its prefix (Twilio's holds the account SID).
_CREATE_PATHS: dict[str, Callable[[str], bool]] = {
    "generic": lambda path: path == "/v1/calls",
    "twilio": lambda path: path.startswith("/2010-04-01/Accounts/") and path.endswith("/Calls.json"),
    "vapi": lambda path: path == "/call",
    "retell": lambda path: path == "/v2/create-phone-call",
}


@dataclass
class _Fault:
    mode: str = "none"
    remaining: int | None = None  # None = until reset
    retry_after: float = _DEFAULT_RETRY_AFTER_S
    latency_ms: int = _DEFAULT_SLOW_MS

    def to_json(self, *, retry_after: bool = True) -> dict[str, Any]:
        payload: dict[str, Any] = {"mode": self.mode, "count": self.remaining}
        if retry_after:
            payload["retryAfter"] = self.retry_after
        payload["latencyMs"] = self.latency_ms
        return payload

    def take(self) -> _Fault:
        """One use of this fault; returns the fault as it was (the caller holds the lock)."""
        current = copy.copy(self)
        if self.mode != "none" and self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.mode, self.remaining = "none", None
        return current


class _State:
    """All mutable server state; every access goes through ``lock``."""

    def __init__(self, config: SimDialerConfig) -> None:
        self.config = config
        self.lock = threading.Lock()
        self.rng = random.Random(config.seed)
        # Outcomes draw from their own generator, so the ids drawn before do not change them.
        self.outcome_rng = random.Random(config.seed)
        self.records: list[dict[str, Any]] = []
        # Idempotency-Key -> exact response bytes of the first successful answer (generic only).
        self.idempotency: dict[str, bytes] = {}
        self.fault = _Fault()
        self.webhook_fault = _Fault()
        self.accounts = Accounts(config)
        self.lifecycle: Lifecycle | None = None

    def draw_outcome(self) -> str:
        names = [name for name, _ in self.config.outcome_weights]
        weights = [weight for _, weight in self.config.outcome_weights]
        return self.outcome_rng.choices(names, weights)[0]

    def faults_json(self) -> dict[str, Any]:
        return {**self.fault.to_json(), "webhooks": self.webhook_fault.to_json(retry_after=False)}


class _App:
    """The provider's routes, as a werkzeug app (served by campaign_local.serving)."""

    def __init__(self, state: _State) -> None:
        self.state = state
        self._routes: dict[str, dict[str, Callable[[Request], Response]]] = {
            "/calls": {"GET": self._get_calls, "DELETE": self._delete_calls},
            "/faults": {"GET": self._get_faults, "POST": self._post_faults},
            "/accounts": {"POST": self._post_accounts, "DELETE": self._delete_accounts},
            "/health": {"GET": self._health},
        }

    def respond(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        try:
            response = self._route(request, path)
        except Reply as reply:
            response = send(reply.status, reply.body, reply.headers)
        return hang_up(request) if response is None else response

    def _route(self, request: Request, path: str) -> Response | None:
        methods = self._routes.get(path)
        if methods is not None:
            handler = methods.get(request.method)
            if handler is None:
                raise Reply(405, {"error": f"method {request.method} not allowed"}, {"Allow": ", ".join(methods)})
            return handler(request)
        name, sub = "generic", path
        for provider in PROVIDERS[1:]:
            if path == f"/{provider}" or path.startswith(f"/{provider}/"):
                name, sub = provider, path[len(provider) + 1 :] or "/"
        dialect = _DIALECTS[name]
        if _CREATE_PATHS[name](sub):
            if request.method != "POST":
                raise Reply(405, {"error": f"method {request.method} not allowed"}, {"Allow": "POST"})
            return self._post_call(request, dialect)
        if request.method == "GET":
            found = dialect.lookup(request, sub, self.state.accounts)
            if found is not None:
                return found
        raise Reply(404, {"error": f"not found: {path}"})

    # ---- endpoints ------------------------------------------------------

    def _health(self, request: Request) -> Response:
        return send_json(200, {"ok": True})

    def _get_calls(self, request: Request) -> Response:
        with self.state.lock:
            records = copy.deepcopy(self.state.records)
        return send_json(200, records)

    def _delete_calls(self, request: Request) -> Response:
        with self.state.lock:
            self.state.records.clear()
            self.state.idempotency.clear()
        return send(204, None)

    def _get_faults(self, request: Request) -> Response:
        with self.state.lock:
            payload = self.state.faults_json()
        return send_json(200, payload)

    def _post_faults(self, request: Request) -> Response:
        try:
            spec = json.loads(body_of(request) or b"{}")
        except ValueError:
            raise Reply(400, {"error": "body is not valid JSON"}) from None
        target = spec.get("target") if isinstance(spec, dict) else None
        if target is not None and target not in FAULT_TARGETS:
            raise Reply(400, {"error": f"target must be one of {', '.join(FAULT_TARGETS)}"})
        modes = WEBHOOK_FAULT_MODES if target == "webhooks" else FAULT_MODES
        try:
            asked = parse_fault(spec, modes)
        except ValueError as exc:
            raise Reply(400, {"error": str(exc)}) from None
        latency_ms = _DEFAULT_SLOW_MS if asked.latency_ms is None else asked.latency_ms
        retry_after = spec.get("retryAfter", _DEFAULT_RETRY_AFTER_S)
        if isinstance(retry_after, bool) or not isinstance(retry_after, (int, float)) or retry_after < 0:
            raise Reply(400, {"error": "retryAfter must be a non-negative number"})
        fault = (
            _Fault()
            if asked.clears
            else _Fault(mode=asked.mode, remaining=asked.count, retry_after=retry_after, latency_ms=int(latency_ms))
        )
        with self.state.lock:
            if target == "webhooks":
                self.state.webhook_fault = fault
            elif target == "calls" or not asked.clears:
                self.state.fault = fault
            else:  # "mode": "none" naming no target clears both
                self.state.fault, self.state.webhook_fault = fault, _Fault()
            payload = self.state.faults_json()
        return send_json(200, payload)

    def _post_accounts(self, request: Request) -> Response:
        try:
            spec = json.loads(body_of(request) or b"null")
        except ValueError:
            raise Reply(400, {"error": "body is not valid JSON"}) from None
        try:
            account = self.state.accounts.add(spec)
        except ValueError as exc:
            raise Reply(400, {"error": str(exc)}) from None
        except KeyError as exc:
            raise Reply(409, {"error": exc.args[0]}) from None
        return send_json(201, account.describe())

    def _delete_accounts(self, request: Request) -> Response:
        self.state.accounts.clear()
        return send(204, None)

    def _post_call(self, request: Request, dialect: Dialect) -> Response | None:
        """The answer, or None to hang up without one."""
        state = self.state
        received_at = time.time()
        record: dict[str, Any] = {
            "dialect": dialect.name,
            "receivedAt": received_at,
            "phone": None,
            "headers": redacted_headers(request),
            "body": None,
            "metadata": None,
            "status": None,
            "callId": None,
            "account": None,
            "idempotentReplay": False,
            "finalStatus": None,
            "endedAt": None,
            "webhooks": [],
            "webhookFault": None,
        }
        # Append on arrival so /calls reflects arrival order even when
        # concurrent requests finish out of order; status is filled in below.
        with state.lock:
            state.records.append(record)
            fault = state.fault.take()

        try:
            raw = body_of(request)
        except Reply as reply:
            return self._finish(record, reply.status, reply.body, reply.headers)
        shown, phone = _peek(dialect.name, raw)
        with state.lock:
            record["body"], record["phone"] = shown, phone

        delay_ms = state.config.latency_ms + (fault.latency_ms if fault.mode == "slow" else 0)
        if delay_ms:
            time.sleep(delay_ms / 1000)

        if fault.mode == "drop":
            # Request fully read; hang up without a status line. status stays None.
            return None
        if fault.mode == "error500":
            return self._finish(record, 500, _json(dialect.error(500, "simulated internal error")))
        if fault.mode == "error429":
            retry_after = fault.retry_after
            header = str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
            limited = {**dialect.error(429, "rate limited"), "retryAfter": retry_after}
            return self._finish(record, 429, _json(limited), {"Retry-After": header})
        if fault.mode == "invalid-number" and isinstance(phone, str):
            return self._finish(record, 400, _json(dialect.invalid_number(phone)))

        try:
            status, body, placed, replay = self._create_call(request, raw, dialect, record, received_at)
        except Reply as reply:
            return self._finish(record, reply.status, reply.body, reply.headers)
        if fault.mode == "accept-timeout":
            # The call is placed (and remembered under its idempotency key), but the answer
            # never comes: the caller times out not knowing the call went through.
            with state.lock:
                record.update(status=status, idempotentReplay=replay, answered=False)
            self._live(placed)
            time.sleep(fault.latency_ms / 1000)
            return None
        response = self._finish(record, status, body, replay=replay)
        self._live(placed)
        return response

    def _create_call(
        self, request: Request, raw: bytes, dialect: Dialect, record: dict[str, Any], received_at: float
    ) -> tuple[int, bytes, tuple[PlacedCall, str, WebhookFault | None] | None, bool]:
        """Auth, validate, then replay or create. Returns (status, body, the call to play, replay)."""
        state = self.state
        intent = dialect.accept(request, raw, state.accounts)
        idem_key = (request.headers.get("Idempotency-Key") or None) if dialect.name == "generic" else None
        # One lock spans lookup and insert so concurrent retries with the same
        # key cannot both create a call.
        with state.lock:
            record["account"] = intent.account.id
            record["metadata"] = intent.metadata
            if idem_key is not None and idem_key in state.idempotency:
                body = state.idempotency[idem_key]
                record["callId"] = json.loads(body)["id"]
                return 200, body, None, True
            if state.config.failure_rate and state.rng.random() < state.config.failure_rate:
                raise Reply(503, dialect.error(503, "simulated provider failure"))
            call_id = dialect.new_call_id(state.rng)
            code, payload = dialect.created(intent, call_id, received_at)
            body = _json(payload)
            if idem_key is not None:
                state.idempotency[idem_key] = body
            record["callId"] = call_id
            outcome = state.draw_outcome()
            webhook_fault = None
            if intent.webhook_url is not None:
                taken = state.webhook_fault.take()
                if taken.mode != "none":
                    webhook_fault = WebhookFault(taken.mode, taken.latency_ms)
                    record["webhookFault"] = taken.mode
        placed = PlacedCall(dialect.name, call_id, intent, received_at, record)
        if intent.to in state.config.opt_out_numbers:
            # The person asks not to be called again: the call's final webhook says so.
            placed.scratch["optOut"] = True
        return code, body, (placed, outcome, webhook_fault), False

    def _live(self, placed: tuple[PlacedCall, str, WebhookFault | None] | None) -> None:
        if placed is None or self.state.lifecycle is None:
            return
        call, outcome, fault = placed
        self.state.lifecycle.start(call, _DIALECTS[call.dialect], outcome, fault)

    def _finish(
        self,
        record: dict[str, Any],
        status: int,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        *,
        replay: bool = False,
    ) -> Response:
        with self.state.lock:
            record["status"] = status
            record["idempotentReplay"] = replay
            if not 200 <= status < 300:
                record["callId"] = None
        return send(status, body, headers)


def _json(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def _peek(dialect: str, raw: bytes) -> tuple[Any, str | None]:
    """The request body as the /calls record shows it, and the number called, read before
    any check (a dropped request still shows them)."""
    if dialect == "twilio":
        read = form_of(raw)
        if read is None:
            return raw.decode("utf-8", "replace"), None
        to = read[1].get("To")
        return read[1], to if isinstance(to, str) else None
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    shown = parsed if parsed is not None else raw.decode("utf-8", "replace")
    if not isinstance(parsed, dict):
        return shown, None
    if dialect == "vapi":
        customer = parsed.get("customer")
        phone = customer.get("number") if isinstance(customer, dict) else None
    else:
        phone = parsed.get("to_number" if dialect == "retell" else "to")
    return shown, phone if isinstance(phone, str) else None


class SimDialer:
    """A simulated telephony provider running in a background thread."""

    def __init__(self, config: SimDialerConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SimDialerConfig()
        self.host = host
        self.port = port
        self._state = _State(self.config)
        self._server: WsgiServer | None = None

    def start(self) -> SimDialer:
        """Bind and serve in a daemon thread; returns self."""
        if self._server is not None:
            raise RuntimeError("SimDialer already started")
        # shutdown() waits up to one poll
        server = WsgiServer(_App(self._state).respond, self.host, self.port, name="sim-dialer", poll_interval=0.02)
        self._server = server
        self.port = server.port
        self._state.lifecycle = Lifecycle(self._state.lock, self.config.ring_ms, self.config.talk_ms)
        server.start()
        return self

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:8081 (only valid once started)."""
        if self._server is None:
            raise RuntimeError("SimDialer not started")
        return f"http://{self.host}:{self.port}"

    def base_url(self, provider: str) -> str:
        """Where a provider's API is served: the root for generic, /twilio, /vapi, /retell."""
        if provider not in PROVIDERS:
            raise ValueError(f"provider must be one of {', '.join(PROVIDERS)}")
        return self.url if provider == "generic" else f"{self.url}/{provider}"

    def default_credentials(self) -> dict[str, dict[str, str]]:
        """The default accounts' credentials, as the deployment secret holds them:
        ``{"generic": {"apiKey", "webhookSecret"}, "twilio": {"accountSid", "authToken"},
        "vapi": {"apiKey", "serverSecret"}, "retell": {"apiKey"}}``."""
        return self._state.accounts.default_credentials()

    def stop(self) -> None:
        """Stop serving, stop sending webhooks, release the port. Safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        lifecycle, self._state.lifecycle = self._state.lifecycle, None
        if lifecycle is not None:
            lifecycle.stop()

    def calls(self) -> list[dict[str, Any]]:
        """Snapshot of recorded create-call requests (same as GET /calls)."""
        with self._state.lock:
            return copy.deepcopy(self._state.records)

    def wait(self) -> None:
        """Block until the server thread exits (used by ``main``)."""
        while self._server is not None and self._server.serving():
            time.sleep(0.5)

    def __enter__(self) -> SimDialer:
        return self if self._server is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
