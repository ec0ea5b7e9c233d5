"""Simulated telephony provider served over real HTTP.

The dial Lambda talks to this exactly as it would to a real provider, so the
local engine exercises real HTTP, auth, idempotency and failure handling.

Endpoints:
    POST   /v1/calls  place a call (Bearer auth, optional Idempotency-Key)
    GET    /calls     every POST /v1/calls received, in arrival order
    DELETE /calls     clear the record and idempotency memory
    GET    /faults    current injected fault
    POST   /faults    inject a fault for the next N calls
    GET    /health    liveness

Served by werkzeug, as the rest of the engine (campaign_local.serving).

Run standalone with ``python -m campaign_local.sim_dialer`` (port from
``DIALER_PORT``, default 8081).
"""

from __future__ import annotations

import contextlib
import copy
import hmac
import json
import os
import random
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from campaign_local.faults import parse_fault
from campaign_local.http_api import read_body
from campaign_local.serving import WsgiServer

__all__ = [
    "FAULT_MODES",
    "SimDialer",
    "SimDialerConfig",
    "main",
]

FAULT_MODES: frozenset[str] = frozenset(
    {"none", "error500", "error429", "slow", "drop", "accept-timeout", "invalid-number"}
)

# Guards against a runaway client filling memory; real call requests are tiny.
_MAX_BODY_BYTES = 1024 * 1024
_DEFAULT_RETRY_AFTER_S = 1
_DEFAULT_SLOW_MS = 1000
# Header values that must never land in the /calls record.
_SECRET_HEADERS = frozenset({"x-api-key", "proxy-authorization", "cookie"})


