"""GET /api/v1/client/campaigns/{id}/call-logs: every call attempt, newest first, in pages,
optionally of one run, of one status, or started within a time range; and .../call-logs.csv:
the same as CSV, a page at a time (calls/export.py)."""

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_api.app import create_app
from campaign_api.params import PageLimit, PageToken, ResourceId
from campaign_api.responses import CallLogPageResponse, errors, success
from campaign_api.tenant import client_id
from campaign_calling.calls.export import MAX_EXPORT_ROWS
from campaign_calling.calls.log_filters import call_log_filter
from campaign_calling.calls.providers.lifecycle import LoggedStatus
from campaign_calling.ids import MAX_RESOURCE_ID_LENGTH, RESOURCE_ID_PATTERN
from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.settings import TableNames, TenantSettings, get_settings
from campaign_calling.wiring import catalog_service

logger = Logger(json_serializer=masked_json)  # phone numbers masked; a CSV page is never logged
tracer = handler_tracer()
app = create_app(logger)

RunFilter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=MAX_RESOURCE_ID_LENGTH,
        pattern=RESOURCE_ID_PATTERN,
        description="Only the calls of this run (its runId)",
    ),
]
StatusFilter = Annotated[LoggedStatus | None, Query(description="Only the calls whose status is this one")]
From = Annotated[
    str | None,
    Query(
        alias="from",
        max_length=64,
        description="Only the calls started at or after this instant (ISO 8601 with Z or an offset)",
    ),
]
To = Annotated[
    str | None,
    Query(max_length=64, description="Only the calls started before this instant (ISO 8601 with Z or an offset)"),
]
CsvLimit = Annotated[int, Query(ge=1, le=MAX_EXPORT_ROWS, description="Rows per page (at most)")]
_FILTERS = (
    " Filters, all optional and combined: `runId`, `status`, `from` (inclusive) and `to` (exclusive) on the "
    "call's start. A filtered page may hold fewer items than `limit`, even none, while `nextToken` is not null: "
    "read on until it is."
)


class Settings(TableNames, TenantSettings):
    """The environment this function reads (template.yaml gives it exactly these)."""


@app.get(
    "/api/v1/client/campaigns/<id>/call-logs",
    summary="List a campaign's call logs",
    description="Every call attempt, of runs and single calls, newest first, a page at a time." + _FILTERS,
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
    runId: RunFilter = None,
    status: StatusFilter = None,
    from_: From = None,
    to: To = None,
) -> CallLogPageResponse:
    filters = call_log_filter(run_id=runId, status=status, from_=from_, to=to)
    return CallLogPageResponse(
        success=True, data=catalog_service().list_call_logs(client_id(app), id, limit, nextToken, filters)
    )


@app.get(
    "/api/v1/client/campaigns/<id>/call-logs.csv",
    summary="Export a campaign's call logs as CSV",
    description="The call logs as CSV (RFC 4180, UTF-8), newest first, with the list's filters. An answer holds at "
    f"most `limit` rows ({MAX_EXPORT_ROWS} by default) and 5 MiB (Lambda answers API Gateway with at most 6 MB); "
    "when more remain, the `X-Next-Token` header is the `nextToken` of the next page. Only the first page starts "
    "with the header row, so the pages concatenated in order are one file. A cell a spreadsheet would run as a "
    "formula gets a leading `'`." + _FILTERS,
    tags=["Calls"],
    responses={
        200: {
            "description": "A page of the export",
            "headers": {
                "X-Next-Token": {
                    "description": "The nextToken of the next page; absent on the last page",
                    "schema": {"type": "string"},
                }
            },
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **errors(404, e400="Invalid parameter or nextToken", e404="campaign not found"),
    },
)
def export_call_logs(
    id: ResourceId,
    limit: CsvLimit = MAX_EXPORT_ROWS,
    nextToken: PageToken = None,
    runId: RunFilter = None,
    status: StatusFilter = None,
    from_: From = None,
    to: To = None,
) -> Response[str]:
    filters = call_log_filter(run_id=runId, status=status, from_=from_, to=to)
    page = catalog_service().export_call_logs(client_id(app), id, limit, nextToken, filters)
    headers = {"Content-Disposition": f'attachment; filename="call-logs-{id}.csv"'}
    if page.next_token:
        headers["X-Next-Token"] = page.next_token
    return Response(status_code=200, content_type="text/csv; charset=utf-8", body=page.text, headers=headers)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    return app.resolve(event, context)
