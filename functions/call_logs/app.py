"""GET /api/v1/client/campaigns/{id}/call-logs: every call attempt, newest first, in pages."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_api.app import create_app
from campaign_api.params import PageLimit, PageToken, ResourceId
from campaign_api.responses import CallLogPageResponse, errors, success
from campaign_api.tenant import client_id
from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.settings import TableNames, TenantSettings, get_settings
from campaign_calling.wiring import catalog_service

logger = Logger(json_serializer=masked_json)  # phone numbers masked
tracer = handler_tracer()
app = create_app(logger)


class Settings(TableNames, TenantSettings):
    """The environment this function reads (template.yaml gives it exactly these)."""


@app.get(
    "/api/v1/client/campaigns/<id>/call-logs",
    summary="List a campaign's call logs",
    description="Every call attempt, of runs and single calls, newest first, a page at a time.",
    tags=["Calls"],
    responses={
        **success("A page of call logs"),
        **errors(404, e400="Invalid parameter or nextToken", e404="campaign not found"),
    },
)
def list_call_logs(
    id: ResourceId,
    limit: PageLimit = 50,
    nextToken: PageToken = None,
) -> CallLogPageResponse:
    return CallLogPageResponse(
        success=True, data=catalog_service().list_call_logs(client_id(app), id, limit, nextToken)
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    return app.resolve(event, context)
