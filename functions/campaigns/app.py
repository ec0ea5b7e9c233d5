"""POST /api/v1/client/campaigns and GET /api/v1/client/campaigns/{id}."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_api.app import create_app
from campaign_api.envelope import ok
from campaign_api.params import ResourceId
from campaign_api.responses import CampaignCreated, CampaignFound, errors, success
from campaign_api.tenant import client_id
from campaign_calling.log_masking import masked_json
from campaign_calling.models import CampaignInput
from campaign_calling.wiring import catalog_service

logger = Logger(json_serializer=masked_json)  # phone numbers masked
tracer = Tracer()
app = create_app(logger)


@app.post(
    "/api/v1/client/campaigns",
    summary="Create a campaign",
    description="A campaign, optionally with its first contacts (up to 500; numbers are validated and stored "
    "in E.164).",
    tags=["Campaigns"],
    responses={
        **success(CampaignCreated, "The campaign, with its id and contact count", 201),
        **errors(415, 503, e503="the database stayed busy; try again"),
    },
)
def create_campaign(body: CampaignInput) -> tuple[dict, int]:
    return ok(catalog_service().create_campaign(client_id(app), body), "Campaign created"), 201


@app.get(
    "/api/v1/client/campaigns/<id>",
    summary="Get a campaign",
    tags=["Campaigns"],
    responses={
        **success(CampaignFound, "The campaign, with its contact count"),
        **errors(404, e404="campaign not found"),
    },
)
def get_campaign(id: ResourceId) -> dict:
    return ok(catalog_service().get_campaign(client_id(app), id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
