"""POST and GET /api/v1/client/campaigns/{id}/contacts: bulk add, and list in pages."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_api.app import create_app
from campaign_api.envelope import ok
from campaign_api.params import IdempotencyKey, PageLimit, PageToken, ResourceId
from campaign_api.responses import ContactPageResponse, ContactsAddedResponse, errors, success
from campaign_api.tenant import client_id
from campaign_calling.models import ContactsInput
from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.settings import IdempotencySettings, TableNames, TenantSettings, get_settings
from campaign_calling.wiring import add_contacts_idempotency, catalog_service

logger = Logger(json_serializer=masked_json)  # phone numbers masked
tracer = handler_tracer()
app = create_app(logger)


class Settings(TableNames, TenantSettings, IdempotencySettings):
    """The environment this function reads (template.yaml gives it exactly these)."""


@app.post(
    "/api/v1/client/campaigns/<id>/contacts",
    summary="Add contacts to a campaign",
    description="Up to 500 contacts a request, kept in the order added; all of them are stored or, on any error, "
    "none. Contacts added while a run is going are not part of that run. With an `Idempotency-Key`, a repeated "
    "request answers the first one's result and stores nothing again.",
    tags=["Contacts"],
    status_code=201,
    responses={
        **success("The contacts added, with their ids", 201),
        **errors(
            404,
            409,
            415,
            422,
            503,
            e404="campaign not found",
            e409="contacts are being added to this campaign concurrently, or a request with this Idempotency-Key "
            "is still in progress; nothing was stored, try again",
            e503="the database stayed busy; nothing was stored, try again",
        ),
    },
)
def add_contacts(id: ResourceId, body: ContactsInput, idempotency_key: IdempotencyKey = None) -> ContactsAddedResponse:
    client = client_id(app)

    def add() -> dict[str, Any]:
        return ok(catalog_service().add_contacts(client, id, body.contacts))

    answer = add_contacts_idempotency().run(
        add,
        client_id=client,
        key=idempotency_key,
        request={"campaignId": id, "body": body.model_dump(mode="json")},
        lambda_context=app.lambda_context,
    )
    # The answer a key keeps is the envelope as JSON (records outlive deployments): read back.
    return ContactsAddedResponse.model_validate({**answer, "message": "Contacts added"})


@app.get(
    "/api/v1/client/campaigns/<id>/contacts",
    summary="List a campaign's contacts",
    description="In the order they were added, a page at a time.",
    tags=["Contacts"],
    responses={
        **success("A page of contacts"),
        **errors(404, e400="Invalid parameter or nextToken", e404="campaign not found"),
    },
)
def list_contacts(
    id: ResourceId,
    limit: PageLimit = 50,
    nextToken: PageToken = None,
) -> ContactPageResponse:
    return ContactPageResponse(success=True, data=catalog_service().list_contacts(client_id(app), id, limit, nextToken))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    return app.resolve(event, context)