@dataclass(frozen=True)
class SimDialerConfig:
    """Behaviour knobs for the simulated provider."""

    latency_ms: int = 0
    failure_rate: float = 0.0
    api_key: str | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SimDialerConfig:
        """Build from SIM_DIALER_LATENCY_MS / _FAILURE_RATE / _API_KEY / _SEED."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            # Empty values (e.g. `FOO=` in a compose file) mean "unset".
            value = env.get(name, "").strip()
            return value or None

        def parse(name: str, kind: type, default: Any) -> Any:
            raw = get(name)
            if raw is None:
                return default
            try:
                return kind(raw)
            except ValueError as exc:
                raise ValueError(f"{name} must be {kind.__name__}, got {raw!r}") from exc

        return cls(
            latency_ms=parse("SIM_DIALER_LATENCY_MS", int, 0),
            failure_rate=parse("SIM_DIALER_FAILURE_RATE", float, 0.0),
            api_key=get("SIM_DIALER_API_KEY"),
            seed=parse("SIM_DIALER_SEED", int, None),
        )


@dataclass
class _Fault:
    mode: str = "none"
    remaining: int | None = None  # None = until reset
    retry_after: float = _DEFAULT_RETRY_AFTER_S
    latency_ms: int = _DEFAULT_SLOW_MS

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "count": self.remaining,
            "retryAfter": self.retry_after,
            "latencyMs": self.latency_ms,
        }


class _Reply(Exception):
    """Short-circuits request handling with a JSON answer."""

    def __init__(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = json.dumps(payload).encode()
        self.headers = headers or {}


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _redact(name: str, value: str) -> str:
    if name == "authorization":
        return "Bearer ***" if value[:7].lower() == "bearer " else "***"
    if name in _SECRET_HEADERS:
        return "***"
    return value


class _State:
    """All mutable server state; every access goes through ``lock``."""

    def __init__(self, config: SimDialerConfig) -> None:
        self.config = config
        self.lock = threading.Lock()
        self.rng = random.Random(config.seed)
        self.records: list[dict[str, Any]] = []
        # Idempotency-Key -> exact response bytes of the first successful answer.
        self.idempotency: dict[str, bytes] = {}
        self.fault = _Fault()

    def take_fault(self) -> _Fault:
        """Consume one use of the current fault (caller holds the lock)."""
        current = copy.copy(self.fault)
        if self.fault.mode != "none" and self.fault.remaining is not None:
            self.fault.remaining -= 1
            if self.fault.remaining <= 0:
                self.fault = _Fault()
        return current


class _App:
    """The provider's routes, as a werkzeug app (served by campaign_local.serving)."""

    def __init__(self, state: _State) -> None:
        self.state = state
        self._routes: dict[str, dict[str, Callable[[Request], Response | None]]] = {
            "/v1/calls": {"POST": self._post_call},
            "/calls": {"GET": self._get_calls, "DELETE": self._delete_calls},
            "/faults": {"GET": self._get_faults, "POST": self._post_faults},
            "/health": {"GET": self._health},
        }

    def respond(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        try:
            methods = self._routes.get(path)
            if methods is None:
                raise _Reply(404, {"error": f"not found: {path}"})
            handler = methods.get(request.method)
            if handler is None:
                raise _Reply(405, {"error": f"method {request.method} not allowed"}, {"Allow": ", ".join(methods)})
            response = handler(request)
        except _Reply as reply:
            response = _send(reply.status, reply.body, reply.headers)
        if response is None:
            return _hang_up(request)
        return response

    # ---- plumbing -------------------------------------------------------

    @staticmethod
    def _read_body(request: Request) -> bytes:
        if request.content_length is None and request.headers.get("Content-Length") is not None:
            raise _Reply(400, {"error": "invalid Content-Length"}, _CLOSE)
        try:
            body = read_body(request, _MAX_BODY_BYTES)
        except OSError:  # werkzeug's dechunking: a malformed chunked body
            raise _Reply(400, {"error": "malformed chunked body"}, _CLOSE) from None
        if body is None:
            # The rest is left unread, so the connection cannot be reused.
            raise _Reply(413, {"error": "request body too large"}, _CLOSE)
        return body

    # ---- endpoints ------------------------------------------------------

    def _health(self, request: Request) -> Response:
        return _send_json(200, {"ok": True})

    def _get_calls(self, request: Request) -> Response:
        with self.state.lock:
            records = copy.deepcopy(self.state.records)
        return _send_json(200, records)

    def _delete_calls(self, request: Request) -> Response:
        with self.state.lock:
            self.state.records.clear()
            self.state.idempotency.clear()
        return _send(204, None)

    def _get_faults(self, request: Request) -> Response:
        with self.state.lock:
            payload = self.state.fault.to_json()
        return _send_json(200, payload)

    def _post_faults(self, request: Request) -> Response:
        try:
            spec = json.loads(self._read_body(request) or b"{}")
        except ValueError:
            raise _Reply(400, {"error": "body is not valid JSON"}) from None
        try:
            asked = parse_fault(spec, FAULT_MODES)
        except ValueError as exc:
            raise _Reply(400, {"error": str(exc)}) from None
        mode, count = asked.mode, asked.count
        latency_ms = _DEFAULT_SLOW_MS if asked.latency_ms is None else asked.latency_ms
        retry_after = spec.get("retryAfter", _DEFAULT_RETRY_AFTER_S)
        if isinstance(retry_after, bool) or not isinstance(retry_after, (int, float)) or retry_after < 0:
            raise _Reply(400, {"error": "retryAfter must be a non-negative number"})
        fault = (
            _Fault()
            if mode == "none"
            else _Fault(mode=mode, remaining=count, retry_after=retry_after, latency_ms=int(latency_ms))
        )
        with self.state.lock:
            self.state.fault = fault
            payload = fault.to_json()
        return _send_json(200, payload)

    def _post_call(self, request: Request) -> Response | None:
        """The answer, or None to hang up without one."""
        state = self.state
        received_at = time.time()
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            key = name.lower()
            value = _redact(key, value)
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        record: dict[str, Any] = {
            "receivedAt": received_at,
            "phone": None,
            "headers": headers,
            "body": None,
            "status": None,
            "callId": None,
            "idempotentReplay": False,
        }
        # Append on arrival so /calls reflects arrival order even when
        # concurrent requests finish out of order; status is filled in below.
        with state.lock:
            state.records.append(record)
            fault = state.take_fault()

        try:
            raw = self._read_body(request)
        except _Reply as reply:
            return self._finish(record, reply.status, reply.body, reply.headers)
        parsed: Any
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        with state.lock:
            record["body"] = parsed if parsed is not None else raw.decode("utf-8", "replace")
            if isinstance(parsed, dict) and isinstance(parsed.get("to"), str):
                record["phone"] = parsed["to"]

        delay_ms = state.config.latency_ms + (fault.latency_ms if fault.mode == "slow" else 0)
        if delay_ms:
            time.sleep(delay_ms / 1000)

        if fault.mode == "drop":
            # Request fully read; hang up without a status line. status stays None.
            return None
        if fault.mode == "error500":
            return self._finish(record, 500, json.dumps({"error": "simulated internal error"}).encode())
        if fault.mode == "error429":
            retry_after = fault.retry_after
            header = str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
            body = json.dumps({"error": "rate limited", "retryAfter": retry_after}).encode()
            return self._finish(record, 429, body, {"Retry-After": header})
        if fault.mode == "invalid-number" and isinstance(record.get("phone"), str):
            # A refusal quoting the number it was sent, as Twilio's error 21211 does.
            error = f"The 'To' number {record['phone']} is not a valid phone number."
            return self._finish(record, 400, json.dumps({"error": error}).encode())

        try:
            status, body, call_id, replay = self._create_call(request, raw, parsed)
        except _Reply as reply:
            return self._finish(record, reply.status, reply.body, reply.headers)
        if fault.mode == "accept-timeout":
            # The call is placed (and remembered under its idempotency key), but the answer
            # never comes: the caller times out not knowing the call went through.
            with state.lock:
                record.update(status=status, callId=call_id, idempotentReplay=replay, answered=False)
            time.sleep(fault.latency_ms / 1000)
            return None
        return self._finish(record, status, body, call_id=call_id, replay=replay)

    def _create_call(self, request: Request, raw: bytes, parsed: Any) -> tuple[int, bytes, str | None, bool]:
        """Auth, validate, then replay or create. Returns (status, body, callId, replay)."""
        state = self.state
        expected = state.config.api_key
        auth = request.headers.get("Authorization", "")
        if auth[:7].lower() != "bearer " or not auth[7:].strip():
            raise _Reply(401, {"error": "missing bearer token"})
        if expected is not None and not hmac.compare_digest(auth[7:].strip().encode(), expected.encode()):
            raise _Reply(401, {"error": "invalid api key"})

        if not raw:
            raise _Reply(400, {"error": "request body is required"})
        if parsed is None and raw.strip() != b"null":
            raise _Reply(400, {"error": "body is not valid JSON"})
        if not isinstance(parsed, dict):
            raise _Reply(400, {"error": "body must be a JSON object"})
        for field in ("to", "agentId"):
            value = parsed.get(field)
            if not isinstance(value, str) or not value.strip():
                raise _Reply(400, {"error": f"'{field}' is required and must be a non-empty string"})
        caller_id = parsed.get("callerId")
        if caller_id is not None and not isinstance(caller_id, str):
            raise _Reply(400, {"error": "'callerId' must be a string or null"})
        metadata = parsed.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise _Reply(400, {"error": "'metadata' must be an object"})

        idem_key = request.headers.get("Idempotency-Key") or None
        # One lock spans lookup and insert so concurrent retries with the same
        # key cannot both create a call.
        with state.lock:
            if idem_key is not None and idem_key in state.idempotency:
                body = state.idempotency[idem_key]
                return 200, body, json.loads(body)["id"], True
            if state.config.failure_rate and state.rng.random() < state.config.failure_rate:
                raise _Reply(503, {"error": "simulated provider failure"})
            call_id = f"call_{uuid.UUID(int=state.rng.getrandbits(128)).hex[:24]}"
            body = json.dumps(
                {
                    "id": call_id,
                    "status": "queued",
                    "to": parsed["to"],
                    "agentId": parsed["agentId"],
                    "createdAt": _iso_now(),
                }
            ).encode()
            if idem_key is not None:
                state.idempotency[idem_key] = body
        return 201, body, call_id, False

    def _finish(
        self,
        record: dict[str, Any],
        status: int,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        *,
        call_id: str | None = None,
        replay: bool = False,
    ) -> Response:
        with self.state.lock:
            record["status"] = status
            record["callId"] = call_id
            record["idempotentReplay"] = replay
        return _send(status, body, headers)


_CLOSE = {"Connection": "close"}  # http.server then closes the connection after the answer


def _send(status: int, body: bytes | None, headers: Mapping[str, str] | None = None) -> Response:
    response = Response(body, status=status, content_type="application/json" if body is not None else None)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _send_json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    return _send(status, json.dumps(payload).encode(), headers)


def _hang_up(request: Request) -> Response:
    """Close the connection without a status line (a provider that drops the call request):
    werkzeug's write of the empty answer then meets a closed socket, which it takes as the
    client gone and logs nothing."""
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    return Response(b"", status=500)


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
        server.start()
        return self

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:8081 (only valid once started)."""
        if self._server is None:
            raise RuntimeError("SimDialer not started")
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def calls(self) -> list[dict[str, Any]]:
        """Snapshot of recorded POST /v1/calls requests (same as GET /calls)."""
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


def main() -> None:
    """Run standalone in the foreground on DIALER_PORT (default 8081)."""
    port = int(os.environ.get("DIALER_PORT") or 8081)
    dialer = SimDialer(SimDialerConfig.from_env(), port=port).start()
    # Turn SIGTERM (docker stop, process managers) into a clean shutdown.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"sim dialer listening on {dialer.url}", file=sys.stderr, flush=True)
    try:
        dialer.wait()
    except KeyboardInterrupt:
        pass
    finally:
        dialer.stop()


if __name__ == "__main__":
    main()
