"""POST /api/v1/client/campaigns/{id}/make-call: call one contact now."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_api.app import create_app
from campaign_api.params import IdempotencyKey, ResourceId
from campaign_api.responses import CallPlacedResponse, errors, success
from campaign_api.tenant import client_id
from campaign_calling.models import MakeCallInput
from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.settings import (
    CallSlotSettings,
    IdempotencySettings,
    PlacingSettings,
    TableNames,
    TenantSettings,
    get_settings,
)
from campaign_calling.wiring import make_call_service

logger = Logger(json_serializer=masked_json)  # phone numbers masked
tracer = handler_tracer()
app = create_app(logger)


class Settings(TableNames, TenantSettings, IdempotencySettings, PlacingSettings, CallSlotSettings):
    """The environment this function reads (template.yaml gives it exactly these)."""


@app.post(
    "/api/v1/client/campaigns/<id>/make-call",
    summary="Call one contact now",
    description="Through the same dial path as a run; the call is logged. A call the provider refused is a 200 "
    "with `data.success` false and `data.error`. When the provider has not answered in time the call is logged "
    "(`unknown` when it may have been placed) and the answer is 504 with the call's `uniqueId`. With an "
    "`Idempotency-Key`, a repeated request answers the first one's 200 or 504 and places nothing (the provider "
    "gets a key derived from it too); errors that placed nothing are not remembered. The call counts among the "
    "client's calls in progress (`maxConcurrentCalls`, `maxCallsPerSecond` of its settings): past them, 429.",
    tags=["Calling"],
    responses={
        **success("The call as placed, with the provider's answer"),
        **errors(
            404,
            409,
            415,
            422,
            429,
            503,
            504,
            e404="campaign, contact or agent not found",
            e409="the campaign's running run is calling this contact right now, or a request with this "
            "Idempotency-Key is still in progress",
            e503="the database stayed busy; try again",
        ),
    },
)
def make_call(id: ResourceId, body: MakeCallInput, idempotency_key: IdempotencyKey = None) -> CallPlacedResponse:
    call = make_call_service().make_call(
        client_id(app),
        id,
        body.contactId,
        body.agentId,
        time_left_ms=app.lambda_context.get_remaining_time_in_millis,
        idempotency_key=idempotency_key,
        lambda_context=app.lambda_context,
    )
    logger.info("single call placed", extra={"campaign_id": id, "unique_id": call.uniqueId, "success": call.success})
    return CallPlacedResponse(success=True, data=call)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    return app.resolve(event, context)
