"""/api/v1/client/campaigns: create, list, read, change and delete the client's campaigns."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_api.app import create_app
from campaign_api.envelope import ok
from campaign_api.params import IdempotencyKey, PageLimit, PageToken, ResourceId
from campaign_api.responses import (
    CampaignChanged,
    CampaignCreated,
    CampaignFound,
    CampaignPageResponse,
    errors,
    success,
)
from campaign_api.tenant import client_id
from campaign_calling.models import CampaignInput, CampaignPatch
from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.settings import IdempotencySettings, TableNames, TenantSettings, get_settings
from campaign_calling.wiring import catalog_service, create_campaign_idempotency

logger = Logger(json_serializer=masked_json)  # phone numbers masked
tracer = handler_tracer()
app = create_app(logger)


class Settings(TableNames, TenantSettings, IdempotencySettings):
    """The environment this function reads (template.yaml gives it exactly these)."""


@app.post(
    "/api/v1/client/campaigns",
    summary="Create a campaign",
    description="A campaign, optionally with its first contacts (up to 500; numbers are validated and stored "
    "in E.164): created with all of them, or on any error not at all. With an `Idempotency-Key`, a repeated "
    "request answers the first one's campaign and creates nothing again.",
    tags=["Campaigns"],
    status_code=201,
    responses={
        **success("The campaign, with its id and contact count", 201),
        **errors(
            409,
            415,
            422,
            503,
            e409="a request with this Idempotency-Key is still in progress",
            e503="the database stayed busy; nothing was created, try again",
        ),
    },
)
def create_campaign(body: CampaignInput, idempotency_key: IdempotencyKey = None) -> CampaignCreated:
    client = client_id(app)
    answer = create_campaign_idempotency().run(
        lambda: ok(catalog_service().create_campaign(client, body)),
        client_id=client,
        key=idempotency_key,
        request={"body": body.model_dump(mode="json")},
        lambda_context=app.lambda_context,
    )
    # The answer a key keeps is the envelope as JSON (records outlive deployments): read back.
    return CampaignCreated.model_validate({**answer, "message": "Campaign created"})


@app.get(
    "/api/v1/client/campaigns/<id>",
    summary="Get a campaign",
    tags=["Campaigns"],
    responses={
        **success("The campaign, with its contact count"),
        **errors(404, e404="campaign not found"),
    },
)
def get_campaign(id: ResourceId) -> CampaignFound:
    return CampaignFound(success=True, data=catalog_service().get_campaign(client_id(app), id))


@app.get(
    "/api/v1/client/campaigns",
    summary="List your campaigns",
    description="Every campaign of yours, by id, a page at a time, each with its status: `isRunning`, "
    "`currentRunId` (its latest run, kept after the run ended) and `lastRunStatus`.",
    tags=["Campaigns"],
    responses={**success("A page of campaigns"), **errors(e400="Invalid parameter or nextToken")},
)
def list_campaigns(limit: PageLimit = 50, nextToken: PageToken = None) -> CampaignPageResponse:
    page = catalog_service().list_campaigns(client_id(app), limit, nextToken)
    return CampaignPageResponse(success=True, data=page)


IN_USE = (
    "The campaign is running or has a paused run (the message names the run), or contacts are being added to "
    "it; nothing was changed"
)


@app.patch(
    "/api/v1/client/campaigns/<id>",
    summary="Change a campaign",
    description="Its name or timezone (`null`: none); a field left out keeps its value. Contacts have routes of "
    "their own. Refused (409) while the campaign is running or has a paused run.",
    tags=["Campaigns"],
    responses={
        **success("The campaign as changed"),
        **errors(404, 409, 415, e404="campaign not found", e409=IN_USE),
    },
)
def update_campaign(id: ResourceId, body: CampaignPatch) -> CampaignChanged:
    campaign = catalog_service().update_campaign(client_id(app), id, body)
    return CampaignChanged(success=True, message="Campaign updated", data=campaign)


@app.delete(
    "/api/v1/client/campaigns/<id>",
    summary="Delete a campaign",
    description="With its contacts and its status; its call logs are kept (records of calls made) and stay "
    "readable at its call-logs route. Refused (409) while the campaign is running or has a paused run.",
    tags=["Campaigns"],
    responses={
        **success("The campaign as it was"),
        **errors(
            404,
            409,
            503,
            e404="campaign not found",
            e409=IN_USE,
            e503="the database stayed busy; nothing was deleted, try again",
        ),
    },
)
def delete_campaign(id: ResourceId) -> CampaignChanged:
    campaign = catalog_service().delete_campaign(client_id(app), id)
    return CampaignChanged(success=True, message="Campaign deleted", data=campaign)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    return app.resolve(event, context)
