"""Which client (tenant) a request acts for."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from campaign_calling.config import get_settings
from campaign_calling.errors import Forbidden, Unauthorized
from campaign_calling.ids import MAX_CLIENT_ID_LENGTH


def client_id(app: APIGatewayHttpResolver) -> str:
    """The client id from the claims API Gateway's JWT authorizer verified and put in the
    event; never from anything the caller controls (body, path, headers)."""
    claim = get_settings().tenant_claim
    authorizer = app.current_event.request_context.authorizer
    claims = authorizer.jwt_claim if authorizer else None
    if not claims:
        # Only reachable when the route was deployed without the authorizer.
        raise Unauthorized("request is not authenticated")
    value = claims.get(claim)
    if not isinstance(value, str) or not value.strip():
        raise Forbidden(f"token has no '{claim}' claim")
    if len(value) > MAX_CLIENT_ID_LENGTH:
        raise Forbidden(f"token's '{claim}' claim is longer than {MAX_CLIENT_ID_LENGTH} characters")
    return value
