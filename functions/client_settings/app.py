"""GET and PUT /api/v1/client/settings: the client's limits over all its calls, and its calling window."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_api.app import create_app
from campaign_api.responses import ClientSettingsResponse, errors, success
from campaign_api.tenant import client_id
from campaign_calling.catalog.limits import ClientLimits
from campaign_calling.models import ClientSettingsInput
from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.settings import MainTableSettings, TenantSettings, get_settings
from campaign_calling.wiring import client_limits

logger = Logger(json_serializer=masked_json)
tracer = handler_tracer()
app = create_app(logger)


class Settings(MainTableSettings, TenantSettings):
    """The environment this function reads (template.yaml gives it exactly these)."""


LIMITS = (
    "`maxConcurrentCalls` (1..1000): your calls in progress at once, across all your campaigns and make-call; "
    "`maxCallsPerSecond` (1..100): your calls started in any one second; "
    "`callingWindow` (`{days, start, end}`): when runs started without one of their own may call, in each contact's "
    "local time; `minMinutesBetweenCallsToNumber` (1..10080) and `maxCallsPerNumberPerDay` (1..50, any 24 hours): "
    "how often one number may be called, across all your campaigns and make-call. null: no cap."
)


@app.get(
    "/api/v1/client/settings",
    summary="Get your settings",
    description=f"Your limits over all your calls. {LIMITS} All are null until you set them.",
    tags=["Settings"],
    responses={**success("Your settings"), **errors()},
)
def get_client_settings() -> ClientSettingsResponse:
    limits = client_limits().get(client_id(app))
    return ClientSettingsResponse(success=True, message="Client settings", data=limits)


@app.put(
    "/api/v1/client/settings",
    summary="Replace your settings",
    description=f"Replaces the whole document: a field left out is no cap. {LIMITS} Nothing is stored when a field "
    "is invalid.",
    tags=["Settings"],
    responses={**success("The settings as stored"), **errors(415)},
)
def put_client_settings(body: ClientSettingsInput) -> ClientSettingsResponse:
    stored = client_limits().put(client_id(app), ClientLimits.model_validate(body.model_dump()))
    logger.info("client settings saved", extra={"limits": stored.model_dump()})
    return ClientSettingsResponse(success=True, message="Client settings saved", data=stored)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    return app.resolve(event, context)
