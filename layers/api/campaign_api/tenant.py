"""Which client (tenant) a request acts for."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from campaign_calling.config import get_settings
from campaign_calling.errors import Forbidden


def client_id(app: APIGatewayHttpResolver) -> str:
    """The client id from the verified JWT claims that API Gateway's authorizer put in
    the event; never from anything the caller controls (body, path, headers).

    Without an authorizer every request belongs to the configured default client.
    """
    settings = get_settings()
    authorizer = app.current_event.request_context.authorizer
    claims = authorizer.jwt_claim if authorizer else None
    if claims:
        value = claims.get(settings.tenant_claim)
        if isinstance(value, str) and value:
            return value
        # Authenticated but unattributable: never fall back to a shared client.
        raise Forbidden(f"token has no '{settings.tenant_claim}' claim")
    return settings.default_client_id
