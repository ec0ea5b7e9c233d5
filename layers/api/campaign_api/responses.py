"""What the API answers, as pydantic models: the routes return them and the OpenAPI
document is built from them.

A route returns its success envelope (e.g. ``AgentFound``) and declares it as its return
type: Powertools' resolver (``enable_validation``) validates and serialises the returned
model (by alias), and documents the success status with its schema (``success`` leaves
the content to the return type). The errors are named with ``errors`` in the decorator.
The two creating routes that replay an Idempotency-Key's stored answer return that
answer, plain JSON, and name their model in ``success(..., model=...)``: the stored JSON
cannot be read back into the domain models (ids serialise as ``_id``, internal fields are
left out). The end-to-end fuzz test checks every answer of the local engine against these
schemas.
"""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, ConfigDict, Field

from campaign_calling.calls.providers.dialect import Dialect
from campaign_calling.catalog.limits import ClientLimits
from campaign_calling.models import (
    Agent,
    AgentPage,
    CallingStatus,
    CallLogPage,
    CallPlaced,
    Campaign,
    CampaignPage,
    Contact,
    ContactPage,
    ContactsAdded,
    ContactsImported,
    CreatedCampaign,
    DncEntry,
    DncPage,
    DomainModel,
    RunPage,
    RunSummary,
)

JSON = "application/json"


class _Strict(DomainModel):
    # additionalProperties: false in the document, so an undocumented field is a finding.
    model_config = ConfigDict(extra="forbid")


# -- data of the routes whose answer is not a domain model -----------------------------


class CallingStarted(_Strict):
    campaignId: str
    totalContacts: int
    status: Literal["started"]


class CallingStopped(_Strict):
    campaignId: str
    status: Literal["stopped"]


class CallingPaused(_Strict):
    campaignId: str
    status: Literal["paused"]


class CallingResumed(_Strict):
    campaignId: str
    status: Literal["running"]


class ProviderConnection(_Strict):
    """A client's own provider account, as the API shows it: never its credentials."""

    provider: Dialect
    connected: Literal[True]


# -- envelopes -------------------------------------------------------------------------


class _Ok(_Strict):
    success: Literal[True]


class AgentCreated(_Ok):
    message: str
    data: Agent


class AgentFound(_Ok):
    data: Agent


class CampaignCreated(_Ok):
    message: str
    data: CreatedCampaign


class CampaignFound(_Ok):
    data: Campaign


class AgentPageResponse(_Ok):
    data: AgentPage


class AgentChanged(_Ok):
    """An agent changed (PATCH: as it is now) or deleted (DELETE: as it was)."""

    message: str
    data: Agent


class CampaignPageResponse(_Ok):
    data: CampaignPage


class CampaignChanged(_Ok):
    """A campaign changed (PATCH: as it is now) or deleted (DELETE: as it was)."""

    message: str
    data: Campaign


class ContactChanged(_Ok):
    """A contact changed (PATCH: as it is now) or deleted (DELETE: as it was)."""

    message: str
    data: Contact


class ContactsAddedResponse(_Ok):
    message: str
    data: ContactsAdded


class ContactPageResponse(_Ok):
    data: ContactPage


class CallLogPageResponse(_Ok):
    data: CallLogPage


class ContactsImportedResponse(_Ok):
    message: str
    data: ContactsImported


class RunPageResponse(_Ok):
    data: RunPage


class RunFoundResponse(_Ok):
    data: RunSummary


class CallingStatusResponse(_Ok):
    data: CallingStatus


class CallingStartedResponse(_Ok):
    message: str
    data: CallingStarted


class CallingStoppedResponse(_Ok):
    message: str
    data: CallingStopped


class CallingPausedResponse(_Ok):
    message: str
    data: CallingPaused


class CallingResumedResponse(_Ok):
    message: str
    data: CallingResumed


class CallPlacedResponse(_Ok):
    data: CallPlaced


