"""/api/v1/client/dnc: the client's do-not-call list. A number on it is never called, by a
campaign's run (logged `skipped`) or by make-call (409)."""

from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_api.app import create_app
from campaign_api.params import PageLimit, PageToken, PhoneInPath
from campaign_api.responses import DncFound, DncListed, DncPageResponse, DncRemoved, errors, success
from campaign_api.tenant import client_id
from campaign_calling.errors import InvalidRequest, NotFound
from campaign_calling.models import DncInput, DncPage
from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.phone import InvalidPhoneNumber, to_e164
from campaign_calling.settings import MainTableSettings, TenantSettings, get_settings
from campaign_calling.wiring import do_not_call

logger = Logger(json_serializer=masked_json)  # phone numbers masked
tracer = handler_tracer()
app = create_app(logger)


class Settings(MainTableSettings, TenantSettings):
    """The environment this function reads (template.yaml gives it exactly these)."""


NOT_LISTED = "phone number not on the do-not-call list"


def _e164(phone: str) -> str:
    try:
        # API Gateway's HTTP API hands the path over decoded; a client that encoded "+" as
        # %2B twice (or a proxy that left it encoded) still names the same number.
        return to_e164(unquote(phone))
    except InvalidPhoneNumber as exc:
        # Phone numbers never go back in messages that may be logged downstream.
        raise InvalidRequest("phone is not a valid international phone number (+<country code><number>)") from exc


@app.post(
    "/api/v1/client/dnc",
    summary="Put numbers on your do-not-call list",
    description="1 to 1000 numbers, each validated and stored in E.164, with an optional `reason`. A number "
    "already listed is listed anew (its time and reason replaced). From the next call on, no campaign of yours "
    "dials them (the contact is logged `skipped`, reason `dnc`) and make-call answers 409.",
    tags=["Do not call"],
    responses={
        **success("The numbers as listed"),
        **errors(415, 503, e503="DynamoDB kept refusing part of the list; send it again (listing is idempotent)"),
    },
)
def add_numbers(body: DncInput) -> DncListed:
    entries = do_not_call().add(client_id(app), body.phones, reason=body.reason)
    logger.info("numbers put on the do-not-call list", extra={"count": len(entries)})
    return DncListed(success=True, message="Numbers listed", data=entries)


@app.get(
    "/api/v1/client/dnc",
    summary="List your do-not-call list",
    description="Every number on your list, a page at a time.",
    tags=["Do not call"],
    responses={**success("A page of the list"), **errors(e400="Invalid parameter or nextToken")},
)
def list_numbers(limit: PageLimit = 50, nextToken: PageToken = None) -> DncPageResponse:
    entries, next_token = do_not_call().list(client_id(app), limit, nextToken)
    return DncPageResponse(success=True, data=DncPage(items=entries, nextToken=next_token))


@app.get(
    "/api/v1/client/dnc/<phone>",
    summary="Is a number on your do-not-call list",
    description="Since when and why it is listed; 404 when it is not. The number in the path in international "
    "format, its `+` sent as `%2B`.",
    tags=["Do not call"],
    responses={**success("The listed number"), **errors(404, e404=NOT_LISTED)},
)
def get_number(phone: PhoneInPath) -> DncFound:
    entry = do_not_call().get(client_id(app), _e164(phone))
    if entry is None:
        raise NotFound("phone number")
    return DncFound(success=True, data=entry)


@app.delete(
    "/api/v1/client/dnc/<phone>",
    summary="Take a number off your do-not-call list",
    description="It may be called again from the next call on; 404 when it was not listed.",
    tags=["Do not call"],
    responses={**success("Taken off the list"), **errors(404, e404=NOT_LISTED)},
)
def remove_number(phone: PhoneInPath) -> DncRemoved:
    removed = do_not_call().remove(client_id(app), _e164(phone))
    if removed is None:
        raise NotFound("phone number")
    logger.info("number taken off the do-not-call list")
    return DncRemoved(success=True, message="Number taken off the do-not-call list", data=removed)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    return app.resolve(event, context)
