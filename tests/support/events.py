"""API Gateway sample events (events/*.json) for route tests, acting for a client as the
JWT authorizer would have passed them (its claims in the request context, the token in the
Authorization header)."""

from __future__ import annotations

from typing import Any

from campaign_local.auth import as_api_gateway_claims, unsigned_token

ISSUER = "https://auth.campaign-calling.local"


def acting_for(sample: dict[str, Any], client: str) -> dict[str, Any]:
    """``sample`` (changed in place, and returned) as a request of ``client``."""
    claims = {"sub": client, "iss": ISSUER}
    sample["requestContext"]["authorizer"] = {"jwt": {"claims": as_api_gateway_claims(claims), "scopes": None}}
    sample["headers"]["authorization"] = f"Bearer {unsigned_token(claims)}"
    return sample
