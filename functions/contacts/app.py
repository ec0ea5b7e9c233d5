"""/api/v1/client/campaigns/{id}/contacts: bulk add, list in pages, change and delete one;
POST .../contacts.csv: contacts from a CSV file."""

import hashlib
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_api.app import create_app
from campaign_api.envelope import ok
from campaign_api.params import IdempotencyKey, PageLimit, PageToken, ResourceId
from campaign_api.responses import (
    ContactChanged,
    ContactPageResponse,
    ContactsAddedResponse,
    ContactsImportedResponse,
    errors,
    success,
)
from campaign_api.strict_json import body_bytes
from campaign_api.tenant import client_id
from campaign_calling.catalog.contacts_csv import read_contacts_csv
from campaign_calling.errors import InvalidRequest
from campaign_calling.models import ContactPatch, ContactsInput
from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.settings import IdempotencySettings, TableNames, TenantSettings, get_settings
from campaign_calling.wiring import add_contacts_idempotency, catalog_service

logger = Logger(json_serializer=masked_json)  # phone numbers masked
tracer = handler_tracer()
CSV_ROUTE = "POST /api/v1/client/campaigns/{id}/contacts.csv"
app = create_app(logger, csv_routes=frozenset({CSV_ROUTE}))


# 500 rows of name, phone, time zone and 500 characters of attributes each, generously.
MAX_CSV_BYTES = 2 * 1024 * 1024


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


@app.post(
    "/api/v1/client/campaigns/<id>/contacts.csv",
    summary="Add contacts from a CSV file",
    description="A CSV file (`Content-Type: text/csv`, UTF-8, RFC 4180, a header row first) of at most 500 rows: "
    "columns `name` and `phone`, optionally `timezone` (IANA); every other column is kept as an attribute of each "
    "contact (`attributes`, under the header's name; an empty cell is none). Each row is checked on its own: the "
    "good ones are added as `POST .../contacts` adds contacts (a number the campaign holds, or an earlier row's, is "
    "left out and named in `duplicates`), the others are named in `rejected` with their line (the header is line "
    "1) and why. A file that cannot be read (no header, no `name` or `phone` column, not UTF-8 or CSV, more than "
    "500 rows) is a 400 and adds nothing. With an `Idempotency-Key`, a repeated request answers the first one's "
    "result.",
    tags=["Contacts"],
    responses={
        **success("What was added, and the rows that were not"),
        **errors(
            404,
            409,
            415,
            422,
            503,
            e400="The file cannot be read as contacts (the message says why); nothing was added",
            e404="campaign not found",
            e409="contacts are being added to this campaign concurrently, or a request with this Idempotency-Key "
            "is still in progress; nothing was stored, try again",
            e415="The body is not sent as text/csv",
            e503="the database stayed busy; nothing was stored, try again",
        ),
    },
    openapi_extensions={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string", "maxLength": MAX_CSV_BYTES}}},
        }
    },
)
def import_contacts(id: ResourceId, idempotency_key: IdempotencyKey = None) -> ContactsImportedResponse:
    client = client_id(app)
    raw = body_bytes(app.current_event.raw_event)
    if not raw:
        raise InvalidRequest("the request has no CSV file in its body")
    if len(raw) > MAX_CSV_BYTES:
        raise InvalidRequest(f"the file is larger than {MAX_CSV_BYTES} bytes: import at most 500 rows a request")
    parsed = read_contacts_csv(raw)

    def add() -> dict[str, Any]:
        return ok(catalog_service().import_contacts(client, id, parsed))

    answer = add_contacts_idempotency().run(
        add,
        client_id=client,
        key=idempotency_key,
        # The file's digest, not the file: the request is only compared, never shown.
        request={"campaignId": id, "csv": hashlib.sha256(raw).hexdigest()},
        lambda_context=app.lambda_context,
    )
    # The answer a key keeps is the envelope as JSON (records outlive deployments): read back.
    return ContactsImportedResponse.model_validate({**answer, "message": "Contacts imported"})


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
