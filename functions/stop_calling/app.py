"""POST /api/v1/client/campaigns/{id}/stop-calling: stop a running campaign now."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_api.app import create_app
from campaign_api.params import ResourceId
from campaign_api.responses import CallingStopped, CallingStoppedResponse, errors, success
from campaign_api.tenant import client_id
from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.settings import ProgressSettings, StateMachineSettings, TableNames, TenantSettings, get_settings
from campaign_calling.wiring import calling_service

logger = Logger(json_serializer=masked_json)  # phone numbers masked
tracer = handler_tracer()
app = create_app(logger)


class Settings(TableNames, TenantSettings, StateMachineSettings, ProgressSettings):
    """The environment this function reads (template.yaml gives it exactly these)."""


@app.post(
    "/api/v1/client/campaigns/<id>/stop-calling",
    summary="Stop a running campaign",
    description="No call is placed after this answer; a call already being placed may finish and is logged. "
    "A paused (or failed) run is ended too: it can no longer be resumed.",
    tags=["Calling"],
    responses={
        **success("The run stopped"),
        **errors(
            404,
            409,
            503,
            e404="campaign not found",
            e409="campaign is not running, paused or failed",
            e503="the database stayed busy; try again",
        ),
    },
)
def stop_calling(id: ResourceId) -> CallingStoppedResponse:
    calling_service().stop(client_id(app), id)
    stopped = CallingStopped(campaignId=id, status="stopped")
    return CallingStoppedResponse(success=True, message="Campaign calling stopped", data=stopped)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    return app.resolve(event, context)
