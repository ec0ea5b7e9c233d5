"""GET /api/v1/client/campaigns/{id}/calling-status: the current run's live progress."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_api.app import create_app
from campaign_api.params import ResourceId
from campaign_api.responses import CallingStatusResponse, errors, success
from campaign_api.tenant import client_id
from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.settings import TableNames, TenantSettings, get_settings
from campaign_calling.wiring import calling_status_service

logger = Logger(json_serializer=masked_json)  # phone numbers masked
tracer = handler_tracer()
app = create_app(logger)


class Settings(TableNames, TenantSettings):
    """The environment this function reads (template.yaml gives it exactly these)."""


@app.get(
    "/api/v1/client/campaigns/<id>/calling-status",
    summary="Live calling progress",
    description="The current or last run's progress; `progress` is null before any run and once a finished "
    "run's progress has expired.",
    tags=["Calling"],
    responses={**success("The campaign's calling status"), **errors(404)},
)
def calling_status(id: ResourceId) -> CallingStatusResponse:
    return CallingStatusResponse(success=True, data=calling_status_service().status(client_id(app), id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    return app.resolve(event, context)
