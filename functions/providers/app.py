"""PUT /api/v1/client/providers/{provider}: a client connects its own provider account.

A function of its own rather than a route of the agents function: it is the only one that
may create and write the clients' secrets, and it never reads one (the agents function reads
them to check ownership, and may not write them). Least privilege, one role each.
"""

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_api.app import create_app
from campaign_api.responses import ProviderConnected, ProviderConnection, errors, success
from campaign_api.tenant import client_id
from campaign_calling.calls.providers.dialect import Dialect
from campaign_calling.models import ProviderCredentialsInput
from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.settings import ClientAccountSettings, ProviderEndpointSettings, TenantSettings, get_settings
from campaign_calling.wiring import provider_connections

logger = Logger(json_serializer=masked_json)
tracer = handler_tracer()
app = create_app(logger)


class Settings(TenantSettings, ClientAccountSettings, ProviderEndpointSettings):
    """The environment this function reads (template.yaml gives it exactly these)."""


@app.put(
    "/api/v1/client/providers/<provider>",
    summary="Connect your own provider account",
    description="The account's credentials: generic `{apiKey, webhookSecret}`, twilio `{accountSid, authToken}`, "
    "vapi `{apiKey, serverSecret}`, retell `{apiKey}`, checked with the provider before they are stored. Your "
    "agents of this provider created from then on are checked against, and call with, your own account instead "
    "of the deployment's default one. Sending them again replaces them (a new version); they are never returned.",
    tags=["Providers"],
    responses={
        **success("The account is connected"),
        **errors(
            404,
            415,
            503,
            e404="no such provider route (a provider name that is not a path segment)",
            e400="Not a provider, a missing or invalid credential field (named, never quoted), or credentials the "
            "provider refused",
            e503="the provider or Secrets Manager could not be reached; nothing was stored",
        ),
    },
)
def connect_provider(
    provider: Annotated[Dialect, Path(description="generic, twilio, vapi or retell")],
    body: ProviderCredentialsInput,
) -> ProviderConnected:
    connected = provider_connections().connect(client_id(app), provider, body.model_dump(exclude_none=True))
    logger.info("provider account connected", extra={"provider": connected})
    return ProviderConnected(
        success=True,
        message=f"{connected} account connected",
        data=ProviderConnection(provider=connected, connected=True),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    return app.resolve(event, context)
