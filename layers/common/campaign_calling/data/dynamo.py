"""DynamoDB plumbing shared by the repositories: (de)serialisation, paging tokens, errors."""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from campaign_calling.errors import InvalidRequest

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_attrs(item: dict[str, Any]) -> dict[str, Any]:
    """Python values to DynamoDB attribute values; None values are left out."""
    return {k: _serializer.serialize(v) for k, v in item.items() if v is not None}


def to_attr(value: Any) -> dict[str, Any]:
    return _serializer.serialize(value)


def from_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in attrs.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def cancellation_codes(exc: ClientError) -> list[str]:
    """Per-item reason codes of a cancelled transaction, in request order ('None' = fine)."""
    reasons = exc.response.get("CancellationReasons") or []
    return [r.get("Code", "None") for r in reasons]


def encode_token(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    raw = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str | None, *, partition_key: str, sort_prefix: str) -> dict[str, Any] | None:
    """Decode a paging token; it must point into the partition and kind of item being
    read, so a token taken from another list, campaign or client opens nothing."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise InvalidRequest("nextToken is not valid") from exc
    if not isinstance(key, dict) or key.get("pk") != {"S": partition_key} or set(key) != {"pk", "sk"}:
        raise InvalidRequest("nextToken is not valid")
    sk = key.get("sk")
    if not isinstance(sk, dict) or not isinstance(sk.get("S"), str) or not sk["S"].startswith(sort_prefix):
        raise InvalidRequest("nextToken is not valid")
    return key
