"""/api/v1/client/campaigns/{id}/contacts: bulk add, list in pages, change and delete one."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_api.app import create_app
from campaign_api.envelope import ok
from campaign_api.params import IdempotencyKey, PageLimit, PageToken, ResourceId
from campaign_api.responses import ContactChanged, ContactPageResponse, ContactsAddedResponse, errors, success
from campaign_api.tenant import client_id
from campaign_calling.models import ContactPatch, ContactsInput
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


IN_USE = (
    "The campaign is running or has a paused run (the message names the run), contacts are being added to it, "
    "or (PATCH) another contact of the campaign has this number; nothing was changed"
)


@app.patch(
    "/api/v1/client/campaigns/<id>/contacts/<contactId>",
    summary="Change a contact",
    description="Its name, phone or timezone (`null`: none); a field left out keeps its value. A new phone is "
    "checked as on add: stored in E.164, refused (409) when another contact of the campaign has it, never an "
    "emergency number or short code, premium-rate or shared-cost only when your settings allow them. Refused "
    "(409) while the campaign is running or has a paused run.",
    tags=["Contacts"],
    responses={
        **success("The contact as changed"),
        **errors(
            404,
            409,
            415,
            503,
            e404="campaign or contact not found",
            e409=IN_USE,
            e503="the database stayed busy; nothing was changed, try again",
        ),
    },
)
def update_contact(id: ResourceId, contactId: ResourceId, body: ContactPatch) -> ContactChanged:
    contact = catalog_service().update_contact(client_id(app), id, contactId, body)
    return ContactChanged(success=True, message="Contact updated", data=contact)


@app.delete(
    "/api/v1/client/campaigns/<id>/contacts/<contactId>",
    summary="Delete a contact",
    description="The campaign counts one contact less; the contact's call logs are kept. Refused (409) while the "
    "campaign is running or has a paused run.",
    tags=["Contacts"],
    responses={
        **success("The contact as it was"),
        **errors(
            404,
            409,
            503,
            e404="campaign or contact not found",
            e409=IN_USE,
            e503="the database stayed busy; nothing was deleted, try again",
        ),
    },
)
def delete_contact(id: ResourceId, contactId: ResourceId) -> ContactChanged:
    contact = catalog_service().delete_contact(client_id(app), id, contactId)
    return ContactChanged(success=True, message="Contact deleted", data=contact)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    return app.resolve(event, context)
