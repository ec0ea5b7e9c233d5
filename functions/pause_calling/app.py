"""POST /api/v1/client/campaigns/{id}/pause-calling: pause a running campaign where it stands."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_api.app import create_app
from campaign_api.params import ResourceId
from campaign_api.responses import CallingPaused, CallingPausedResponse, errors, success
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
    "/api/v1/client/campaigns/<id>/pause-calling",
    summary="Pause a running campaign",
    description="No call is placed after this answer; a call already being placed may finish and is logged. "
    "The run keeps its place: resume-calling goes on from its first contact not yet dialed, stop-calling ends it.",
    tags=["Calling"],
    responses={
        **success("The run stopped"),
        **errors(
            404,
            409,
            503,
            e404="campaign not found",
            e409="campaign is not running",
            e503="the database stayed busy; try again",
        ),
    },
)
def pause_calling(id: ResourceId) -> CallingPausedResponse:
    calling_service().pause(client_id(app), id)
    paused = CallingPaused(campaignId=id, status="paused")
    return CallingPausedResponse(success=True, message="Campaign calling paused", data=paused)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    return app.resolve(event, context)
