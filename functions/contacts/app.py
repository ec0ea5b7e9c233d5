"""POST and GET /api/v1/client/campaigns/{id}/contacts: bulk add, and list in pages."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_api.app import create_app
from campaign_api.envelope import ok, page
from campaign_api.params import PageLimit, PageToken, ResourceId
from campaign_api.tenant import client_id
from campaign_calling.models import ContactsInput
from campaign_calling.wiring import catalog_service

logger = Logger()
tracer = Tracer()
app = create_app(logger)


@app.post("/api/v1/client/campaigns/<id>/contacts")
def add_contacts(id: ResourceId, body: ContactsInput) -> tuple[dict, int]:
    added, total = catalog_service().add_contacts(client_id(app), id, body.contacts)
    return ok({"campaignId": id, "added": len(added), "totalContacts": total, "contacts": added}, "Contacts added"), 201


@app.get("/api/v1/client/campaigns/<id>/contacts")
def list_contacts(
    id: ResourceId,
    limit: PageLimit = 50,
    nextToken: PageToken = None,
) -> dict:
    contacts, token = catalog_service().list_contacts(client_id(app), id, limit, nextToken)
    return ok(page(contacts, token))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
