"""HTTP plumbing shared by the simulated provider's dialects: answers, bodies, redaction."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.wrappers import Request, Response

from campaign_local.http_api import read_body

# Guards against a runaway client filling memory; real call requests are tiny.
MAX_BODY_BYTES = 1024 * 1024
CLOSE = {"Connection": "close"}  # http.server then closes the connection after the answer
# Header values that must never land in the /calls record.
_SECRET_HEADERS = frozenset({"x-api-key", "proxy-authorization", "cookie"})


class Reply(Exception):
    """Short-circuits request handling with a JSON answer."""

    def __init__(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = json.dumps(payload).encode()
        self.headers = dict(headers or {})


def send(status: int, body: bytes | None, headers: Mapping[str, str] | None = None) -> Response:
    response = Response(body, status=status, content_type="application/json" if body is not None else None)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def send_json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    return send(status, json.dumps(payload).encode(), headers)


def hang_up(request: Request) -> Response:
    """Close the connection without a status line (a provider that drops the call request):
    werkzeug's write of the empty answer then meets a closed socket, which it takes as the
    client gone and logs nothing."""
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    return Response(b"", status=500)


def body_of(request: Request) -> bytes:
    """The whole request body; 400/413 (closing the connection) when it cannot be read."""
    if request.content_length is None and request.headers.get("Content-Length") is not None:
        raise Reply(400, {"error": "invalid Content-Length"}, CLOSE)
    try:
        body = read_body(request, MAX_BODY_BYTES)
    except OSError:  # werkzeug's dechunking: a malformed chunked body
        raise Reply(400, {"error": "malformed chunked body"}, CLOSE) from None
    if body is None:
        # The rest is left unread, so the connection cannot be reused.
        raise Reply(413, {"error": "request body too large"}, CLOSE)
    return body


def redacted_headers(request: Request) -> dict[str, str]:
    """The request's headers for the /calls record, credentials masked."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        value = _redact(key, value)
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _redact(name: str, value: str) -> str:
    if name == "authorization":
        scheme = value.split(" ", 1)[0].lower()
        if scheme in ("bearer", "basic"):
            return f"{scheme.capitalize()} ***"
        return "***"
    if name in _SECRET_HEADERS:
        return "***"
    return value


def bearer_token(request: Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() != "bearer " or not auth[7:].strip():
        return None
    return auth[7:].strip()


def iso(epoch_s: float) -> str:
    """ISO 8601 in UTC with milliseconds and Z (as Vapi and our generic dialect write times)."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rfc2822(epoch_s: float) -> str:
    """An RFC 2822 date (as Twilio writes times)."""
    return format_datetime(datetime.fromtimestamp(epoch_s, UTC), usegmt=False).replace("-0000", "+0000")


def json_object(raw: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one."""
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def form_of(raw: bytes) -> tuple[list[tuple[str, str]], dict[str, Any]] | None:
    """A form-encoded body as its pairs and as name -> value (a list for a repeated name);
    None when it is not UTF-8."""
    try:
        pairs = parse_qsl(raw.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        return None
    form: dict[str, Any] = {}
    for name, value in pairs:
        if name not in form:
            form[name] = value
        else:
            earlier = form[name]
            form[name] = [*earlier, value] if isinstance(earlier, list) else [earlier, value]
    return pairs, form
