"""What a request body must be before any route sees it: JSON, declared as JSON.

Powertools reads a body without a Content-Type as JSON, a form-encoded one as a form,
and Python's json module accepts NaN, Infinity and repeated keys. The API promises
JSON (its OpenAPI document says application/json) and every body is an object, so
anything else is refused here with the status that names the problem: 415 for the type,
400 for the content.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

JSON_MEDIA_TYPE = "application/json"


class BodyProblem(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


CSV_MEDIA_TYPE = "text/csv"


def check_csv_body(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """For a route that takes a CSV file: a body declared as ``text/csv`` (any charset
    parameter: the route reads UTF-8), or none. The route reads and checks the file."""
    raw = body_bytes(event)
    if not raw:
        return event
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != CSV_MEDIA_TYPE:
        shown = f"not {media_type[:100]!r}" if media_type else "the request has a body but no Content-Type"
        raise BodyProblem(415, f"Content-Type must be text/csv ({shown})")
    return event


def body_bytes(event: Mapping[str, Any]) -> bytes:
    """The request's body as sent (API Gateway base64-encodes what it does not take for text)."""
    return _body_bytes(event, invalid="request body is not valid base64")


def check_body(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """Raise BodyProblem when an API Gateway (payload 2.0) event carries a body that is not
    JSON declared as ``application/json``. A request without a body passes. Returns the
    event with its media type in lower case (media types are case-insensitive, Powertools
    compares them as written)."""
    raw = _body_bytes(event)
    if not raw:
        return event
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type")
    if content_type is None:
        raise BodyProblem(415, "Content-Type must be application/json (the request has a body but no Content-Type)")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        raise BodyProblem(415, f"Content-Type must be application/json, not {media_type[:100]!r}")
    try:
        parsed = json.loads(raw, parse_constant=_no_constant, parse_int=_integer, object_pairs_hook=_unique_keys)
    except _NotJson as exc:
        raise BodyProblem(400, f"request body is not valid JSON: {exc}") from None
    except (ValueError, RecursionError):
        raise BodyProblem(400, "request body is not valid JSON") from None
    if not isinstance(parsed, dict):
        # Every body of ours is an object; Powertools would validate a list's first item.
        raise BodyProblem(400, "request body must be a JSON object")
    return {**event, "headers": {**headers, "content-type": JSON_MEDIA_TYPE}}


class _NotJson(ValueError):
    pass


def _body_bytes(event: Mapping[str, Any], invalid: str = "request body is not valid JSON") -> bytes:
    body: str | None = event.get("body")
    if not body:
        return b""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body)
        except (binascii.Error, ValueError):
            raise BodyProblem(400, invalid) from None
    return body.encode("utf-8", "surrogatepass")


def _no_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number")


def _integer(text: str) -> int:
    if text == "-0":
        raise _NotJson("-0 is not an integer")
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _NotJson(f"key {key[:100]!r} appears twice")
        result[key] = value
    return result