class WebhookResult(_Strict):
    provider: str
    result: Literal["recorded", "unchanged", "unknown-call", "not-a-status-event"] = Field(
        description="recorded: the call took the status; unchanged: it already had this status or a later one; "
        "unknown-call: no call of ours has this provider call id; not-a-status-event: nothing to do"
    )


class WebhookAnswer(_Ok):
    message: str = Field(description="What the webhook changed, for a person to read")
    data: WebhookResult


class ProviderConnected(_Ok):
    message: str
    data: ProviderConnection


class ClientSettingsResponse(_Ok):
    message: str
    data: ClientLimits


class DncListed(_Ok):
    message: str
    data: list[DncEntry]


class DncFound(_Ok):
    data: DncEntry


class DncRemoved(_Ok):
    message: str
    data: DncEntry = Field(description="The entry as it was listed")


class DncPageResponse(_Ok):
    data: DncPage


class ErrorResponse(_Strict):
    success: Literal[False]
    message: str = Field(description="What is wrong, for a person to read")


class TimedOutData(_Strict):
    uniqueId: str = Field(description="The call's id in the call logs")


class TimedOutResponse(_Strict):
    success: Literal[False]
    message: str = Field(description="What timed out and how the call was logged")
    data: TimedOutData


class RetryAfter(_Strict):
    retryAfterSeconds: str = Field(description="Whole seconds after which a slot or a new second may be free")


class TooManyCallsResponse(_Strict):
    success: Literal[False]
    message: str = Field(description="Which of the client's limits is full")
    data: RetryAfter


class UnauthorizedResponse(_Strict):
    """The local engine answers a refused token with the error envelope; API Gateway's JWT
    authorizer answers `{"message": "Unauthorized"}` (no `success`)."""

    success: Literal[False] = False
    message: str


# -- responses= of the route decorators ----------------------------------------------

_ERRORS: dict[int, tuple[type[BaseModel], str]] = {
    400: (
        ErrorResponse,
        "Invalid request: malformed JSON, or a field or parameter that is invalid (the message names it)",
    ),
    401: (
        UnauthorizedResponse,
        "Missing, malformed, expired or wrongly signed bearer token; refused before the handler runs",
    ),
    403: (ErrorResponse, "The token does not carry the claim that names the client"),
    404: (ErrorResponse, "Not found (another client's resource is not found either)"),
    409: (ErrorResponse, "The campaign is in a state that forbids the operation"),
    415: (ErrorResponse, "The request body is not sent as JSON (Content-Type must be application/json)"),
    422: (ErrorResponse, "This Idempotency-Key was already used for a different request; use a new key"),
    429: (
        TooManyCallsResponse,
        "The client has as many calls in progress as its settings allow, or started as many this second; "
        "nothing was placed",
    ),
    503: (ErrorResponse, "A service the request needs is unavailable; try again"),
    504: (
        TimedOutResponse,
        "The telephony provider did not answer in time; the call is logged (`unknown` when it may have been placed)",
    ),
}

# Every route: a bad request, no valid token, a token without the client claim.
COMMON_ERRORS = (400, 401, 403)


def success(description: str, status: int = 200, *, model: type[BaseModel] | None = None) -> dict[int, OpenAPIResponse]:
    """The success answer; its schema is the route's return type unless ``model`` names it."""
    if model is None:
        return {status: {"description": description}}
    return {status: {"description": description, "content": {JSON: {"model": model}}}}


def errors(*statuses: int, **descriptions: str) -> dict[int, OpenAPIResponse]:
    """The error envelope for ``statuses`` (plus COMMON_ERRORS); ``descriptions`` override
    the default description of a status, keyed ``e404="campaign not found"``."""
    out: dict[int, OpenAPIResponse] = {}
    for status in sorted({*COMMON_ERRORS, *statuses}):
        model, description = _ERRORS[status]
        out[status] = {
            "description": descriptions.get(f"e{status}", description),
            "content": {JSON: {"model": model}},
        }
    return out
