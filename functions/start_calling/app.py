"""POST /api/v1/client/campaigns/{id}/start-calling: start calling every contact."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_api.app import create_app
from campaign_api.params import ResourceId
from campaign_api.responses import CallingStarted, CallingStartedResponse, errors, success
from campaign_api.tenant import client_id
from campaign_calling.models import StartCallingInput
from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.settings import (
    ProgressSettings,
    RetrySettings,
    StateMachineSettings,
    TableNames,
    TenantSettings,
    get_settings,
)
from campaign_calling.wiring import calling_service

logger = Logger(json_serializer=masked_json)  # phone numbers masked
tracer = handler_tracer()
app = create_app(logger)


class Settings(TableNames, TenantSettings, StateMachineSettings, ProgressSettings, RetrySettings):
    """The environment this function reads (template.yaml gives it exactly these)."""


@app.post(
    "/api/v1/client/campaigns/<id>/start-calling",
    summary="Start calling a campaign's contacts",
    description="Calls every contact in turn with `delayBetweenCalls` ms between calls; answers at once. "
    "With a `callingWindow` (else the client's default), a contact is called only while the window is open in "
    "its local time, and waits for it otherwise. Watch the run with calling-status.",
    tags=["Calling"],
    responses={
        **success("The run started"),
        **errors(
            404,
            409,
            415,
            503,
            e400="Invalid request, or the campaign has no contacts",
            e404="campaign or agent not found",
            e409="campaign is already running, or its last run is paused or failed: resume it or stop it",
            e503="the calling workflow could not be started, or the database stayed busy; try again",
        ),
    },
)
def start_calling(id: ResourceId, body: StartCallingInput) -> CallingStartedResponse:
    run = calling_service().start(
        client_id(app),
        id,
        body.agentId,
        body.delayBetweenCalls,
        max_concurrent_calls=body.maxConcurrentCalls,
        retry=body.retry,
        min_retry_delay_seconds=get_settings(Settings).min_retry_delay_seconds,
        calling_window=body.callingWindow,
    )
    logger.info("run started", extra={"campaign_id": id, "run_id": run.run_id, "execution_arn": run.execution_arn})
    started = CallingStarted(campaignId=id, totalContacts=run.total_contacts, status="started")
    return CallingStartedResponse(success=True, message="Campaign calling started", data=started)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    return app.resolve(event, context)
