"""GET /api/v1/client/campaigns/{id}/runs and .../runs/{runId}: a campaign's run history."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_api.app import create_app
from campaign_api.params import PageLimit, PageToken, ResourceId
from campaign_api.responses import RunFoundResponse, RunPageResponse, errors, success
from campaign_api.tenant import client_id
from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.settings import ProgressSettings, TableNames, TenantSettings, get_settings
from campaign_calling.wiring import run_history_service

logger = Logger(json_serializer=masked_json)  # phone numbers masked
tracer = handler_tracer()
app = create_app(logger)

_KEPT = (
    "Each run's history is kept after its live progress expires (`ProgressTtlSeconds` after it ended): its "
    "status, start and end, the agent and options it was started with, and its counters (live while its "
    "progress exists, then as they were when it ended)."
)


class Settings(TableNames, TenantSettings, ProgressSettings):
    """The environment this function reads (template.yaml gives it exactly these)."""


@app.get(
    "/api/v1/client/campaigns/<id>/runs",
    summary="List a campaign's runs",
    description="The campaign's runs, newest first, a page at a time. " + _KEPT,
    tags=["Calling"],
    responses={
        **success("A page of runs"),
        **errors(404, e400="Invalid parameter or nextToken", e404="campaign not found"),
    },
)
def list_runs(id: ResourceId, limit: PageLimit = 50, nextToken: PageToken = None) -> RunPageResponse:
    return RunPageResponse(success=True, data=run_history_service().list_runs(client_id(app), id, limit, nextToken))


@app.get(
    "/api/v1/client/campaigns/<id>/runs/<runId>",
    summary="One run of a campaign",
    description=_KEPT,
    tags=["Calling"],
    responses={**success("The run"), **errors(404, e404="run not found")},
)
def get_run(id: ResourceId, runId: ResourceId) -> RunFoundResponse:
    return RunFoundResponse(success=True, data=run_history_service().get_run(client_id(app), id, runId))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    return app.resolve(event, context)
