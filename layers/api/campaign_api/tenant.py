"""Which client (tenant) a request acts for.

A client id is a non-empty string of at most MAX_CLIENT_ID_LENGTH characters, neither blank
nor holding control characters, from one verified claim of the token. API Gateway's JWT
authorizer hands every claim to the function as a string (a number 424242 arrives as
"424242", a list as "[a b]"), so the claim's JSON type is read from the token itself: the
Authorization header, which the authorizer already verified (signature, issuer, audience,
expiry) before the function runs. Only its payload is decoded here, and only when it says
exactly what the authorizer put in the event.

Characters are otherwise free: keys percent-encode every id they hold (data/keys.py), so a
'#' cannot splice one key into another, and tests/unit/test_models_and_ids.py shows the
longest keys an allowed id makes fit DynamoDB's limits.
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from campaign_calling.errors import Forbidden, Unauthorized
from campaign_calling.ids import MAX_CLIENT_ID_LENGTH
from campaign_calling.settings import TenantSettings, get_settings

_ABSENT = object()


def client_id(app: APIGatewayHttpResolver) -> str:
    """The client id from the claims API Gateway's JWT authorizer verified and put in the
    event; never from anything the caller controls (body, path, headers)."""
    claim = get_settings(TenantSettings).tenant_claim
    event = app.current_event
    authorizer = event.request_context.authorizer
    claims = authorizer.jwt_claim if authorizer else None
    if not claims:
        # Only reachable when the route was deployed without the authorizer.
        raise Unauthorized("request is not authenticated")
    original = _token_claim(event.headers.get("authorization"), claim)  # case-insensitive
    if original is _ABSENT:
        raise Forbidden(f"token has no '{claim}' claim")
    if not isinstance(original, str):
        raise Forbidden(f"token's '{claim}' claim must be a string, not {_json_type(original)}")
    if claims.get(claim) != original:
        # The header is not the token the authorizer verified: trust neither.
        raise Forbidden(f"token's '{claim}' claim does not match the verified claims")
    return valid_client_id(original, claim)


def valid_client_id(value: str, claim: str = "sub") -> str:
    """``value`` when it may name a client; Forbidden, saying why, otherwise."""
    if not value.strip():
        raise Forbidden(f"token's '{claim}' claim is empty")
    if len(value) > MAX_CLIENT_ID_LENGTH:
        raise Forbidden(f"token's '{claim}' claim is longer than {MAX_CLIENT_ID_LENGTH} characters")
    # Control characters have no place in an identity; a lone surrogate cannot even be
    # written as UTF-8 (so into a key).
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        raise Forbidden(f"token's '{claim}' claim holds control characters")
    return value


def _token_claim(authorization: str | None, claim: str) -> Any:
    """The claim as the token's payload has it (any JSON type), _ABSENT when it has none.
    API Gateway takes the token with or without the Bearer prefix."""
    if not authorization:
        raise Unauthorized("request carries no token")
    scheme, _, rest = authorization.strip().partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else authorization.strip()
    parts = token.split(".")
    if len(parts) != 3:
        raise Forbidden("token's claims cannot be read")
    try:
        segment = parts[1] + "=" * (-len(parts[1]) % 4)
        payload = json.loads(base64.urlsafe_b64decode(segment.encode("ascii")))
    except (UnicodeEncodeError, binascii.Error, ValueError) as exc:
        raise Forbidden("token's claims cannot be read") from exc
    if not isinstance(payload, dict):
        raise Forbidden("token's claims cannot be read")
    return payload.get(claim, _ABSENT)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    return "an object"
