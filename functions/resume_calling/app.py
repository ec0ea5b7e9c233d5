"""POST /api/v1/client/campaigns/{id}/resume-calling: go on with a paused or failed run."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_api.app import create_app
from campaign_api.params import ResourceId
from campaign_api.responses import CallingResumed, CallingResumedResponse, errors, success
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
    "/api/v1/client/campaigns/<id>/resume-calling",
    summary="Resume a paused or failed run",
    description="The same run (same runId, its counters going on) continues in a new execution from its first "
    "contact not yet dialed; no contact it dialed is dialed again. Contacts added meanwhile are called after.",
    tags=["Calling"],
    responses={
        **success("The run stopped"),
        **errors(
            404,
            409,
            503,
            e404="campaign or agent not found",
            e409="nothing to resume: the campaign is running, or its last run ended (stopped, completed)",
            e503="the calling workflow could not be started, or the database stayed busy; try again",
        ),
    },
)
def resume_calling(id: ResourceId) -> CallingResumedResponse:
    run = calling_service().resume(client_id(app), id)
    logger.info("run resumed", extra={"campaign_id": id, "run_id": run.run_id, "execution_arn": run.execution_arn})
    resumed = CallingResumed(campaignId=id, status="running")
    return CallingResumedResponse(success=True, message="Campaign calling resumed", data=resumed)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    return app.resolve(event, context)
